//! The storage-independent core of verification: one pass over the entries in
//! row order, then a diagnosis that turns mismatches into named problems. Used
//! for the database and for export bundles alike.

use std::collections::{BTreeMap, HashMap};

use crate::checkpoint::{CheckpointError, SignedCheckpoint};
use crate::envelope;
use crate::error::AuditError;
use crate::merkle::{self, Frontier, Hash};
use crate::note::{NoteError, VerifierKey};
use crate::record::{Content, Decryptor};

use super::{Problem, VerifyReport};

/// Where a checkpoint came from, which decides what its disagreement means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClaimKind {
    /// The log's latest checkpoint.
    Head,
    /// A checkpoint in the log's own history table.
    History,
    /// A checkpoint kept outside the database (witness file, a file given).
    Outside,
}

/// A verified checkpoint: what the log claimed at some size.
#[derive(Debug, Clone)]
pub(crate) struct Claim {
    pub source: String,
    pub size: u64,
    pub root: Hash,
    pub kind: ClaimKind,
}

/// Turns a checkpoint note into a claim, or into the problem it shows.
pub(crate) fn claim(
    source: &str,
    note: &str,
    key: &VerifierKey,
    kind: ClaimKind,
) -> Result<Claim, Problem> {
    match SignedCheckpoint::open(note, key) {
        Ok(signed) => Ok(Claim {
            source: source.to_string(),
            size: signed.checkpoint.size,
            root: signed.checkpoint.root,
            kind,
        }),
        Err(CheckpointError::Note(NoteError::NotSignedByKnownKey { signers })) => {
            Err(Problem::Replaced {
                by: source.to_string(),
                found: if signers.is_empty() {
                    "(none)".into()
                } else {
                    signers.join(", ")
                },
                expected: format!("{}+{:08x}", key.name(), key.id()),
            })
        }
        Err(CheckpointError::WrongOrigin { found, expected }) => Err(Problem::Replaced {
            by: source.to_string(),
            found: format!("a key of log {found:?}"),
            expected,
        }),
        Err(e) => Err(Problem::BadCheckpoint {
            by: source.to_string(),
            why: e.to_string(),
        }),
    }
}

/// Replays entries `from..to`, calling the visitor with each row and envelope.
pub(crate) type Fetch<'a> =
    dyn FnMut(u64, u64, &mut dyn FnMut(u64, &[u8])) -> Result<(), AuditError> + 'a;

/// Reads every entry once, in row order.
pub(crate) struct Scanner {
    frontier: Frontier,
    expected: u64,
    claims: Vec<Claim>,
    by_size: BTreeMap<u64, Vec<usize>>,
    stored: Option<HashMap<(u32, u64), Hash>>,
    deep: Option<Decryptor>,
    root_mismatch: Vec<usize>,
    root_match: Vec<u64>,
    node_mismatch: Vec<(u32, u64)>,
    misplaced: Vec<(u64, u64)>,
    malformed: Vec<(u64, String)>,
    gaps: Vec<(u64, u64)>,
    edited: Vec<(u64, String)>,
    /// Rows whose sequence number came again (bundles only: the database's
    /// primary key cannot repeat).
    repeated: Vec<u64>,
    /// `(segment, first row)` each time the header's segment changes.
    pub segment_starts: Vec<(u32, u64)>,
    authenticated: u64,
    shredded: u64,
}

/// The leaves `[first, end)` a node at `level`, `index` covers; `None` when
/// that does not fit in 64 bits (a node no real log has).
pub(crate) fn node_span(level: u32, index: u64) -> Option<(u64, u64)> {
    let width = 1u64.checked_shl(level)?;
    let first = index.checked_mul(width)?;
    Some((first, first.checked_add(width)?))
}

impl Scanner {
    /// `stored`: the tree nodes the store holds (None for bundles, which have
    /// none); `deep`: authenticate every entry with this decryptor.
    pub fn new(
        claims: Vec<Claim>,
        stored: Option<HashMap<(u32, u64), Hash>>,
        deep: Option<Decryptor>,
    ) -> Scanner {
        let mut by_size: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
        for (i, c) in claims.iter().enumerate() {
            by_size.entry(c.size).or_default().push(i);
        }
        let mut s = Scanner {
            frontier: Frontier::new(),
            expected: 0,
            claims,
            by_size,
            stored,
            deep,
            root_mismatch: Vec::new(),
            root_match: vec![0],
            node_mismatch: Vec::new(),
            misplaced: Vec::new(),
            malformed: Vec::new(),
            gaps: Vec::new(),
            edited: Vec::new(),
            repeated: Vec::new(),
            segment_starts: Vec::new(),
            authenticated: 0,
            shredded: 0,
        };
        s.check_claims_at_current_size();
        s
    }

