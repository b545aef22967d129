//! Public test vectors, vendored under `tests/vectors/` with their sources and
//! licences (see the SOURCE.md files there): transparency-dev's RFC 6962 proof
//! vectors (valid and invalid), its reference tree, Go's sumdb/note vectors, and
//! C2SP checkpoints signed by real logs.

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::Value;
use warden_audit::checkpoint::Checkpoint;
use warden_audit::merkle::{self, Frontier, Hash};
use warden_audit::note::{self, NoteError, SignerKey, VerifierKey};

fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

fn json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn files(dir: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for sub in std::fs::read_dir(vectors().join(dir)).unwrap() {
        let sub = sub.unwrap().path();
        for f in std::fs::read_dir(&sub).unwrap() {
            out.push(f.unwrap().path());
        }
    }
    out.sort();
    out
}

/// A 32-byte hash from base64; `None` when the vector holds something else
/// (the malformed cases use 9-byte "hashes", which must then fail).
fn hash(v: &Value) -> Option<Hash> {
    B64.decode(v.as_str()?).ok()?.try_into().ok()
}

fn proof(v: &Value) -> Option<Vec<Hash>> {
    match v {
        Value::Null => Some(Vec::new()),
        Value::Array(items) => items.iter().map(hash).collect(),
        _ => None,
    }
}

#[test]
fn transparency_dev_inclusion_vectors() {
    let all = files("transparency-dev/inclusion");
    assert!(all.len() >= 50, "{} files", all.len());
    let (mut valid, mut invalid) = (0, 0);
    for f in all {
        let v = json(&f);
        let want_err = v["wantErr"].as_bool().unwrap();
        let index = v["leafIdx"].as_u64().unwrap();
        let size = v["treeSize"].as_u64().unwrap();
        let got = match (hash(&v["leafHash"]), hash(&v["root"]), proof(&v["proof"])) {
            (Some(leaf), Some(root), Some(p)) => {
                merkle::verify_inclusion(&leaf, index, size, &p, &root).is_ok()
            }
            _ => false,
        };
        assert_eq!(got, !want_err, "{}: {}", f.display(), v["desc"]);
        if want_err { invalid += 1 } else { valid += 1 }
    }
    println!("inclusion vectors: {valid} valid, {invalid} invalid, all as expected");
}

#[test]
fn transparency_dev_consistency_vectors() {
    let all = files("transparency-dev/consistency");
    assert!(all.len() >= 60, "{} files", all.len());
    let (mut valid, mut invalid) = (0, 0);
    for f in all {
        let v = json(&f);
        let want_err = v["wantErr"].as_bool().unwrap();
        let s1 = v["size1"].as_u64().unwrap();
        let s2 = v["size2"].as_u64().unwrap();
        let got = match (hash(&v["root1"]), hash(&v["root2"]), proof(&v["proof"])) {
            (Some(r1), Some(r2), Some(p)) => {
                merkle::verify_consistency(s1, s2, &p, &r1, &r2).is_ok()
            }
            _ => false,
        };
        assert_eq!(got, !want_err, "{}: {}", f.display(), v["desc"]);
        if want_err { invalid += 1 } else { valid += 1 }
    }
    println!("consistency vectors: {valid} valid, {invalid} invalid, all as expected");
}

