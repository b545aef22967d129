//! Verifiers for third parties who hold no database: inclusion and consistency
//! proofs from hashes, and C2SP signed notes against a verifier key.
//! Exit 0 valid, 1 invalid, 2 malformed input (the offending argument named).

use std::path::PathBuf;

use clap::Args;
use warden_audit::merkle::{self, Hash};
use warden_audit::note::{self, VerifierKey};

pub const OFFLINE_HELP: &str = "\
Hashes are hex (64 digits) or base64 (as on a checkpoint's root line); proofs are
comma-separated hashes, from the leaf's sibling upwards (the order `warden audit
prove` prints). An empty proof is ''. Trust only a root taken from a checkpoint
whose signature you checked with the log's key, kept from before:

Examples:
  warden audit prove 41 > p.json                    # on the machine with the log
  jq -r .checkpoint p.json > cp.note
  warden audit verify-note --key \"$KEY\" cp.note
  warden audit verify-inclusion --leaf-hash $(jq -r .leaf_hash p.json) --index 41 \\
      --size $(sed -n 2p cp.note) --root $(sed -n 3p cp.note) \\
      --proof $(jq -r '.proof | join(\",\")' p.json)

Exit codes: 0 valid, 1 invalid, 2 malformed input.";

/// Arguments of `verify-inclusion`.
#[derive(Debug, Args)]
pub struct InclusionArgs {
    /// The leaf hash: SHA-256 of 0x00 followed by the entry's envelope.
    #[arg(long, value_name = "HEX")]
    leaf_hash: String,
    /// The entry's index (its sequence number).
    #[arg(long, value_name = "I")]
    index: String,
    /// The tree size the proof is for.
    #[arg(long, value_name = "N")]
    size: String,
    /// The root of that tree (from a checkpoint you trust).
    #[arg(long, value_name = "HEX")]
    root: String,
    /// The audit path.
    #[arg(long, value_name = "H1,H2,...", allow_hyphen_values = true)]
    proof: String,
}

/// Arguments of `verify-consistency`.
#[derive(Debug, Args)]
pub struct ConsistencyArgs {
    /// The older tree size.
    #[arg(long, value_name = "M")]
    old_size: String,
    /// The newer tree size.
    #[arg(long, value_name = "N")]
    new_size: String,
    /// The older root.
    #[arg(long, value_name = "HEX")]
    old_root: String,
    /// The newer root.
    #[arg(long, value_name = "HEX")]
    new_root: String,
    /// The consistency proof.
    #[arg(long, value_name = "H1,H2,...", allow_hyphen_values = true)]
    proof: String,
}

/// Arguments of `verify-note`.
#[derive(Debug, Args)]
pub struct NoteArgs {
    /// The verifier key: NAME+KEYID+BASE64 (as `warden audit key` prints).
    #[arg(long, value_name = "VERIFIER-KEY")]
    key: String,
    /// The signed note file (`-` for standard input).
    file: PathBuf,
}

const VALID: u8 = 0;
const INVALID: u8 = 1;
const MALFORMED: u8 = 2;

fn malformed(what: &str, why: impl std::fmt::Display) -> u8 {
    eprintln!("warden: malformed {what}: {why}");
    MALFORMED
}

/// A SHA-256 hash in hex (as proofs print it) or base64 (as a checkpoint's
/// root line has it).
fn parse_hash(what: &str, text: &str) -> Result<Hash, u8> {
    let t = text.trim();
    let bytes = if t.len() == 44 && t.ends_with('=') {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .decode(t)
            .map_err(|e| malformed(what, format!("{text:?} is not base64 ({e})")))?
    } else {
        hex::decode(t).map_err(|e| malformed(what, format!("{text:?} is not hex ({e})")))?
    };
    bytes.try_into().map_err(|b: Vec<u8>| {
        malformed(
            what,
            format!("{text:?} is {} bytes, a SHA-256 hash is 32", b.len()),
        )
    })
}

fn parse_u64(what: &str, text: &str) -> Result<u64, u8> {
    text.trim().parse().map_err(|e| {
        malformed(
            what,
            format!("{text:?} is not a non-negative integer ({e})"),
        )
    })
}

fn parse_proof(text: &str) -> Result<Vec<Hash>, u8> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(Vec::new());
    }
    text.split(',')
        .enumerate()
        .map(|(i, h)| parse_hash(&format!("--proof hash {}", i + 1), h))
        .collect()
}

fn outcome(result: Result<(), merkle::ProofError>, ok: &str) -> u8 {
    match result {
        Ok(()) => {
            println!("{ok}");
            VALID
        }
        Err(e) => {
            println!("INVALID: {e}");
            INVALID
        }
    }
}

pub fn inclusion(a: InclusionArgs) -> u8 {
    let parsed = (|| {
        Ok::<_, u8>((
            parse_hash("--leaf-hash", &a.leaf_hash)?,
            parse_u64("--index", &a.index)?,
            parse_u64("--size", &a.size)?,
            parse_hash("--root", &a.root)?,
            parse_proof(&a.proof)?,
        ))
    })();
    let (leaf, index, size, root, proof) = match parsed {
        Ok(p) => p,
        Err(code) => return code,
    };
    outcome(
        merkle::verify_inclusion(&leaf, index, size, &proof, &root),
        &format!(
            "valid: leaf {index} is in the tree of {size} entries with root {}",
            a.root.trim()
        ),
    )
}

pub fn consistency(a: ConsistencyArgs) -> u8 {
    let parsed = (|| {
        Ok::<_, u8>((
            parse_u64("--old-size", &a.old_size)?,
            parse_u64("--new-size", &a.new_size)?,
            parse_hash("--old-root", &a.old_root)?,
            parse_hash("--new-root", &a.new_root)?,
            parse_proof(&a.proof)?,
        ))
    })();
    let (old, new, old_root, new_root, proof) = match parsed {
        Ok(p) => p,
        Err(code) => return code,
    };
    outcome(
        merkle::verify_consistency(old, new, &proof, &old_root, &new_root),
        &format!("valid: the tree of {old} entries is a prefix of the tree of {new}"),
    )
}

pub fn note(a: NoteArgs) -> u8 {
    let key: VerifierKey = match a.key.parse() {
        Ok(k) => k,
        Err(e) => return malformed("--key", e),
    };
    let text = if a.file.as_os_str() == "-" {
        let mut s = Vec::new();
        match std::io::Read::read_to_end(&mut std::io::stdin(), &mut s) {
            Ok(_) => s,
            Err(e) => return malformed("note", format!("standard input: {e}")),
        }
    } else {
        match std::fs::read(&a.file) {
            Ok(s) => s,
            Err(e) => return malformed("note", format!("{}: {e}", a.file.display())),
        }
    };
    match note::open(&text, std::slice::from_ref(&key)) {
        Ok(opened) => {
            println!("valid: signed by {}+{:08x}", key.name(), key.id());
            print!("{}", opened.text);
            VALID
        }
        Err(e @ note::NoteError::Malformed(_)) => malformed("note", e),
        Err(e) => {
            println!("INVALID: {e}");
            INVALID
        }
    }
}