    /// One row of the log.
    pub fn feed(&mut self, row: u64, bytes: &[u8]) {
        if row < self.expected {
            self.repeated.push(row);
            return;
        }
        if row != self.expected {
            self.gaps.push((self.expected, row - self.expected));
        }
        self.expected = row.saturating_add(1);
        match envelope::parse(bytes) {
            Err(e) => self.malformed.push((row, e.to_string())),
            Ok(env) => {
                if env.header.seq != row {
                    self.misplaced.push((row, env.header.seq));
                }
                if self
                    .segment_starts
                    .last()
                    .is_none_or(|(s, _)| *s != env.header.segment)
                {
                    self.segment_starts.push((env.header.segment, row));
                }
            }
        }
        if let Some(dec) = self.deep.as_mut() {
            match dec.open(bytes).map(|e| e.content) {
                Ok(Content::Record(_)) => self.authenticated += 1,
                Ok(Content::Shredded) => self.shredded += 1,
                Ok(Content::Unreadable(why)) => self.edited.push((row, why)),
                Ok(Content::Sealed | Content::NoKey(_)) | Err(_) => {}
            }
        }
        let stored = &self.stored;
        let mismatches = &mut self.node_mismatch;
        self.frontier.push(merkle::leaf_hash(bytes), |n| {
            if let Some(stored) = stored
                && merkle::is_tile_level(n.level)
                && stored.get(&(n.level, n.index)) != Some(&n.hash)
            {
                mismatches.push((n.level, n.index));
            }
        });
        self.check_claims_at_current_size();
    }

    fn check_claims_at_current_size(&mut self) {
        let size = self.frontier.size();
        let Some(idxs) = self.by_size.get(&size) else {
            return;
        };
        let root = self.frontier.root();
        for &i in idxs {
            if self.claims[i].root == root {
                self.root_match.push(size);
            } else {
                self.root_mismatch.push(i);
            }
        }
    }

