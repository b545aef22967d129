//! Verification of a log in its database: gathers every checkpoint the log and
//! its surroundings hold, runs the scan, and diagnoses.

use std::collections::HashMap;
use std::time::Instant;

use crate::crypto::{self, SecretKey};
use crate::error::AuditError;
use crate::keys;
use crate::merkle::Hash;
use crate::note::VerifierKey;
use crate::read::AuditReader;
use crate::record::Decryptor;
use crate::store::{SegmentRow, Store, WITNESS_FILE};

use super::scan::{ClaimKind, Scanner, claim};
use super::{Problem, VerifyOptions, VerifyReport};

/// Verifies the log `reader` opened, with default options.
pub fn verify_log(reader: &mut AuditReader) -> Result<VerifyReport, AuditError> {
    verify_log_with(reader, &VerifyOptions::default())
}

/// Verifies the log `reader` opened: every entry, every stored node and
/// checkpoint, the witness file, and each checkpoint in `opts`.
pub fn verify_log_with(
    reader: &mut AuditReader,
    opts: &VerifyOptions,
) -> Result<VerifyReport, AuditError> {
    let started = Instant::now();
    let home = reader.home().to_path_buf();
    let origin = reader.origin().to_string();
    let logged_key = reader.verifier().clone();
    let mut report = VerifyReport::new(&origin, started);
    let key = opts
        .trusted_key
        .clone()
        .unwrap_or_else(|| logged_key.clone());
    let key_text = |k: &VerifierKey| format!("{}+{:08x}", k.name(), k.id());
    if key != logged_key {
        report.problems.push(Problem::Replaced {
            by: "the database".into(),
            found: key_text(&logged_key),
            expected: key_text(&key),
        });
    }
    match keys::load_verifier(&home) {
        Ok(file_key) if file_key != logged_key => report.problems.push(Problem::Replaced {
            by: "keys/log.vkey".into(),
            found: key_text(&file_key),
            expected: key_text(&logged_key),
        }),
        Ok(_) => {}
        Err(_) => report
            .remarks
            .push("keys/log.vkey is absent: the database's own key was used".into()),
    }
    let master = match keys::load_master(&home) {
        Ok(m) => Some(m),
        Err(e) => {
            report
                .remarks
                .push(format!("entries not authenticated: {e}"));
            None
        }
    };
    let witness = std::fs::read_to_string(home.join(WITNESS_FILE)).ok();
    let store = reader.store();
    let db = store.path.clone();
    // SQLite's own integrity check reads the whole file too; it runs on its own
    // connection beside the scan instead of before it.
    std::thread::scope(|scope| {
        let integrity = scope.spawn(move || -> Result<String, AuditError> {
            let s = Store::open_read(&db)?;
            s.conn
                .query_row("PRAGMA quick_check", [], |r| r.get(0))
                .map_err(|e| s.err()(e).into())
        });
        let scanned = scan_store(store, &key, &witness, opts, master, &origin, &mut report);
        match integrity.join() {
            Ok(Ok(check)) if check == "ok" => {}
            Ok(Ok(check)) => report.problems.push(Problem::Corrupt(check)),
            Ok(Err(e)) => report.problems.push(Problem::Corrupt(e.to_string())),
            Err(_) => report
                .problems
                .push(Problem::Corrupt("the integrity check crashed".into())),
        }
        match scanned {
            // A log whose own file cannot be read through is damaged: that is a
            // diagnosis, not a failure to verify.
            Err(AuditError::Store(e)) => {
                report.problems.push(Problem::Corrupt(e.to_string()));
                Ok(())
            }
            other => other,
        }
    })?;
    report.elapsed = started.elapsed();
    report.sort();
    Ok(report)
}

