//! Verification of a log in its database: gathers every checkpoint the log and
//! its surroundings hold, runs the scan, and diagnoses.

use std::collections::HashMap;
use std::time::Instant;

use crate::error::AuditError;
use crate::keys;
use crate::merkle::Hash;
use crate::note::VerifierKey;
use crate::read::AuditReader;
use crate::record::Decryptor;
use crate::store::{Store, WITNESS_FILE};

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
    let mut dec = match reader.decryptor() {
        Ok(d) => Some(d),
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
        let scanned = scan_store(store, &key, &witness, opts, dec.as_mut(), &mut report);
        match integrity.join() {
            Ok(Ok(check)) if check == "ok" => {}
            Ok(Ok(check)) => report.problems.push(Problem::Corrupt(check)),
            Ok(Err(e)) => report.problems.push(Problem::Corrupt(e.to_string())),
            Err(_) => report
                .problems
                .push(Problem::Corrupt("the integrity check crashed".into())),
        }
        match scanned {
            // A file SQLite itself finds damaged is a diagnosis, not a failure to
            // verify.
            Err(AuditError::Store(e)) if is_corruption(&e.source) => {
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

fn is_corruption(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase)
    )
}

/// The pass over the database, inside one read snapshot.
fn scan_store(
    store: &mut Store,
    key: &VerifierKey,
    witness: &Option<String>,
    opts: &VerifyOptions,
    dec: Option<&mut Decryptor>,
    report: &mut VerifyReport,
) -> Result<(), AuditError> {
    store.snapshot(|store| -> Result<(), AuditError> {
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
                let level: u32 = r.get(0).map_err(store.err())?;
                let idx = r.get::<_, i64>(1).map_err(store.err())? as u64;
                let hash: Vec<u8> = r.get(2).map_err(store.err())?;
                // A node that is not 32 bytes never matches and is reported.
                let hash: Hash = hash.try_into().unwrap_or([0; 32]);
                stored.insert((level, idx), hash);
            }
        }
        let deep = if opts.deep { dec.as_deref().cloned() } else { None };
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
        let mut fetch = |from: u64, to: u64, f: &mut dyn FnMut(u64, &[u8])| {
            store
                .scan(from, to, |seq, bytes| {
                    f(seq, bytes);
                    true
                })
                .map_err(AuditError::from)
        };
        scanner.diagnose(report, dec, &mut fetch)
    })
}