    /// Turns what the pass saw into problems. `fetch(from, to, f)` replays
    /// entries `from..to` for pinpointing; `dec` opens them when keys exist.
    pub fn diagnose(
        mut self,
        report: &mut VerifyReport,
        dec: Option<&mut Decryptor>,
        fetch: &mut Fetch<'_>,
    ) -> Result<(), AuditError> {
        let n = self.frontier.size();
        report.entries = n;
        report.root = self.frontier.root();
        report.authenticated = self.authenticated;
        report.shredded = self.shredded;
        report.checkpoints_checked = self.claims.len() - self.root_mismatch.len();
        let p = &mut report.problems;
        for (seq, count) in &self.gaps {
            p.push(Problem::Missing {
                seq: *seq,
                count: *count,
            });
        }
        for (seq, error) in &self.malformed {
            p.push(Problem::Malformed {
                seq: *seq,
                error: error.clone(),
            });
        }
        for seq in &self.repeated {
            p.push(Problem::Malformed {
                seq: *seq,
                error: "the sequence number appears more than once".into(),
            });
        }
        for (seq, detail) in &self.edited {
            p.push(Problem::Edited {
                seq: *seq,
                detail: format!("its sealed record does not authenticate ({detail})"),
            });
        }
        // Checkpoints that cover more than the log holds.
        let head_size = self
            .claims
            .iter()
            .find(|c| c.kind == ClaimKind::Head)
            .map(|c| c.size);
        let beyond = |kind_outside: bool| {
            self.claims
                .iter()
                .filter(|c| c.size > n && (c.kind == ClaimKind::Outside) == kind_outside)
                .max_by_key(|c| c.size)
        };
        if let Some(c) = beyond(false) {
            p.push(Problem::Truncated {
                entries: n,
                covered: c.size,
                by: c.source.clone(),
            });
        }
        // Entries past the latest signed checkpoint were never part of a
        // commit: the writer signs the head in the same transaction.
        if let Some(h) = head_size
            && n > h
        {
            p.push(Problem::Unsigned {
                from: h,
                count: n - h,
            });
        }
        // Stored tree nodes over leaves the log no longer has are traces of
        // entries that were removed; an older copy of the file has none.
        let removed_traces = self.stored.as_ref().is_some_and(|m| {
            m.keys()
                .any(|&(level, index)| node_span(level, index).is_none_or(|(_, end)| end > n))
        });
        if let Some(c) = beyond(true) {
            let problem = if head_size == Some(n) && !removed_traces {
                Problem::RolledBack {
                    entries: n,
                    covered: c.size,
                    by: c.source.clone(),
                }
            } else {
                Problem::Truncated {
                    entries: n,
                    covered: c.size,
                    by: c.source.clone(),
                }
            };
            p.push(problem);
        }

        // Pinpoint: every range a mismatch points at is replayed and each entry
        // authenticated; an entry that fails is the edited one.
        let mut ranges: Vec<(u64, u64)> = self
            .node_mismatch
            .iter()
            .filter_map(|&(level, index)| node_span(level, index))
            .map(|(first, end)| (first, end.min(n)))
            .collect();
        for &i in &self.root_mismatch {
            let size = self.claims[i].size;
            let from = self
                .root_match
                .iter()
                .copied()
                .filter(|s| *s < size)
                .max()
                .unwrap_or(0);
            ranges.push((from, size.min(n)));
        }
        let mut edited_seqs: Vec<u64> = self.edited.iter().map(|(s, _)| *s).collect();
        let mut reordered_ok: Vec<(u64, u64)> = Vec::new();
        let misplaced = std::mem::take(&mut self.misplaced);
        match dec {
            Some(dec) if dec.has_keys() => {
                ranges.sort_unstable();
                ranges.dedup();
                let mut done_to = 0u64;
                for (from, to) in ranges {
                    let from = from.max(done_to);
                    if from >= to {
                        continue;
                    }
                    fetch(from, to, &mut |seq, bytes| {
                        if let Ok(e) = dec.open(bytes)
                            && let Content::Unreadable(why) = e.content
                            && !edited_seqs.contains(&seq)
                            && !misplaced.iter().any(|(row, _)| *row == seq)
                        {
                            edited_seqs.push(seq);
                            p.push(Problem::Edited {
                                seq,
                                detail: format!("its sealed record does not authenticate ({why})"),
                            });
                        }
                    })?;
                    done_to = to;
                }
                for &(row, holds) in &misplaced {
                    let mut genuine = false;
                    fetch(row, row + 1, &mut |_, bytes| {
                        genuine = matches!(
                            dec.open(bytes).map(|e| e.content),
                            Ok(Content::Record(_) | Content::Shredded | Content::NoKey(_))
                        );
                    })?;
                    if genuine {
                        reordered_ok.push((row, holds));
                    } else {
                        edited_seqs.push(row);
                        p.push(Problem::Edited {
                            seq: row,
                            detail: format!(
                                "its header names entry {holds} and its sealed record does not authenticate"
                            ),
                        });
                    }
                }
            }
            _ => {
                reordered_ok = misplaced;
                if !ranges.is_empty() {
                    report
                        .remarks
                        .push("no decryption keys: the altered entry cannot be pinpointed".into());
                }
            }
        }
        for (row, holds) in reordered_ok {
            p.push(Problem::Reordered { row, holds });
        }
        // A mismatch that no entry-level problem explains is a problem of its own.
        let first_entry_problem = p
            .iter()
            .filter_map(|x| match x {
                Problem::Edited { seq, .. }
                | Problem::Missing { seq, .. }
                | Problem::Malformed { seq, .. } => Some(*seq),
                Problem::Reordered { row, holds } => Some((*row).min(*holds)),
                _ => None,
            })
            .min();
        let explained = |end: u64| first_entry_problem.is_some_and(|s| s < end);
        for &(level, index) in &self.node_mismatch {
            let Some((first, full_end)) = node_span(level, index) else {
                continue;
            };
            let end = full_end.min(n);
            let inside = p.iter().any(|x| match x {
                Problem::Edited { seq, .. }
                | Problem::Missing { seq, .. }
                | Problem::Malformed { seq, .. } => (first..end).contains(seq),
                Problem::Reordered { row, .. } => (first..end).contains(row),
                _ => false,
            });
            if !inside {
                p.push(Problem::BadNode {
                    level,
                    index,
                    first,
                    end: full_end,
                });
            }
        }
        for &i in &self.root_mismatch {
            let c = &self.claims[i];
            if c.size <= n && !explained(c.size) {
                p.push(Problem::Forked {
                    size: c.size,
                    by: c.source.clone(),
                });
            }
        }
        Ok(())
    }
}
