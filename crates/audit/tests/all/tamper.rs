//! Tampering with the SQLite file the way someone with write access would: each
//! test makes a real modification of `audit.db` (triggers dropped, rows edited
//! with SQL) and checks that verification fails with the right diagnosis.

use std::fs;

use warden_audit::AuditReader;
use warden_audit::verify::{ExternalCheckpoint, Problem, VerifyOptions, verify_log_with};

use crate::support::{Home, fill, sql_on};

fn verify(home: &Home, external: Option<(&str, String)>) -> warden_audit::verify::VerifyReport {
    let mut reader = AuditReader::open(&home.path).unwrap();
    let opts = VerifyOptions {
        checkpoints: external
            .into_iter()
            .map(|(source, note)| ExternalCheckpoint {
                source: source.into(),
                note,
            })
            .collect(),
        ..VerifyOptions::default()
    };
    verify_log_with(&mut reader, &opts).unwrap()
}

fn first(home: &Home, external: Option<(&str, String)>) -> Problem {
    let report = verify(home, external);
    println!("{:#?}", report.problems);
    report
        .first_problem()
        .cloned()
        .expect("verification must fail")
}

fn latest_note(home: &Home) -> String {
    AuditReader::open(&home.path)
        .unwrap()
        .checkpoint()
        .unwrap()
        .note
}

/// The largest size below `size` at which the log kept a checkpoint.
fn stored_checkpoint_below(home: &Home, size: i64) -> i64 {
    let conn = rusqlite::Connection::open(home.db()).unwrap();
    conn.query_row(
        "SELECT max(size) FROM checkpoints WHERE size < ?1",
        [size],
        |r| r.get(0),
    )
    .unwrap()
}

/// Fills 500 entries, keeps a copy of the database and of its witness, fills
/// 500 more, then puts the old database back. Returns the checkpoint of 1000
/// entries and the old witness (for the caller to restore too, or not).
fn restore_older_copy(home: &Home) -> (String, Vec<u8>) {
    fill(home, 0, 500);
    let copy = home.path.join("old-audit.db");
    fs::copy(home.db(), &copy).unwrap();
    let old_witness = fs::read(home.path.join("audit.checkpoint")).unwrap();
    fill(home, 500, 500);
    let saved = latest_note(home);
    fs::copy(&copy, home.db()).unwrap();
    (saved, old_witness)
}

/// Flips one byte of entry `seq`'s envelope at `offset` (negative: from the end).
fn flip_byte(home: &Home, seq: u64, offset: isize) {
    let conn = rusqlite::Connection::open(home.db()).unwrap();
    conn.execute_batch("DROP TRIGGER IF EXISTS entries_no_update;")
        .unwrap();
    let mut env: Vec<u8> = conn
        .query_row(
            "SELECT envelope FROM entries WHERE seq = ?1",
            [seq as i64],
            |r| r.get(0),
        )
        .unwrap();
    let at = if offset < 0 {
        env.len() - (-offset) as usize
    } else {
        offset as usize
    };
    env[at] ^= 0x20;
    conn.execute(
        "UPDATE entries SET envelope = ?1 WHERE seq = ?2",
        rusqlite::params![env, seq as i64],
    )
    .unwrap();
}

#[test]
fn intact_log_verifies() {
    let home = Home::new();
    fill(&home, 0, 1000);
    let report = verify(&home, Some(("saved.note", latest_note(&home))));
    assert!(report.intact(), "{:?}", report.problems);
    assert_eq!(report.entries, 1000);
    assert!(report.checkpoints_checked >= 3);
}

#[test]
fn edited_byte_in_the_sealed_record_is_named() {
    let home = Home::new();
    fill(&home, 0, 1000);
    flip_byte(&home, 500, -20);
    match first(&home, None) {
        Problem::Edited { seq: 500, .. } => {}
        p => panic!("{p}"),
    }
}

