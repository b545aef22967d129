//! The SQLite schema and connection settings of `audit.db`.
//!
//! Entries, stored tree nodes and checkpoint history are append-only: triggers
//! refuse UPDATE and DELETE, so no code path of ours can rewrite history by
//! mistake. (Someone with write access to the file can drop the triggers; that is
//! what `warden audit verify` is for.) Only `head` (the latest checkpoint) is
//! replaced, and a segment's wrapped key is erased when retention shreds it.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

/// The `format` value in `meta`; a database with another value is refused.
pub const FORMAT: &str = "warden-audit/1";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS entries (
    seq      INTEGER PRIMARY KEY,
    envelope BLOB NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS nodes (
    level INTEGER NOT NULL,
    idx   INTEGER NOT NULL,
    hash  BLOB NOT NULL,
    PRIMARY KEY (level, idx)
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS segments (
    id          INTEGER PRIMARY KEY,
    first_seq   INTEGER NOT NULL,
    created_ms  INTEGER NOT NULL,
    wrapped_key BLOB,
    shredded_ms INTEGER
) STRICT;
CREATE TABLE IF NOT EXISTS checkpoints (
    size INTEGER PRIMARY KEY,
    note TEXT NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS head (
    id   INTEGER PRIMARY KEY CHECK (id = 0),
    size INTEGER NOT NULL,
    note TEXT NOT NULL
) STRICT;
CREATE TRIGGER IF NOT EXISTS entries_no_update BEFORE UPDATE ON entries
    BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;
CREATE TRIGGER IF NOT EXISTS entries_no_delete BEFORE DELETE ON entries
    BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;
CREATE TRIGGER IF NOT EXISTS nodes_no_update BEFORE UPDATE ON nodes
    BEGIN SELECT RAISE(ABORT, 'audit tree nodes are append-only'); END;
CREATE TRIGGER IF NOT EXISTS nodes_no_delete BEFORE DELETE ON nodes
    BEGIN SELECT RAISE(ABORT, 'audit tree nodes are append-only'); END;
CREATE TRIGGER IF NOT EXISTS checkpoints_no_update BEFORE UPDATE ON checkpoints
    BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;
CREATE TRIGGER IF NOT EXISTS checkpoints_no_delete BEFORE DELETE ON checkpoints
    BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;
CREATE TRIGGER IF NOT EXISTS segments_no_delete BEFORE DELETE ON segments
    BEGIN SELECT RAISE(ABORT, 'audit segments are never deleted'); END;
";

/// How durable a commit is before its appends are acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// `synchronous=FULL`: every commit is on stable storage before any append in
    /// it is acknowledged. Survives a crash of the process, the kernel, and power
    /// loss.
    #[default]
    Strict,
    /// `synchronous=NORMAL`: a commit reaches the operating system before it is
    /// acknowledged and stable storage at the next WAL checkpoint. Survives a crash
    /// of the process; on power loss or a kernel crash the most recent commits can
    /// be lost (never half of one: the log stays consistent).
    Fast,
}

impl Durability {
    fn pragma(self) -> &'static str {
        match self {
            Durability::Strict => "FULL",
            Durability::Fast => "NORMAL",
        }
    }
}

/// Opens (creating if needed) the database for the single writer.
pub fn open_writer(path: &Path, durability: Durability) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", durability.pragma())?;
    // Retention overwrites a shredded key's bytes instead of leaving them on a
    // free page.
    conn.pragma_update(None, "secure_delete", "ON")?;
    conn.execute_batch(SCHEMA)?;
    Ok(conn)
}

/// Opens the database for reading (`warden audit show`, `verify`, the daemon's
/// proof endpoint) while a writer may be appending.
pub fn open_reader(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(5))?;
    Ok(conn)
}
