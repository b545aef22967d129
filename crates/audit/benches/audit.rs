//! Criterion benchmarks of the audit hot paths, piece by piece: encoding a
//! record, sealing it, hashing it, proving and checking proofs, signing a
//! checkpoint. `warden audit bench` measures the whole append path end to end
//! (SQLite, fsync) and full verification.
// Benchmark code: a failing setup is a broken benchmark.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use warden_audit::checkpoint::Checkpoint;
use warden_audit::crypto::{SecretKey, entry_aad};
use warden_audit::merkle::{self, Frontier};
use warden_audit::note::SignerKey;
use warden_audit::record;
use warden_types::{Action, ActionKind, Decision, Verdict};

fn sample() -> (Action, Verdict) {
    let mut a = Action::new(
        "/work/project",
        ActionKind::ToolCall {
            server: "github".into(),
            tool: "create_issue".into(),
            arguments: serde_json::json!({"title": "bench", "labels": ["a", "b"], "n": 1.5}),
        },
    );
    a.agent.name = "claude-code".into();
    a.session = "session-1".into();
    let mut v = Verdict::malformed("");
    v.decision = Decision::Allow;
    v.rules = vec!["default:autonomy".into()];
    v.reason = "allowed at autonomy delegated".into();
    (a, v)
}

fn benches(c: &mut Criterion) {
    let (a, v) = sample();
    c.bench_function("record encode (RFC 8785)", |b| {
        b.iter(|| record::encode(black_box(&a), black_box(&v)).unwrap())
    });
    c.bench_function("serde_json::to_value of the record", |b| {
        b.iter(|| serde_json::to_value(black_box((&a, &v))).unwrap())
    });
    let value = serde_json::to_value((&a, &v)).unwrap();
    c.bench_function("jcs of a Value", |b| {
        b.iter(|| warden_audit::jcs::to_vec(black_box(&value)))
    });
    c.bench_function("serde_json::to_vec of the record (not canonical)", |b| {
        b.iter(|| serde_json::to_vec(black_box(&(&a, &v))).unwrap())
    });
    let body = record::encode(&a, &v).unwrap();
    let sealer = SecretKey::generate().unwrap().cipher();
    let header = [1u8; 38];
    let aad = entry_aad("warden/bench", &header);
    let nonce = [7u8; 12];
    c.bench_function("seal record (AES-256-GCM)", |b| {
        b.iter(|| {
            let mut buf = body.clone();
            sealer
                .seal_in_place(black_box(&nonce), &aad, &mut buf)
                .unwrap()
        })
    });
    let envelope = [header.to_vec(), nonce.to_vec(), body.clone()].concat();
    c.bench_function("leaf hash", |b| {
        b.iter(|| merkle::leaf_hash(black_box(&envelope)))
    });

    let leaves: Vec<Vec<u8>> = (0..100_000u32).map(|i| i.to_be_bytes().to_vec()).collect();
    let mut f = Frontier::new();
    for l in &leaves {
        f.push(merkle::leaf_hash(l), |_| {});
    }
    let root = f.root();
    c.bench_function("frontier push + root", |b| {
        b.iter(|| {
            let mut g = f.clone();
            g.push(merkle::leaf_hash(b"x"), |_| {});
            g.root()
        })
    });
    let mut data = leaves[..4096].to_vec();
    c.bench_function("inclusion proof (4,096 leaves in memory)", |b| {
        b.iter(|| merkle::inclusion_proof(data.as_mut_slice(), black_box(1234), 4096).unwrap())
    });
    let proof = merkle::inclusion_proof(leaves.clone().as_mut_slice(), 77_777, 100_000).unwrap();
    let leaf = merkle::leaf_hash(&leaves[77_777]);
    c.bench_function("verify inclusion (100,000 leaves)", |b| {
        b.iter(|| {
            merkle::verify_inclusion(&leaf, 77_777, 100_000, black_box(&proof), &root).unwrap()
        })
    });
    let signer = SignerKey::from_seed("warden/bench", &[3u8; 32]).unwrap();
    let cp = Checkpoint {
        origin: "warden/bench".into(),
        size: 100_000,
        root,
    };
    c.bench_function("sign checkpoint (Ed25519)", |b| {
        b.iter(|| cp.sign(black_box(&signer)).unwrap())
    });
    let note = cp.sign(&signer).unwrap().note;
    let key = signer.verifier();
    c.bench_function("open checkpoint note", |b| {
        b.iter(|| {
            warden_audit::note::open(black_box(note.as_bytes()), std::slice::from_ref(&key))
                .unwrap()
        })
    });
}

criterion_group!(audit, benches);
criterion_main!(audit);
