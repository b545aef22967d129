//! Retention by crypto-shredding, bundles for offline verification, and the
//! OCSF export, on real logs.

use std::io::BufReader;

use warden_audit::bundle::{verify_bundle, write_bundle};
use warden_audit::export::to_ocsf;
use warden_audit::record::Content;
use warden_audit::verify::{Problem, VerifyOptions, verify_log};
use warden_audit::{AuditLog, AuditReader, Options};

use crate::support::{Home, action, fast, fill, verdict};

fn small_segments() -> Options {
    Options {
        segment_max_entries: 100,
        ..fast()
    }
}

#[test]
fn shredded_segments_stay_verifiable_but_unreadable() {
    let home = Home::new();
    let log = AuditLog::open(&home.path, small_segments()).unwrap();
    for i in 0..350 {
        log.append(&action(i), &verdict(i)).unwrap();
    }
    // Everything closed so far is older than "now + 1 s"; the open segment is kept.
    let cutoff = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
        + 1000;
    let shredded = log.shred_before(cutoff).unwrap();
    assert_eq!(shredded.segments, vec![0, 1, 2]);
    assert!(shredded.wal_cleared);
    // The log keeps appending after retention.
    log.append(&action(350), &verdict(350)).unwrap();
    log.close().unwrap();

    let mut reader = AuditReader::open(&home.path).unwrap();
    let report = verify_log(&mut reader).unwrap();
    assert!(report.intact(), "{:?}", report.problems);
    let mut dec = reader.decryptor().unwrap();
    let (mut gone, mut readable) = (0, 0);
    reader
        .for_each(0, u64::MAX, &mut dec, |e| {
            match e.content {
                Content::Shredded => {
                    assert!(e.seq < 300, "entry {} shredded", e.seq);
                    gone += 1;
                }
                Content::Record(_) => {
                    assert!(e.seq >= 300, "entry {} still readable", e.seq);
                    readable += 1;
                }
                other => panic!("{other:?}"),
            }
            true
        })
        .unwrap();
    assert_eq!((gone, readable), (300, 51));
    // The erased keys are gone from the file, not just unlinked.
    let conn = rusqlite::Connection::open(home.db()).unwrap();
    let left: i64 = conn
        .query_row(
            "SELECT count(*) FROM segments WHERE wrapped_key IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(left, 1);
}

#[test]
fn a_bundle_verifies_elsewhere_and_its_tampering_is_named() {
    let home = Home::new();
    fill(&home, 0, 700);
    let mut reader = AuditReader::open(&home.path).unwrap();
    let key = reader.verifier().clone();
    let mut bytes = Vec::new();
    let summary = write_bundle(&mut reader, &mut bytes, false).unwrap();
    assert_eq!(summary.entries, 700);
    let pinned = VerifyOptions {
        trusted_key: Some(key.clone()),
        ..VerifyOptions::default()
    };
    // The bundle alone, no database, no keys: intact.
    let report = verify_bundle(&mut BufReader::new(&bytes[..]), &pinned).unwrap();
    assert!(report.intact(), "{:?}", report.problems);
    assert_eq!(report.entries, 700);
    assert_eq!(report.authenticated, 0);

    // Drop entry 300's line: named missing.
    let text = String::from_utf8(bytes.clone()).unwrap();
    let cut: String = text
        .lines()
        .filter(|l| !l.starts_with("{\"seq\":300,"))
        .map(|l| format!("{l}\n"))
        .collect();
    let report = verify_bundle(&mut BufReader::new(cut.as_bytes()), &pinned).unwrap();
    assert_eq!(report.problems[0], Problem::Missing { seq: 300, count: 1 });

    // A different key pinned: the bundle is not this log's.
    let other = warden_audit::note::SignerKey::from_seed(key.name(), &[9; 32]).unwrap();
    let report = verify_bundle(
        &mut BufReader::new(&bytes[..]),
        &VerifyOptions {
            trusted_key: Some(other.verifier()),
            ..VerifyOptions::default()
        },
    )
    .unwrap();
    assert!(
        matches!(report.problems[0], Problem::Replaced { .. }),
        "{:?}",
        report.problems
    );
}

#[test]
fn a_bundle_with_revealed_keys_authenticates_every_record() {
    let home = Home::new();
    fill(&home, 0, 50);
    let mut reader = AuditReader::open(&home.path).unwrap();
    let mut bytes = Vec::new();
    let summary = write_bundle(&mut reader, &mut bytes, true).unwrap();
    assert_eq!(summary.keys, 1);
    let report = verify_bundle(&mut BufReader::new(&bytes[..]), &VerifyOptions::default()).unwrap();
    assert!(report.intact(), "{:?}", report.problems);
    assert_eq!(report.authenticated, 50);
    assert!(
        report.remarks.iter().any(|r| r.contains("--key")),
        "{:?}",
        report.remarks
    );
}

#[test]
fn ocsf_events_carry_class_decision_seq_and_leaf_hash() {
    let home = Home::new();
    fill(&home, 0, 8);
    let reader = AuditReader::open(&home.path).unwrap();
    let mut dec = reader.decryptor().unwrap();
    let mut events = Vec::new();
    reader
        .for_each(0, u64::MAX, &mut dec, |e| {
            events.push((
                e.seq,
                hex::encode(e.leaf_hash),
                to_ocsf(&e, reader.origin()).unwrap(),
            ));
            true
        })
        .unwrap();
    let classes: Vec<u64> = events
        .iter()
        .map(|(_, _, v)| v["class_uid"].as_u64().unwrap())
        .collect();
    // shell, file write, https GET, MCP tool call, repeating.
    assert_eq!(
        classes,
        vec![1007, 1001, 4002, 6003, 1007, 1001, 4002, 6003]
    );
    for (seq, leaf, v) in &events {
        assert_eq!(v["metadata"]["sequence"], *seq);
        assert_eq!(v["metadata"]["uid"], *leaf);
        assert_eq!(
            v["type_uid"].as_u64().unwrap(),
            v["class_uid"].as_u64().unwrap() * 100 + v["activity_id"].as_u64().unwrap()
        );
        let decision = verdict(*seq).decision;
        let want = match decision {
            warden_types::Decision::Allow => 1,
            warden_types::Decision::Deny => 2,
            warden_types::Decision::Ask => 0,
        };
        assert_eq!(v["action_id"], want, "{v}");
    }
    assert_eq!(
        events[0].2["process"]["cmd_line"],
        "git commit -m 'change 0'"
    );
    assert_eq!(events[1].2["file"]["path"], "src/file1.rs");
    assert_eq!(
        events[2].2["http_request"]["url"]["url_string"],
        "https://example.org/2"
    );
    assert_eq!(events[3].2["api"]["service"]["name"], "github");
}
