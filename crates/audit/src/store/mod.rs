//! The SQLite file `audit.db`: schema, the reading side shared by every command,
//! and the single writer thread.

pub(crate) mod queue;
pub mod schema;
pub(crate) mod writer;

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};

use crate::merkle::{self, Hash, NodeSource};

/// File names inside `$WARDEN_HOME`.
pub const DB_FILE: &str = "audit.db";
/// Held (flock) by the one process that appends.
pub const LOCK_FILE: &str = "audit.lock";
/// The latest checkpoint, written beside the database: a copy of `audit.db`
/// restored from a backup without it is caught as a rollback.
pub const WITNESS_FILE: &str = "audit.checkpoint";

/// A database error with the file it happened in.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {source}")]
pub struct StoreError {
    /// The database file.
    pub path: PathBuf,
    /// What SQLite said.
    #[source]
    pub source: rusqlite::Error,
}

/// A segment as recorded in the `segments` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentRow {
    /// Segment id (the envelope's `segment` field).
    pub id: u32,
    /// First sequence number sealed with its key.
    pub first_seq: u64,
    /// When it was opened (ms since the epoch).
    pub created_ms: u64,
    /// Its data key wrapped under the master key; `None` once shredded.
    pub wrapped_key: Option<Vec<u8>>,
    /// When retention destroyed its key.
    pub shredded_ms: Option<u64>,
}

/// A segment with the range of entries it sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentInfo {
    /// Segment id.
    pub id: u32,
    /// First sequence number it sealed.
    pub first_seq: u64,
    /// One past the last (the next segment's first, or the log's size).
    pub end_seq: u64,
    /// When its first entry was recorded (ms).
    pub created_ms: u64,
    /// When its last entry was recorded (ms), if it has any.
    pub last_ms: Option<u64>,
    /// A later segment exists: nothing more is sealed with this one's key.
    pub closed: bool,
    /// Its key was destroyed.
    pub shredded: bool,
}

impl SegmentInfo {
    /// Retention's rule: a closed segment, not yet shredded, whose last entry
    /// is older than `before_ms`.
    pub fn shreddable_before(&self, before_ms: u64) -> bool {
        self.closed && !self.shredded && self.last_ms.is_some_and(|t| t < before_ms)
    }
}

/// Every segment with its entry range, read on `conn`.
pub(crate) fn segment_infos(
    conn: &Connection,
    path: &Path,
) -> Result<Vec<SegmentInfo>, StoreError> {
    let err = |source| StoreError {
        path: path.to_path_buf(),
        source,
    };
    let rows: Vec<(u32, u64, u64, bool)> = {
        let mut stmt = conn
            .prepare(
                "SELECT id, first_seq, created_ms, wrapped_key IS NULL FROM segments ORDER BY id",
            )
            .map_err(err)?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get::<_, i64>(1)? as u64,
                    r.get::<_, i64>(2)? as u64,
                    r.get(3)?,
                ))
            })
            .map_err(err)?;
        rows.collect::<Result<_, _>>().map_err(err)?
    };
    let size: u64 = conn
        .query_row("SELECT coalesce(max(seq) + 1, 0) FROM entries", [], |r| {
            r.get::<_, i64>(0)
        })
        .map_err(err)? as u64;
    let mut out = Vec::with_capacity(rows.len());
    for (i, &(id, first_seq, created_ms, shredded)) in rows.iter().enumerate() {
        let next = rows.get(i + 1).map(|r| r.1);
        let end_seq = next.unwrap_or(size);
        let last_ms = match end_seq.checked_sub(1).filter(|l| *l >= first_seq) {
            None => None,
            Some(last) => conn
                .query_row(
                    "SELECT envelope FROM entries WHERE seq = ?1",
                    [last as i64],
                    |r| r.get::<_, Vec<u8>>(0),
                )
                .optional()
                .map_err(err)?
                .and_then(|env| crate::envelope::peek_seq_time(&env).map(|(_, t)| t)),
        };
        out.push(SegmentInfo {
            id,
            first_seq,
            end_seq,
            created_ms,
            last_ms,
            closed: next.is_some(),
            shredded,
        });
    }
    Ok(out)
}

