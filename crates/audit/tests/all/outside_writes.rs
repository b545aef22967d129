//! Writes to the state directory that did not come through the writer: rows
//! added, keys erased or moved, the witness or the database removed, stored
//! tree nodes rewritten. Each is refused by the writer or named by `verify`.

use std::fs;

use warden_audit::verify::{Problem, verify_log};
use warden_audit::{AuditError, AuditLog, AuditReader};

use crate::support::{Home, action, fast, fill, verdict};

fn problems(home: &Home) -> Vec<Problem> {
    let mut reader = AuditReader::open(&home.path).unwrap();
    let report = verify_log(&mut reader).unwrap();
    println!("{:#?}", report.problems);
    report.problems
}

fn refused(home: &Home) -> String {
    match AuditLog::open(&home.path, fast()) {
        Err(AuditError::Inconsistent { what, .. }) => what,
        Err(e) => panic!("refused for another reason: {e}"),
        Ok(_) => panic!("the writer opened a log it must refuse"),
    }
}

/// `n` entries in segments of 50.
fn fill_small_segments(home: &Home, n: u64) {
    let options = warden_audit::Options {
        segment_max_entries: 50,
        ..fast()
    };
    let log = AuditLog::open(&home.path, options).unwrap();
    for i in 0..n {
        log.append(&action(i), &verdict(i)).unwrap();
    }
    log.close().unwrap();
}

#[test]
fn a_row_inserted_after_the_head_is_named_unsigned() {
    let home = Home::new();
    fill(&home, 0, 300);
    // No trigger stops an INSERT: a copy of a genuine envelope, relabelled.
    home.sql(
        "INSERT INTO entries (seq, envelope) SELECT 300, envelope FROM entries WHERE seq = 299;",
    );
    // Named twice over: not covered by any signature, and a copy of entry 299.
    let found = problems(&home);
    assert!(
        found.contains(&Problem::Unsigned {
            from: 300,
            count: 1
        }),
        "{found:#?}"
    );
    assert!(
        found.contains(&Problem::Reordered {
            row: 300,
            holds: 299
        }),
        "{found:#?}"
    );
    assert!(refused(&home).contains("covers 300 entries but the database holds 301"));
}

#[test]
fn a_witness_ahead_of_the_database_stops_the_writer() {
    let home = Home::new();
    fill(&home, 0, 100);
    let copy = home.path.join("old.db");
    fs::copy(home.db(), &copy).unwrap();
    fill(&home, 100, 100);
    fs::copy(&copy, home.db()).unwrap();
    // Appending now would overwrite the only local evidence of the rollback.
    assert!(refused(&home).contains("rolled back"));
}

#[test]
fn a_deleted_database_is_not_silently_restarted() {
    let home = Home::new();
    fill(&home, 0, 10);
    fs::remove_file(home.db()).unwrap();
    assert!(refused(&home).contains("the database is missing"));
}

#[test]
fn erased_or_moved_segment_keys_are_named() {
    let home = Home::new();
    fill_small_segments(&home, 160);
    // Erased without a retention record.
    home.sql("UPDATE segments SET wrapped_key = NULL WHERE id = 1;");
    assert!(
        problems(&home)
            .iter()
            .any(|p| matches!(p, Problem::BadSegment { segment: 1, why }
        if why.contains("without a retention record")))
    );
    // Swapped between two segments: neither opens where it now sits.
    home.sql(
        "CREATE TEMP TABLE k AS SELECT id, wrapped_key FROM segments;
         UPDATE segments SET wrapped_key = (SELECT wrapped_key FROM k WHERE id = 2) WHERE id = 0;
         UPDATE segments SET wrapped_key = (SELECT wrapped_key FROM k WHERE id = 0) WHERE id = 2;",
    );
    let found = problems(&home);
    for id in [0, 2] {
        assert!(
            found
                .iter()
                .any(|p| matches!(p, Problem::BadSegment { segment, why }
            if *segment == id && why.contains("does not open"))),
            "{found:#?}"
        );
    }
    // Not a flood of "edited" entries: the segment is what is wrong.
    assert!(
        !found.iter().any(|p| matches!(p, Problem::Edited { .. })),
        "{found:#?}"
    );
}

#[test]
fn a_moved_segment_start_is_named_and_stops_the_writer() {
    let home = Home::new();
    fill_small_segments(&home, 120);
    home.sql("UPDATE segments SET first_seq = 110 WHERE id = 2;");
    assert!(
        problems(&home)
            .iter()
            .any(|p| matches!(p, Problem::BadSegment { segment: 2, why }
        if why.contains("starts at entry 110")))
    );
    assert!(refused(&home).contains("segment 2 does not start at entry 110"));
}

#[test]
fn proofs_are_refused_when_the_stored_tree_was_rewritten() {
    let home = Home::new();
    fill(&home, 0, 600);
    home.sql("UPDATE nodes SET hash = zeroblob(32) WHERE level = 8 AND idx = 0;");
    let mut reader = AuditReader::open(&home.path).unwrap();
    match reader.prove(3, None) {
        Err(AuditError::Inconsistent { what, .. }) => {
            assert!(what.contains("not the one the log signed"))
        }
        other => panic!("{other:?}"),
    }
    assert!(problems(&home).iter().any(|p| matches!(
        p,
        Problem::BadNode {
            level: 8,
            index: 0,
            ..
        }
    )));
}

#[test]
fn a_node_row_out_of_range_is_damage_not_an_error() {
    let home = Home::new();
    fill(&home, 0, 10);
    home.sql(
        "INSERT INTO nodes (level, idx, hash) VALUES (-1, 0, x'00');
              INSERT INTO nodes (level, idx, hash) VALUES (70, -5, x'00');",
    );
    let found = problems(&home);
    assert_eq!(
        found
            .iter()
            .filter(|p| matches!(p, Problem::Corrupt(_)))
            .count(),
        2,
        "{found:#?}"
    );
}

#[test]
fn a_panicking_completion_does_not_stop_the_log() {
    let home = Home::new();
    let log = home.open();
    log.submit(&action(0), &verdict(0), |_| panic!("a careless caller"))
        .unwrap();
    log.flush().unwrap();
    // The writer is alive and not failed: later appends are acknowledged.
    let r = log.append(&action(1), &verdict(1)).unwrap();
    assert_eq!(r.seq, 1);
    log.close().unwrap();
    assert!(problems(&home).is_empty());
}
