//! Full verification: every leaf, the tree, every checkpoint's signature,
//! sequence continuity, and consistency with checkpoints kept elsewhere. The
//! result names the first thing wrong and what kind of wrong it is.
//!
//! The checks need no decryption key; keys, when present, are used to pinpoint
//! which entry an altered tree node or root comes from (an edited envelope fails
//! its AEAD tag) and, with `deep`, to authenticate every entry.

pub(crate) mod scan;
mod store;

pub use store::{verify_log, verify_log_with};

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use crate::merkle::Hash;

/// A checkpoint held up against the log.
#[derive(Debug, Clone)]
pub struct ExternalCheckpoint {
    /// Where it came from (a file name), used in diagnoses.
    pub source: String,
    /// The signed note.
    pub note: String,
}

/// What to check besides the log itself.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// The log key to trust; by default the key the database names (then a
    /// replaced log is caught only by checkpoints signed with the old key).
    pub trusted_key: Option<crate::note::VerifierKey>,
    /// Checkpoints kept elsewhere; each must be consistent with the log.
    pub checkpoints: Vec<ExternalCheckpoint>,
    /// Authenticate every entry with its data key (slower; needs the keys).
    pub deep: bool,
}

/// One thing wrong with a log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Problem {
    /// An entry's bytes were changed.
    Edited {
        /// The entry.
        seq: u64,
        /// How it shows.
        detail: String,
    },
    /// Entries are missing from the middle of the log.
    Missing {
        /// The first missing sequence number.
        seq: u64,
        /// How many are missing there.
        count: u64,
    },
    /// An entry sits at another entry's place.
    Reordered {
        /// The row (sequence number) it is stored at.
        row: u64,
        /// The sequence number its own authenticated header names.
        holds: u64,
    },
    /// Entries after the latest signed checkpoint: added to the file outside the
    /// writer, which signs every commit's head in the same transaction.
    Unsigned {
        /// The first such entry.
        from: u64,
        /// How many.
        count: u64,
    },
    /// A segment's key or its place in the log does not check out.
    BadSegment {
        /// The segment.
        segment: u32,
        /// What is wrong.
        why: String,
    },
    /// An entry is not a well-formed envelope.
    Malformed {
        /// The row.
        seq: u64,
        /// The parse error.
        error: String,
    },
    /// Entries at the end were removed: the log's own checkpoint covers more.
    Truncated {
        /// Entries present.
        entries: u64,
        /// Entries the checkpoint covers.
        covered: u64,
        /// Which checkpoint.
        by: String,
    },
    /// The log is an older copy of itself: self-consistent, but a checkpoint
    /// issued later covers more entries.
    RolledBack {
        /// Entries present.
        entries: u64,
        /// Entries the checkpoint covers.
        covered: u64,
        /// Which checkpoint.
        by: String,
    },
    /// The first `size` entries no longer hash to the root a checkpoint signed:
    /// history was rewritten and re-signed, or the log forked.
    Forked {
        /// The checkpoint's size.
        size: u64,
        /// Which checkpoint.
        by: String,
    },
    /// A checkpoint is signed by another key than the log's: the log (or its
    /// key) was replaced.
    Replaced {
        /// Which checkpoint or key file.
        by: String,
        /// The key ids that signed it.
        found: String,
        /// The log's key.
        expected: String,
    },
    /// A checkpoint's text no longer matches its signature.
    BadCheckpoint {
        /// Which checkpoint.
        by: String,
        /// Why.
        why: String,
    },
    /// A stored tree node does not match the entries below it.
    BadNode {
        /// Its level.
        level: u32,
        /// Its index.
        index: u64,
        /// Entries it covers.
        first: u64,
        /// One past the last entry it covers.
        end: u64,
    },
    /// The database itself is damaged.
    Corrupt(String),
}