/// A read connection with the queries every reader needs.
pub struct Store {
    pub(crate) conn: Connection,
    pub(crate) path: PathBuf,
}

impl Store {
    /// Opens `db` read-only.
    pub fn open_read(db: &Path) -> Result<Store, StoreError> {
        let conn = schema::open_reader(db).map_err(|source| StoreError {
            path: db.to_path_buf(),
            source,
        })?;
        Ok(Store {
            conn,
            path: db.to_path_buf(),
        })
    }

    pub(crate) fn err(&self) -> impl FnOnce(rusqlite::Error) -> StoreError + '_ {
        |source| StoreError {
            path: self.path.clone(),
            source,
        }
    }

    /// A value from `meta`.
    pub fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(self.err())
    }

    /// The latest checkpoint: `(size, note)`.
    pub fn head(&self) -> Result<Option<(u64, String)>, StoreError> {
        self.conn
            .query_row("SELECT size, note FROM head WHERE id = 0", [], |r| {
                Ok((r.get::<_, i64>(0)? as u64, r.get(1)?))
            })
            .optional()
            .map_err(self.err())
    }

    /// Stored checkpoint history, oldest first.
    pub fn history(&self) -> Result<Vec<(u64, String)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT size, note FROM checkpoints ORDER BY size")
            .map_err(self.err())?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?)))
            .map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }

    /// Number of entry rows, and one past the highest sequence number.
    pub fn entry_bounds(&self) -> Result<(u64, u64), StoreError> {
        self.conn
            .query_row(
                "SELECT count(*), coalesce(max(seq) + 1, 0) FROM entries",
                [],
                |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)),
            )
            .map_err(self.err())
    }

    /// One past the highest sequence number (cheap: no count of the rows).
    pub fn end(&self) -> Result<u64, StoreError> {
        self.conn
            .query_row("SELECT coalesce(max(seq) + 1, 0) FROM entries", [], |r| {
                r.get::<_, i64>(0)
            })
            .map(|v| v as u64)
            .map_err(self.err())
    }

    /// The envelope of `seq`.
    pub fn envelope(&self, seq: u64) -> Result<Option<Vec<u8>>, StoreError> {
        self.conn
            .query_row(
                "SELECT envelope FROM entries WHERE seq = ?1",
                [seq as i64],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err())
    }

    /// Calls `f(seq, envelope)` for entries `from..to` in order; `f` returns
    /// `false` to stop.
    pub fn scan(
        &self,
        from: u64,
        to: u64,
        mut f: impl FnMut(u64, &[u8]) -> bool,
    ) -> Result<(), StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT seq, envelope FROM entries WHERE seq >= ?1 AND seq < ?2 ORDER BY seq",
            )
            .map_err(self.err())?;
        let mut rows = stmt
            .query(params![from as i64, to.min(i64::MAX as u64) as i64])
            .map_err(self.err())?;
        while let Some(row) = rows.next().map_err(self.err())? {
            let seq = row.get::<_, i64>(0).map_err(self.err())? as u64;
            let blob = row.get_ref(1).map_err(self.err())?;
            let bytes = blob.as_blob().unwrap_or_default();
            if !f(seq, bytes) {
                break;
            }
        }
        Ok(())
    }

    /// Entries in reverse order, from `before - 1` down; `f` returns `false` to stop.
    pub fn scan_back(
        &self,
        before: u64,
        mut f: impl FnMut(u64, &[u8]) -> bool,
    ) -> Result<(), StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT seq, envelope FROM entries WHERE seq < ?1 ORDER BY seq DESC")
            .map_err(self.err())?;
        let mut rows = stmt
            .query([before.min(i64::MAX as u64) as i64])
            .map_err(self.err())?;
        while let Some(row) = rows.next().map_err(self.err())? {
            let seq = row.get::<_, i64>(0).map_err(self.err())? as u64;
            let blob = row.get_ref(1).map_err(self.err())?;
            if !f(seq, blob.as_blob().unwrap_or_default()) {
                break;
            }
        }
        Ok(())
    }

    /// Stored tree nodes at `level` with index in `from..to`, in order.
    pub fn nodes(&self, level: u32, from: u64, to: u64) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT idx, hash FROM nodes WHERE level = ?1 AND idx >= ?2 AND idx < ?3 ORDER BY idx",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map(params![level, from as i64, to as i64], |r| {
                Ok((r.get::<_, i64>(0)? as u64, r.get(1)?))
            })
            .map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }

    /// Every segment, in order.
    pub fn segments(&self) -> Result<Vec<SegmentRow>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, first_seq, created_ms, wrapped_key, shredded_ms FROM segments ORDER BY id")
            .map_err(self.err())?;
        let rows = stmt
            .query_map([], |r| {
                Ok(SegmentRow {
                    id: r.get::<_, i64>(0)? as u32,
                    first_seq: r.get::<_, i64>(1)? as u64,
                    created_ms: r.get::<_, i64>(2)? as u64,
                    wrapped_key: r.get(3)?,
                    shredded_ms: r.get::<_, Option<i64>>(4)?.map(|v| v as u64),
                })
            })
            .map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }

    /// The mean envelope size in bytes (0 for an empty log).
    pub fn mean_envelope_len(&self) -> Result<usize, StoreError> {
        self.conn
            .query_row(
                "SELECT coalesce(avg(length(envelope)), 0) FROM entries",
                [],
                |r| r.get::<_, f64>(0),
            )
            .map(|m| m.round() as usize)
            .map_err(self.err())
    }

    /// Every segment with its entry range.
    pub fn segment_infos(&self) -> Result<Vec<SegmentInfo>, StoreError> {
        segment_infos(&self.conn, &self.path)
    }

    /// Runs `f` inside one read transaction, so everything it reads comes from
    /// the same snapshot even while the writer commits.
    pub fn snapshot<T, E: From<StoreError>>(
        &mut self,
        f: impl FnOnce(&mut Store) -> Result<T, E>,
    ) -> Result<T, E> {
        self.conn
            .execute_batch("BEGIN DEFERRED")
            .map_err(self.err())?;
        let out = f(self);
        let _ = self.conn.execute_batch("COMMIT");
        out
    }
}

