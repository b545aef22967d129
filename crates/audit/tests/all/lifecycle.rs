//! Append, reopen, read back, prove, verify: the life of a log.

use warden_audit::merkle::{self, Hash};
use warden_audit::verify::verify_log;
use warden_audit::{AuditError, AuditLog, AuditReader};

use crate::support::{Home, action, fast, fill, verdict};

fn unhex(s: &str) -> Hash {
    hex::decode(s).unwrap().try_into().unwrap()
}

#[test]
fn append_returns_a_receipt_whose_proof_verifies() {
    let home = Home::new();
    let log = home.open();
    let mut receipts = Vec::new();
    for i in 0..300 {
        receipts.push(log.append(&action(i), &verdict(i)).unwrap());
    }
    assert_eq!(receipts[299].seq, 299);
    assert_eq!(receipts[299].checkpoint.checkpoint.size, 300);
    // The daemon's view: proofs and verification while the writer is open.
    let p = log.prove(42).unwrap();
    assert_eq!(p.leaf_hash, hex::encode(receipts[42].leaf_hash));
    assert!(log.verify().unwrap().intact());
    log.close().unwrap();

    let mut reader = AuditReader::open(&home.path).unwrap();
    for seq in [0u64, 1, 255, 256, 299] {
        let p = reader.prove(seq, None).unwrap();
        assert_eq!(p.leaf_hash, hex::encode(receipts[seq as usize].leaf_hash));
        let proof: Vec<Hash> = p.proof.iter().map(|h| unhex(h)).collect();
        merkle::verify_inclusion(
            &unhex(&p.leaf_hash),
            seq,
            p.tree_size,
            &proof,
            &unhex(&p.root),
        )
        .unwrap();
        // The receipt's checkpoint is a prefix of the latest: consistency holds.
        let r = &receipts[seq as usize].checkpoint.checkpoint;
        let c = reader.prove_consistency(r.size, None).unwrap();
        let proof: Vec<Hash> = c.proof.iter().map(|h| unhex(h)).collect();
        merkle::verify_consistency(r.size, 300, &proof, &r.root, &unhex(&c.new_root)).unwrap();
    }
    let report = verify_log(&mut reader).unwrap();
    assert!(report.intact(), "{:?}", report.problems);
    assert_eq!(report.entries, 300);
}

#[test]
fn reopened_log_continues_the_same_tree() {
    let home = Home::new();
    fill(&home, 0, 700);
    fill(&home, 700, 333);
    let mut reader = AuditReader::open(&home.path).unwrap();
    let cp = reader.checkpoint().unwrap();
    assert_eq!(cp.checkpoint.size, 1033);
    let report = verify_log(&mut reader).unwrap();
    assert!(report.intact(), "{:?}", report.problems);
    // Everything decrypts back to what was appended, in order.
    let mut dec = reader.decryptor().unwrap();
    let mut n = 0u64;
    reader
        .for_each(0, u64::MAX, &mut dec, |e| {
            let r = e.record().expect("decrypts");
            assert_eq!(r.action, action(e.seq));
            assert_eq!(r.verdict.reason, verdict(e.seq).reason);
            n += 1;
            true
        })
        .unwrap();
    assert_eq!(n, 1033);
}

#[test]
fn a_second_writer_is_refused_while_the_first_runs() {
    let home = Home::new();
    let first = home.open();
    match AuditLog::open(&home.path, fast()) {
        Err(AuditError::InUse(p)) => assert!(p.ends_with("audit.lock")),
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("two writers on one log"),
    }
    // Readers are fine meanwhile.
    first.append(&action(0), &verdict(0)).unwrap();
    assert_eq!(
        AuditReader::open(&home.path)
            .unwrap()
            .checkpoint()
            .unwrap()
            .checkpoint
            .size,
        1
    );
}

#[test]
fn a_log_that_disagrees_with_its_checkpoint_is_not_appended_to() {
    let home = Home::new();
    fill(&home, 0, 10);
    home.sql("DELETE FROM entries WHERE seq = 9;");
    match AuditLog::open(&home.path, fast()) {
        Err(AuditError::Inconsistent { what, .. }) => {
            assert!(
                what.contains("covers 10 entries but the database holds 9"),
                "{what}"
            )
        }
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("opened a truncated log for appending"),
    }
}

#[test]
fn records_are_not_readable_in_the_file() {
    let home = Home::new();
    fill(&home, 0, 20);
    let bytes = std::fs::read(home.db()).unwrap();
    let wal = std::fs::read(home.path.join("audit.db-wal")).unwrap_or_default();
    // The header (sequence, time, segment, interceptor) is cleartext by design;
    // everything the agent did is sealed.
    for needle in [
        "git commit",
        "create_issue",
        "example.org",
        "sess-0",
        "reason 1",
        "act-1",
    ] {
        let hit = |b: &[u8]| b.windows(needle.len()).any(|w| w == needle.as_bytes());
        assert!(!hit(&bytes) && !hit(&wal), "{needle} in cleartext");
    }
}
