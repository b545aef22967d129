//! The floor the log is measured against: the same SQLite writes (same file
//! settings, same envelope sizes, same batches) without encoding, sealing,
//! hashing or signing. `warden audit bench` prints both, so a run on a noisy
//! machine still shows what warden itself costs.

use std::path::Path;
use std::time::Instant;

use rusqlite::params;

use crate::store::StoreError;
use crate::store::schema::{self, Durability};

/// Inserts `events` blobs of `blob_len` bytes into a fresh database at `db`, in
/// transactions of `batch` rows, and returns rows per second. The file is
/// removed afterwards.
pub fn bare_sqlite_rate(
    db: &Path,
    events: u64,
    batch: usize,
    blob_len: usize,
    durability: Durability,
) -> Result<f64, StoreError> {
    let err = |source| StoreError {
        path: db.to_path_buf(),
        source,
    };
    let mut conn = schema::open_writer(db, durability).map_err(err)?;
    let blob = vec![0x5au8; blob_len];
    let started = Instant::now();
    let mut seq = 0i64;
    while (seq as u64) < events {
        let tx = conn.transaction().map_err(err)?;
        {
            let mut st = tx
                .prepare_cached("INSERT INTO entries (seq, envelope) VALUES (?1, ?2)")
                .map_err(err)?;
            for _ in 0..batch.max(1) {
                if seq as u64 >= events {
                    break;
                }
                st.execute(params![seq, &blob]).map_err(err)?;
                seq += 1;
            }
        }
        tx.commit().map_err(err)?;
    }
    let rate = events as f64 / started.elapsed().as_secs_f64();
    drop(conn);
    for suffix in ["", "-wal", "-shm"] {
        let mut p = db.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(p);
    }
    Ok(rate)
}