#[test]
fn edited_byte_in_the_cleartext_header_is_named() {
    let home = Home::new();
    fill(&home, 0, 1000);
    // Byte 16 is the low byte of the time field: the header is authenticated.
    flip_byte(&home, 733, 16);
    match first(&home, None) {
        Problem::Edited { seq: 733, .. } => {}
        p => panic!("{p}"),
    }
}

#[test]
fn deleted_middle_row_is_named_missing() {
    let home = Home::new();
    fill(&home, 0, 1000);
    home.sql("DELETE FROM entries WHERE seq = 500;");
    let p = first(&home, None);
    assert_eq!(p, Problem::Missing { seq: 500, count: 1 }, "{p}");
}

#[test]
fn deleted_last_rows_are_named_truncated() {
    let home = Home::new();
    fill(&home, 0, 1000);
    home.sql("DELETE FROM entries WHERE seq >= 990;");
    match first(&home, None) {
        Problem::Truncated {
            entries: 990,
            covered: 1000,
            ..
        } => {}
        p => panic!("{p}"),
    }
}

#[test]
fn truncation_covered_up_with_an_older_signed_head_is_caught_by_a_kept_checkpoint() {
    let home = Home::new();
    fill(&home, 0, 2000);
    let saved = latest_note(&home);
    // The attacker cuts the log back to an older stored checkpoint, makes that
    // the head (a genuine signature), and removes the witness file and the tree
    // nodes over the removed entries: the database is self-consistent again.
    let cut = stored_checkpoint_below(&home, 2000);
    assert!(cut > 0);
    home.sql(&format!(
        "DELETE FROM entries WHERE seq >= {cut};
         DELETE FROM checkpoints WHERE size > {cut};
         DELETE FROM nodes WHERE ((idx + 1) << level) > {cut};
         UPDATE head SET size = {cut}, note = (SELECT note FROM checkpoints WHERE size = {cut});"
    ));
    fs::remove_file(home.path.join("audit.checkpoint")).unwrap();
    assert!(
        verify(&home, None).intact(),
        "self-consistent without outside help"
    );
    match first(&home, Some(("saved.note", saved))) {
        Problem::RolledBack {
            entries,
            covered: 2000,
            by,
        } => {
            assert_eq!(entries, cut as u64);
            assert_eq!(by, "saved.note");
        }
        p => panic!("{p}"),
    }
}

#[test]
fn swapped_rows_are_named_reordered() {
    let home = Home::new();
    fill(&home, 0, 1000);
    home.sql(
        "CREATE TEMP TABLE t AS SELECT seq, envelope FROM entries WHERE seq IN (100, 200);
         UPDATE entries SET envelope = (SELECT envelope FROM t WHERE seq = 200) WHERE seq = 100;
         UPDATE entries SET envelope = (SELECT envelope FROM t WHERE seq = 100) WHERE seq = 200;",
    );
    let report = verify(&home, None);
    assert_eq!(
        report.problems[..2],
        [
            Problem::Reordered {
                row: 100,
                holds: 200
            },
            Problem::Reordered {
                row: 200,
                holds: 100
            }
        ],
        "{:#?}",
        report.problems
    );
}

#[test]
fn a_log_rebuilt_under_another_key_is_caught_by_the_old_checkpoint() {
    let home = Home::new();
    fill(&home, 0, 1000);
    let saved = latest_note(&home);
    // Everything replaced: database, keys, witness; the new log looks healthy.
    fs::remove_dir_all(&home.path).unwrap();
    fill(&home, 0, 1000);
    assert!(verify(&home, None).intact());
    match first(&home, Some(("saved.note", saved))) {
        Problem::Replaced { by, .. } => assert_eq!(by, "saved.note"),
        p => panic!("{p}"),
    }
}