/// The pass over the database, inside one read snapshot.
fn scan_store(
    store: &mut Store,
    key: &VerifierKey,
    witness: &Option<String>,
    opts: &VerifyOptions,
    master: Option<SecretKey>,
    origin: &str,
    report: &mut VerifyReport,
) -> Result<(), AuditError> {
    store.snapshot(|store| -> Result<(), AuditError> {
        // Built inside the snapshot: a segment the writer opens meanwhile is
        // neither in it nor in the entries read.
        let segments = store.segments()?;
        let mut dec = master
            .clone()
            .map(|m| Decryptor::new(origin, Some(m), &segments));
        let mut claims = Vec::new();
        let mut problems = Vec::new();
        let mut add = |source: &str, note: &str, kind| match claim(source, note, key, kind) {
            Ok(c) => claims.push(c),
            Err(p) => problems.push(p),
        };
        match store.head()? {
            Some((_, note)) => add("the log's latest checkpoint", &note, ClaimKind::Head),
            None => add("the log's latest checkpoint", "", ClaimKind::Head),
        }
        for (size, note) in store.history()? {
            add(&format!("the log's stored checkpoint at size {size}"), &note, ClaimKind::History);
        }
        match witness {
            Some(note) => add("the witness file audit.checkpoint", note, ClaimKind::Outside),
            None => report.remarks.push(
                "no witness file (audit.checkpoint): a restored older copy is detected only with --from-checkpoint".into(),
            ),
        }
        for ext in &opts.checkpoints {
            add(&ext.source, &ext.note, ClaimKind::Outside);
        }
        report.problems.append(&mut problems);
        let mut stored: HashMap<(u32, u64), Hash> = HashMap::new();
        {
            let mut stmt = store
                .conn
                .prepare("SELECT level, idx, hash FROM nodes")
                .map_err(store.err())?;
            let mut rows = stmt.query([]).map_err(store.err())?;
            while let Some(r) = rows.next().map_err(store.err())? {
                let level: i64 = r.get(0).map_err(store.err())?;
                let idx: i64 = r.get(1).map_err(store.err())?;
                let (Ok(level), Ok(idx)) = (u32::try_from(level), u64::try_from(idx)) else {
                    report.problems.push(Problem::Corrupt(format!(
                        "a tree node row has level {level} and index {idx}, out of range"
                    )));
                    continue;
                };
                let hash: Vec<u8> = r.get(2).map_err(store.err())?;
                // A node that is not 32 bytes never matches and is reported.
                let hash: Hash = hash.try_into().unwrap_or([0; 32]);
                stored.insert((level, idx), hash);
            }
        }
        let deep = if opts.deep { dec.clone() } else { None };
        if opts.deep && deep.is_none() {
            report
                .remarks
                .push("--deep asked, but no keys: entries were checked by hash only".into());
        }
        let mut scanner = Scanner::new(claims, Some(stored), deep);
        store.scan(0, u64::MAX, |seq, bytes| {
            scanner.feed(seq, bytes);
            true
        })?;
        check_segments(&segments, &scanner.segment_starts, master.as_ref(), origin, report);
        let mut fetch = |from: u64, to: u64, f: &mut dyn FnMut(u64, &[u8])| {
            store
                .scan(from, to, |seq, bytes| {
                    f(seq, bytes);
                    true
                })
                .map_err(AuditError::from)
        };
        scanner.diagnose(report, dec.as_mut(), &mut fetch)
    })
}

/// The segments table against the entries: every segment starts where its
/// entries start, in order; a key is missing only where retention recorded
/// destroying it, and never for the segment in use; every key unwraps for its
/// own segment (a key moved from another segment does not).
fn check_segments(
    rows: &[SegmentRow],
    starts: &[(u32, u64)],
    master: Option<&SecretKey>,
    origin: &str,
    report: &mut VerifyReport,
) {
    let mut bad = |segment: u32, why: String| {
        report.problems.push(Problem::BadSegment { segment, why });
    };
    for &(id, first) in starts {
        match rows.iter().find(|r| r.id == id) {
            None => bad(
                id,
                format!("entries from {first} name it, but the segments table has no such segment"),
            ),
            Some(r) if r.first_seq != first => bad(
                id,
                format!(
                    "the table says it starts at entry {}, its entries start at {first}",
                    r.first_seq
                ),
            ),
            Some(_) => {}
        }
    }
    if starts.windows(2).any(|w| w[1].0 <= w[0].0) {
        bad(
            starts.iter().map(|s| s.0).max().unwrap_or(0),
            "entries switch back to an earlier segment".into(),
        );
    }
    let last = rows.last().map(|r| r.id);
    for r in rows {
        if !starts.iter().any(|(id, _)| *id == r.id) {
            bad(r.id, "no entry is sealed with it".into());
        }
        match (&r.wrapped_key, r.shredded_ms) {
            (None, None) => bad(
                r.id,
                "its data key was erased without a retention record".into(),
            ),
            (None, Some(_)) if Some(r.id) == last => {
                bad(r.id, "the segment in use has no data key".into())
            }
            (Some(wrapped), _) => {
                if let Some(m) = master
                    && crypto::unwrap_data_key(m, origin, r.id, wrapped).is_err()
                {
                    bad(
                        r.id,
                        "its wrapped data key does not open (altered, or moved from another segment)"
                            .into(),
                    );
                }
            }
            (None, Some(_)) => {}
        }
    }
}
