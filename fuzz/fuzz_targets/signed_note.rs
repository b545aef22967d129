//! Signed notes (checkpoints) arrive from files users keep, from bundles, and
//! from other logs: the note, checkpoint and key parsers must accept or reject
//! any input without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warden_audit::checkpoint::{Checkpoint, SignedCheckpoint};
use warden_audit::note::{self, SignerKey, VerifierKey};

fuzz_target!(|data: &[u8]| {
    let signer = SignerKey::from_seed("warden/fuzz", &[7u8; 32]).expect("valid name");
    let key = signer.verifier();
    let _ = note::open(data, std::slice::from_ref(&key));
    let _ = note::open(data, &[]);
    let text = String::from_utf8_lossy(data);
    let _ = Checkpoint::parse_body(&text);
    let _ = SignedCheckpoint::open(&text, &key);
    let _ = SignedCheckpoint::parse_unverified(&text);
    let _ = text.parse::<VerifierKey>();
    let _ = SignerKey::parse(&text);
    // Whatever text signs must open again with the same key.
    if let Ok(signed) = signer.sign(&text) {
        let opened = note::open(signed.as_bytes(), std::slice::from_ref(&key));
        assert!(opened.is_ok(), "a note we signed does not open: {opened:?}");
    }
});