impl Problem {
    /// Sort key: log-level problems first, then by the entry they concern.
    fn order(&self) -> (u8, u64) {
        match self {
            Problem::Replaced { .. } | Problem::BadCheckpoint { .. } | Problem::Corrupt(_) => {
                (0, 0)
            }
            Problem::Edited { seq, .. }
            | Problem::Missing { seq, .. }
            | Problem::Malformed { seq, .. } => (1, *seq),
            Problem::Reordered { row, holds } => (1, (*row).min(*holds)),
            Problem::BadNode { first, .. } => (1, *first),
            Problem::Unsigned { from, .. } => (1, *from),
            Problem::BadSegment { .. } => (0, 1),
            Problem::Truncated { entries, .. } | Problem::RolledBack { entries, .. } => {
                (2, *entries)
            }
            Problem::Forked { size, .. } => (2, *size),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Edited { seq, detail } => write!(f, "entry {seq} was edited: {detail}"),
            Problem::Missing { seq, count: 1 } => write!(f, "entry {seq} is missing (deleted)"),
            Problem::Missing { seq, count } => write!(
                f,
                "entries {seq} to {} are missing (deleted)",
                seq + count - 1
            ),
            Problem::Reordered { row, holds } => write!(
                f,
                "entries reordered: the place of entry {row} holds entry {holds}"
            ),
            Problem::Malformed { seq, error } => write!(f, "entry {seq} is malformed: {error}"),
            Problem::Unsigned { from, count } => write!(
                f,
                "entries {from} to {} are covered by no signed checkpoint: they were added outside warden's writer",
                from + count - 1
            ),
            Problem::BadSegment { segment, why } => write!(f, "segment {segment}: {why}"),
            Problem::Truncated {
                entries,
                covered,
                by,
            } => write!(
                f,
                "truncated: the log holds {entries} entries but {by} covers {covered}; entries {entries} to {} were removed",
                covered - 1
            ),
            Problem::RolledBack {
                entries,
                covered,
                by,
            } => write!(
                f,
                "rolled back: the log holds {entries} entries but {by}, issued later, covers {covered}; this is an older copy of the log (or it was truncated and re-signed)"
            ),
            Problem::Forked { size, by } => write!(
                f,
                "forked: the first {size} entries no longer hash to the root {by} signed; history was rewritten and re-signed"
            ),
            Problem::Replaced {
                by,
                found,
                expected,
            } => write!(
                f,
                "replaced: {by} is signed by key {found}, but the log is signed by {expected}; the log or its key was replaced"
            ),
            Problem::BadCheckpoint { by, why } => {
                write!(f, "{by} does not verify: {why}")
            }
            Problem::BadNode {
                level,
                index,
                first,
                end,
            } => write!(
                f,
                "stored tree node {index} at level {level} does not match entries {first} to {}",
                end - 1
            ),
            Problem::Corrupt(why) => write!(f, "the database is damaged: {why}"),
        }
    }
}

/// What verification found.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    /// The log's origin.
    pub origin: String,
    /// Entries read.
    pub entries: u64,
    /// Root over the entries read (hex).
    #[serde(serialize_with = "hex_hash")]
    pub root: Hash,
    /// Checkpoints whose signature and root were checked.
    pub checkpoints_checked: usize,
    /// Entries authenticated with their data key.
    pub authenticated: u64,
    /// Entries whose key retention destroyed (still verified by hash).
    pub shredded: u64,
    /// Problems, first bad thing first. Empty means intact.
    pub problems: Vec<Problem>,
    /// Remarks that are not problems (no witness file, entries not
    /// authenticated for lack of keys…).
    pub remarks: Vec<String>,
    /// Wall-clock time the verification took.
    #[serde(serialize_with = "seconds")]
    pub elapsed: Duration,
}

fn hex_hash<S: serde::Serializer>(h: &Hash, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex::encode(h))
}

fn seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

impl VerifyReport {
    /// An empty report for the log `origin`, timed from `started`.
    pub(crate) fn new(origin: &str, started: std::time::Instant) -> VerifyReport {
        VerifyReport {
            origin: origin.to_string(),
            entries: 0,
            root: [0; 32],
            checkpoints_checked: 0,
            authenticated: 0,
            shredded: 0,
            problems: Vec::new(),
            remarks: Vec::new(),
            elapsed: started.elapsed(),
        }
    }

    /// Whether nothing is wrong.
    pub fn intact(&self) -> bool {
        self.problems.is_empty()
    }

    /// The first (most important) problem.
    pub fn first_problem(&self) -> Option<&Problem> {
        self.problems.first()
    }

    pub(crate) fn sort(&mut self) {
        self.problems.sort_by_key(Problem::order);
        self.problems.dedup();
    }
}