#[test]
fn a_restored_older_copy_is_named_rolled_back() {
    let home = Home::new();
    let (saved, old_witness) = restore_older_copy(&home);
    // The witness file beside the database still knows the newer state.
    match first(&home, None) {
        Problem::RolledBack {
            entries: 500,
            covered: 1000,
            by,
        } => assert!(by.contains("witness"), "{by}"),
        p => panic!("{p}"),
    }
    // Restored together with its witness: only a checkpoint kept elsewhere knows.
    fs::write(home.path.join("audit.checkpoint"), old_witness).unwrap();
    assert!(verify(&home, None).intact());
    match first(&home, Some(("saved.note", saved))) {
        Problem::RolledBack {
            entries: 500,
            covered: 1000,
            by,
        } => assert_eq!(by, "saved.note"),
        p => panic!("{p}"),
    }
}

#[test]
fn a_rolled_back_log_that_grew_again_is_named_forked() {
    let home = Home::new();
    let (saved, old_witness) = restore_older_copy(&home);
    fs::write(home.path.join("audit.checkpoint"), old_witness).unwrap();
    // Different history from 500 on, past the size of the kept checkpoint.
    fill(&home, 10_000, 600);
    match first(&home, Some(("saved.note", saved))) {
        Problem::Forked { size: 1000, by } => assert_eq!(by, "saved.note"),
        p => panic!("{p}"),
    }
}

#[test]
fn an_edited_checkpoint_fails_its_signature() {
    let home = Home::new();
    fill(&home, 0, 100);
    let note = latest_note(&home).replacen("\n100\n", "\n90\n", 1);
    sql_on(
        &home.db(),
        &format!("UPDATE head SET note = '{}';", note.replace('\'', "''")),
    );
    match first(&home, None) {
        Problem::BadCheckpoint { by, .. } => assert!(by.contains("latest"), "{by}"),
        p => panic!("{p}"),
    }
}

#[test]
fn truncation_with_an_older_head_leaves_tree_traces_and_is_named_truncated() {
    let home = Home::new();
    fill(&home, 0, 2000);
    let saved = latest_note(&home);
    // The earliest stored checkpoint: the tree nodes over the entries removed
    // after it stay behind as traces.
    let cut: i64 = rusqlite::Connection::open(home.db())
        .unwrap()
        .query_row(
            "SELECT min(size) FROM checkpoints WHERE size > 0",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(cut < 1792, "the first commit held {cut} entries");
    home.sql(&format!(
        "DELETE FROM entries WHERE seq >= {cut};
         UPDATE head SET size = {cut}, note = (SELECT note FROM checkpoints WHERE size = {cut});"
    ));
    fs::remove_file(home.path.join("audit.checkpoint")).unwrap();
    // Truncation, named by the log's own later history and by the checkpoint
    // kept aside; never mistaken for a rollback.
    let report = verify(&home, Some(("saved.note", saved)));
    assert!(
        matches!(report.first_problem(), Some(Problem::Truncated { .. })),
        "{:#?}",
        report.problems
    );
    assert!(
        report.problems.iter().any(|p| matches!(p,
            Problem::Truncated { covered: 2000, by, .. } if by == "saved.note")),
        "{:#?}",
        report.problems
    );
    assert!(
        !report
            .problems
            .iter()
            .any(|p| matches!(p, Problem::RolledBack { .. }))
    );
}

#[test]
fn a_damaged_file_is_named_damaged_not_a_crash() {
    let home = Home::new();
    fill(&home, 0, 3000);
    // Overwrite 16 KiB in the middle of the file: B-tree pages, not one field.
    let db = home.db();
    let mut bytes = fs::read(&db).unwrap();
    let mid = bytes.len() / 2 / 4096 * 4096;
    for b in &mut bytes[mid..mid + 16384] {
        *b = 0xA5;
    }
    fs::write(&db, bytes).unwrap();
    match first(&home, None) {
        Problem::Corrupt(_) => {}
        p => panic!("{p}"),
    }
    // Appending to it is refused.
    assert!(warden_audit::AuditLog::open(&home.path, crate::support::fast()).is_err());
}