/// Why a node the tree needs could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An entry or a stored node the tree needs is not there.
    #[error("the tree needs {what} {index} at level {level}, which the database does not hold")]
    Missing {
        /// "entry" or "node".
        what: &'static str,
        /// Its level.
        level: u32,
        /// Its index.
        index: u64,
    },
    /// A stored node hash that is not 32 bytes.
    #[error("stored tree node {index} at level {level} is not a 32-byte hash")]
    BadNode {
        /// Its level.
        level: u32,
        /// Its index.
        index: u64,
    },
}

impl NodeSource for Store {
    type Error = NodeError;

    fn tile_hashes(&mut self, level: u32, index: u64, count: u64) -> Result<Vec<Hash>, NodeError> {
        let mut out = Vec::with_capacity(count as usize);
        if level == 0 {
            let mut next = index;
            self.scan(index, index + count, |seq, env| {
                if seq != next {
                    return false;
                }
                out.push(merkle::leaf_hash(env));
                next += 1;
                true
            })?;
            if out.len() as u64 != count {
                return Err(NodeError::Missing {
                    what: "entry",
                    level,
                    index: index + out.len() as u64,
                });
            }
            return Ok(out);
        }
        for (expected, (idx, hash)) in (index..).zip(self.nodes(level, index, index + count)?) {
            if idx != expected {
                return Err(NodeError::Missing {
                    what: "node",
                    level,
                    index: expected,
                });
            }
            out.push(
                hash.try_into()
                    .map_err(|_| NodeError::BadNode { level, index: idx })?,
            );
        }
        if out.len() as u64 != count {
            return Err(NodeError::Missing {
                what: "node",
                level,
                index: index + out.len() as u64,
            });
        }
        Ok(out)
    }
}
