//! The error of the log API. Every variant is a reason the governor must deny the
//! action it was recording: an action that cannot be audited does not run.

use std::path::PathBuf;

use crate::checkpoint::CheckpointError;
use crate::crypto::CryptoError;
use crate::envelope::EnvelopeError;
use crate::keys::KeyError;
use crate::store::{NodeError, StoreError};

/// Why the audit log could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The key files.
    #[error(transparent)]
    Keys(#[from] KeyError),
    /// The database.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Another process is appending to this log.
    #[error(
        "the audit log is in use by another process (lock {0} is held); stop it (e.g. `warden down`) or use its API"
    )]
    InUse(PathBuf),
    /// No log exists in this home.
    #[error("no audit log at {0}")]
    NoLog(PathBuf),
    /// The database is not a warden audit log of a version this build reads.
    #[error("{db} is not a warden audit log this build can read: {why}")]
    NotALog {
        /// The database file.
        db: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// On open, the database does not agree with its own latest checkpoint: it was
    /// altered, truncated or damaged. Appending stops until someone looks.
    #[error("{db}: {what}; appending is refused; run `warden audit verify` for a full diagnosis")]
    Inconsistent {
        /// The database file.
        db: PathBuf,
        /// What disagreed.
        what: String,
    },
    /// A record larger than the log accepts.
    #[error("the audit record is {len} bytes, larger than the {max}-byte limit")]
    RecordTooLarge {
        /// The encoded record's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The writer thread is gone (the log was closed, or it panicked).
    #[error("the audit writer is not running")]
    Closed,
    /// The transaction holding this append failed and was rolled back.
    #[error("the audit commit failed: {0}")]
    CommitFailed(String),
    /// The writer stopped appending after a failure it could not recover from.
    #[error("the audit writer stopped after an unrecoverable failure: {0}")]
    WriterFailed(String),
    /// Sealing or opening failed.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// A checkpoint could not be made or read.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// A stored envelope is malformed.
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    /// A tree node could not be produced.
    #[error(transparent)]
    Node(#[from] NodeError),
    /// An entry the log does not hold.
    #[error("entry {seq} does not exist: the log holds {size} entries (0 to {})", size.saturating_sub(1))]
    NoSuchEntry {
        /// The sequence number asked for.
        seq: u64,
        /// The log's size.
        size: u64,
    },
    /// A file next to the database.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// An export bundle that cannot be read.
    #[error("bundle line {line}: {why}")]
    Bundle {
        /// The 1-based line number.
        line: usize,
        /// What is wrong with it.
        why: String,
    },
    /// An invariant of this crate failed; a bug, reported instead of a panic.
    #[error("internal error: {0}")]
    Internal(&'static str),
}