#[test]
fn transparency_dev_reference_tree() {
    let v = json(&vectors().join("transparency-dev/reference-tree.json"));
    let unhex = |s: &Value| -> Hash {
        hex::decode(s.as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap()
    };
    let leaves: Vec<Vec<u8>> = v["leaf_inputs_hex"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| hex::decode(s.as_str().unwrap()).unwrap())
        .collect();
    let roots: Vec<Hash> = v["root_hashes_hex"]
        .as_array()
        .unwrap()
        .iter()
        .map(unhex)
        .collect();
    assert_eq!(roots[0], merkle::empty_root());
    let mut f = Frontier::new();
    let mut nodes = Vec::new();
    for (i, leaf) in leaves.iter().enumerate() {
        f.push(merkle::leaf_hash(leaf), |n| nodes.push(n));
        assert_eq!(f.root(), roots[i + 1], "root of size {}", i + 1);
    }
    for (level, row) in v["node_hashes_hex"].as_array().unwrap().iter().enumerate() {
        for (index, h) in row.as_array().unwrap().iter().enumerate() {
            let n = nodes
                .iter()
                .find(|n| n.level == level as u32 && n.index == index as u64)
                .unwrap();
            assert_eq!(n.hash, unhex(h), "node {level}/{index}");
        }
    }
    // Proofs built from the same leaves check against the reference roots.
    let mut data = leaves.clone();
    for size in 1..=leaves.len() as u64 {
        for index in 0..size {
            let p = merkle::inclusion_proof(data.as_mut_slice(), index, size).unwrap();
            merkle::verify_inclusion(
                &merkle::leaf_hash(&leaves[index as usize]),
                index,
                size,
                &p,
                &roots[size as usize],
            )
            .unwrap();
        }
        for old in 0..=size {
            let p = merkle::consistency_proof(data.as_mut_slice(), old, size).unwrap();
            merkle::verify_consistency(old, size, &p, &roots[old as usize], &roots[size as usize])
                .unwrap();
        }
    }
}

fn notes() -> Value {
    json(&vectors().join("sumdb-note/vectors.json"))
}

fn keys(v: &Value) -> Vec<VerifierKey> {
    let mut out = Vec::new();
    if let Some(list) = v["vkeys"].as_array() {
        out.extend(list.iter().map(|k| k.as_str().unwrap().parse().unwrap()));
    } else if let Some(k) = v["vkey"].as_str() {
        out.push(k.parse().unwrap());
    }
    out
}

#[test]
fn go_verifier_and_signer_keys() {
    let v = notes();
    for k in v["verifier_keys"].as_array().unwrap() {
        let text = k["vkey"].as_str().unwrap();
        let parsed = text.parse::<VerifierKey>();
        assert_eq!(
            parsed.is_ok(),
            k["valid"].as_bool().unwrap(),
            "{text}: {parsed:?}"
        );
        if let Ok(p) = parsed {
            assert_eq!(p.name(), k["name"].as_str().unwrap());
            assert_eq!(format!("{:08x}", p.id()), k["hash_hex"].as_str().unwrap());
            assert_eq!(p.to_string(), text);
        }
    }
    // TestNewVerifier: every proper substring and every byte+1 mutation fails.
    let peter = v["verifier_keys"][0]["vkey"]
        .as_str()
        .unwrap()
        .as_bytes()
        .to_vec();
    let rejects =
        |b: &[u8]| std::str::from_utf8(b).map_or(true, |s| s.parse::<VerifierKey>().is_err());
    for i in 0..peter.len() {
        for j in i + 1..=peter.len() {
            if (i, j) != (0, peter.len()) {
                assert!(rejects(&peter[i..j]), "substring {i}..{j}");
            }
        }
        let mut m = peter.clone();
        m[i] = m[i].wrapping_add(1);
        assert!(rejects(&m), "mutation at {i}");
    }
    for s in v["signer_keys"].as_array().unwrap() {
        let signer = SignerKey::parse(s["skey"].as_str().unwrap()).unwrap();
        assert_eq!(signer.verifier().to_string(), s["vkey"].as_str().unwrap());
        assert_eq!(&*signer.to_secret_text(), s["skey"].as_str().unwrap());
        let skey = s["skey"].as_str().unwrap().as_bytes();
        for i in 0..skey.len() {
            let mut m = skey.to_vec();
            m[i] = m[i].wrapping_add(1);
            let ok = std::str::from_utf8(&m).is_ok_and(|t| SignerKey::parse(t).is_ok());
            assert!(!ok, "signer mutation at {i}");
        }
    }
}

#[test]
fn go_signed_notes_sign_and_open() {
    let v = notes();
    let signer = SignerKey::parse(v["signer_keys"][0]["skey"].as_str().unwrap()).unwrap();
    for g in v["good_notes"].as_array().unwrap() {
        let signed = g["signed"].as_str().unwrap();
        let opened = note::open(signed.as_bytes(), &keys(g))
            .unwrap_or_else(|e| panic!("{}: {e}", g["note"]));
        assert_eq!(opened.text, g["text"].as_str().unwrap());
        let names = |list: &Value| -> Vec<String> {
            list.as_array()
                .unwrap()
                .iter()
                .map(|s| s["name"].as_str().unwrap().to_string())
                .collect()
        };
        let verified: Vec<String> = opened.verified.iter().map(|(n, _)| n.clone()).collect();
        let unverified: Vec<String> = opened.unverified.iter().map(|(n, _)| n.clone()).collect();
        assert_eq!(verified, names(&g["expect_sigs"]), "{}", g["note"]);
        assert_eq!(unverified, names(&g["expect_unverified"]), "{}", g["note"]);
    }
    // Ed25519 is deterministic: our signature is byte-identical to Go's.
    let first = &v["good_notes"][0];
    assert_eq!(
        signer.sign(first["text"].as_str().unwrap()).unwrap(),
        first["signed"].as_str().unwrap()
    );
    assert!(matches!(signer.sign("abc"), Err(NoteError::Malformed(_))));
}

#[test]
fn go_bad_notes_are_refused_for_the_reason_go_gives() {
    let v = notes();
    let mut checked = 0;
    for b in v["bad_notes"].as_array().unwrap() {
        let bytes = match b["signed"].as_str() {
            Some(s) => s.as_bytes().to_vec(),
            None => B64.decode(b["signed_b64"].as_str().unwrap()).unwrap(),
        };
        let expected = b["expected_error"].as_str().unwrap();
        let got = note::open(&bytes, &keys(b));
        let ok = match &got {
            Err(NoteError::Malformed(_)) => expected == "malformed note",
            Err(NoteError::NotSignedByKnownKey { .. }) => {
                // Go's fixedVerifier cases ("name or hash doesn't match") come out
                // as "not signed by a known key" through a key list, as Go's own
                // VerifierList does.
                expected == "note has no verifiable signatures"
                    || expected == "verifier name or hash doesn't match signature"
            }
            Err(NoteError::InvalidSignature { .. }) => expected.starts_with("invalid signature"),
            Err(NoteError::AmbiguousKey { .. }) => expected.starts_with("ambiguous key"),
            _ => false,
        };
        assert!(ok, "{}: got {got:?}, Go says {expected}", b["why"]);
        checked += 1;
    }
    assert_eq!(checked, 15);
}

#[test]
fn real_checkpoints_verify_and_bodies_parse_as_c2sp_says() {
    let v = notes();
    let mut verified = 0;
    for c in v["checkpoints"].as_array().unwrap() {
        let signed = c["signed"].as_str().unwrap();
        let body = signed
            .rsplit_once("\n\n")
            .map(|(t, _)| format!("{t}\n"))
            .unwrap();
        let parsed =
            Checkpoint::parse_body(&body).unwrap_or_else(|e| panic!("{}: {e}", c["source"]));
        assert_eq!(parsed.origin, c["origin"].as_str().unwrap());
        assert_eq!(parsed.size, c["size"].as_u64().unwrap());
        assert_eq!(
            B64.encode(parsed.root),
            c["root_hash_b64"].as_str().unwrap()
        );
        if c["verifiable"] == Value::Bool(true) {
            let key: VerifierKey = c["vkey"].as_str().unwrap().parse().unwrap();
            note::open(signed.as_bytes(), &[key])
                .unwrap_or_else(|e| panic!("{}: {e}", c["source"]));
            verified += 1;
        }
    }
    assert!(verified >= 3);
    for c in v["checkpoint_bodies"].as_array().unwrap() {
        let body = c["body"].as_str().unwrap();
        let source = c["source"].as_str().unwrap();
        // What a C2SP parser with SHA-256 roots must do (Go's fixed origin does
        // not apply to checkpoints in general).
        let expect = c["valid_strict_sha256"]
            .as_bool()
            .or(c["valid_c2sp"].as_bool())
            .unwrap_or(source.contains("badTrees[0]") || c["valid"].as_bool().unwrap_or(false));
        assert_eq!(
            Checkpoint::parse_body(body).is_ok(),
            expect,
            "{source}: {body:?}"
        );
    }
}
