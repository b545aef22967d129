//! The writer: group commit of sealed envelopes, tree nodes and a signed
//! checkpoint per transaction.
//!
//! Whoever holds the writer (see [`super::queue`]) takes every request that queued
//! up while the previous commit was syncing (up to `max_batch`), seals and hashes
//! them, inserts them in one transaction together with the new signed
//! checkpoint, commits, and only then completes each request with its receipt. A request is therefore acknowledged only once its commit is
//! as durable as the configured [`Durability`](super::schema::Durability) makes it,
//! and a crash at any point leaves either the whole transaction or none of it.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::SyncSender;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, TransactionBehavior, params};
use tracing::{debug, error, warn};

use crate::checkpoint::{Checkpoint, SignedCheckpoint};
use crate::crypto::{self, Sealer, SecretKey};
use crate::envelope::{Header, NONCE_LEN};
use crate::error::AuditError;
use crate::log::{Options, Receipt};
use crate::merkle::{self, Frontier, Node};
use crate::note::SignerKey;
use crate::store::schema::Durability;

/// No data key seals more records than this (random 96-bit GCM nonces; see
/// `crypto`), whatever the options say.
const MAX_SEGMENT_ENTRIES: u64 = 1 << 24;
/// Milliseconds in a UTC day: segments never span two.
const DAY_MS: u64 = 86_400_000;
/// A checkpoint is kept in the history table each time the log crosses a multiple
/// of this many entries (and at the first commit after each open).
const HISTORY_EVERY: u64 = 1024;
/// The witness file is rewritten at most this often (and at shutdown).
const WITNESS_EVERY: Duration = Duration::from_secs(1);

/// What a request leaves for its appender when its batch is done.
pub(crate) type Completion = Box<dyn FnOnce(Result<Receipt, AuditError>) + Send>;

/// One append waiting for the writer.
pub(crate) struct Pending {
    /// The canonical record plaintext.
    pub body: Vec<u8>,
    /// The Action's origin, for the cleartext header.
    pub origin: &'static str,
    /// Called with the receipt once durable, or with the error; taken when
    /// called, so a `Pending` dropped unanswered answers on its own (see Drop).
    done: Option<Completion>,
}

impl Pending {
    pub fn new(body: Vec<u8>, origin: &'static str, done: Completion) -> Pending {
        Pending {
            body,
            origin,
            done: Some(done),
        }
    }

    /// Hands `result` to the appender. A completion that panics is contained:
    /// it must not take the writer (and every other appender) down with it.
    pub fn complete(mut self, result: Result<Receipt, AuditError>) {
        if let Some(done) = self.done.take()
            && std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| done(result))).is_err()
        {
            error!("an audit append's completion panicked");
        }
    }
}

impl Drop for Pending {
    /// An append that leaves the queue without an answer (a panic unwinding
    /// through a batch) is refused, never left waiting forever.
    fn drop(&mut self) {
        if let Some(done) = self.done.take() {
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                done(Err(AuditError::WriterFailed(
                    "the append was dropped by the writer".into(),
                )))
            }));
        }
    }
}

/// A request in the writer's queue.
pub(crate) enum Msg {
    Append(Pending),
    /// Answered once everything queued before it is committed.
    Sync(SyncSender<()>),
    /// Retention: destroy the data keys of closed segments whose last entry is
    /// older than the time given (ms since the epoch).
    Shred(u64, SyncSender<Result<ShredReport, AuditError>>),
}

/// What retention did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShredReport {
    /// Segments whose data keys were destroyed.
    pub segments: Vec<u32>,
    /// Whether the WAL was copied back and truncated, so the erased keys' old
    /// bytes are gone from it too. False while readers hold old snapshots: the
    /// bytes then leave the WAL at a later checkpoint.
    pub wal_cleared: bool,
}

/// The segment currently sealing new entries.
#[derive(Clone)]
pub(crate) struct OpenSegment {
    pub id: u32,
    pub day: u64,
    pub count: u64,
    pub sealer: Sealer,
}

/// Everything the writer keeps between commits; cloned before each commit so a
/// failed transaction leaves it exactly as the database is.
#[derive(Clone)]
pub(crate) struct TreeState {
    pub frontier: Frontier,
    pub segment: Option<OpenSegment>,
    /// Highest segment id ever created (shredded ones included).
    pub last_segment_id: Option<u32>,
    pub last_time_ms: u64,
    pub head: Arc<SignedCheckpoint>,
}

pub(crate) struct Writer {
    pub conn: Connection,
    pub core: Core,
}

/// The writer's state apart from its connection (so a transaction on the
/// connection and updates to the state can be borrowed at once).
pub(crate) struct Core {
    pub db: PathBuf,
    pub witness: PathBuf,
    pub origin: String,
    pub signer: SignerKey,
    pub master: SecretKey,
    pub state: TreeState,
    pub options: Options,
    /// Set when the writer can no longer trust its state; every later append is
    /// refused with it (fail closed).
    pub failed: Option<String>,
    pub wrote_history: bool,
    pub witness_at: Option<Instant>,
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl Writer {
    pub(crate) fn commit_batch(&mut self, batch: &mut Vec<Pending>) {
        let core = &mut self.core;
        if let Some(reason) = &core.failed {
            for p in batch.drain(..) {
                p.complete(Err(AuditError::WriterFailed(reason.clone())));
            }
            return;
        }
        let saved = core.state.clone();
        match core.try_commit(&mut self.conn, batch) {
            Ok(leaves) => {
                let checkpoint = Arc::clone(&core.state.head);
                for (p, (seq, leaf_hash)) in batch.drain(..).zip(leaves) {
                    p.complete(Ok(Receipt {
                        seq,
                        leaf_hash,
                        checkpoint: Arc::clone(&checkpoint),
                    }));
                }
                core.wrote_history = true;
                // In fast mode a commit is not yet on stable storage: a witness
                // written now could be ahead of the database after a power loss,
                // so it is written only at close, after a syncing checkpoint.
                if core.options.durability == Durability::Strict
                    && core.witness_at.is_none_or(|t| t.elapsed() >= WITNESS_EVERY)
                {
                    core.write_witness();
                }
            }
            Err(e) => {
                error!(error = %e, "audit commit failed; the batch is refused");
                core.state = saved;
                core.check_still_consistent(&self.conn);
                let reason = e.to_string();
                for p in batch.drain(..) {
                    p.complete(Err(AuditError::CommitFailed(reason.clone())));
                }
            }
        }
    }
}

impl Writer {
    /// Erases the wrapped data key of every closed segment whose last entry was
    /// recorded before `before_ms`. Entries and the tree are untouched, so the log
    /// still verifies; the records of those segments can no longer be read. The
    /// segment currently sealing is never shredded.
    pub(crate) fn shred(&mut self, before_ms: u64) -> Result<ShredReport, AuditError> {
        let db = self.core.db.clone();
        let db_err = |source| {
            AuditError::Store(crate::store::StoreError {
                path: db.clone(),
                source,
            })
        };
        let segments = crate::store::segment_infos(&self.conn, &db)?;
        let tx = self.conn.transaction().map_err(db_err)?;
        let mut shredded = Vec::new();
        for s in segments.iter().filter(|s| s.shreddable_before(before_ms)) {
            tx.execute(
                "UPDATE segments SET wrapped_key = NULL, shredded_ms = ?1 WHERE id = ?2",
                params![now_ms() as i64, s.id],
            )
            .map_err(db_err)?;
            shredded.push(s.id);
        }
        tx.commit().map_err(db_err)?;
        // The erased key's old page may still sit in the WAL: copy back and
        // truncate it, so the bytes are overwritten (secure_delete) on disk. The
        // shred itself is committed either way; a busy WAL is reported.
        let wal: rusqlite::Result<(i64, i64, i64)> =
            self.conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                });
        let wal_cleared = matches!(wal, Ok((0, log, done)) if log == done);
        if !wal_cleared {
            warn!(result = ?wal, "shredded keys remain in the WAL until its next checkpoint");
        }
        Ok(ShredReport {
            segments: shredded,
            wal_cleared,
        })
    }
}

impl Writer {
    /// The witness at shutdown: in fast mode only after a checkpoint has synced
    /// everything into the database file (otherwise it is left as it was).
    pub(crate) fn close_witness(&mut self) {
        if self.core.options.durability == Durability::Fast {
            let synced: rusqlite::Result<(i64, i64, i64)> =
                self.conn
                    .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                    });
            match synced {
                Ok((0, log, done)) if log == done => {}
                other => {
                    warn!(result = ?other, "the WAL could not be synced at close; the witness is left as it was");
                    return;
                }
            }
        }
        self.core.write_witness();
    }
}

impl Core {
    /// After a failed commit, the database must still end where our state does;
    /// if it cannot be confirmed, stop appending rather than fork the log.
    fn check_still_consistent(&mut self, conn: &Connection) {
        let size: rusqlite::Result<i64> =
            conn.query_row("SELECT coalesce(max(seq) + 1, 0) FROM entries", [], |r| {
                r.get(0)
            });
        match size {
            Ok(n) if n as u64 == self.state.frontier.size() => {}
            Ok(n) => {
                self.failed = Some(format!(
                    "the database holds {n} entries after a failed commit, the writer expected {}",
                    self.state.frontier.size()
                ))
            }
            Err(e) => self.failed = Some(format!("the database cannot be read: {e}")),
        }
    }

    fn try_commit(
        &mut self,
        conn: &mut Connection,
        batch: &[Pending],
    ) -> Result<Vec<(u64, merkle::Hash)>, AuditError> {
        let db = self.db.clone();
        let db_err = |source| {
            AuditError::Store(crate::store::StoreError {
                path: db.clone(),
                source,
            })
        };
        let mut nonces = vec![0u8; NONCE_LEN * batch.len()];
        crypto::random_bytes(&mut nonces)?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db_err)?;
        let mut leaves = Vec::with_capacity(batch.len());
        let mut tiles: Vec<Node> = Vec::new();
        let mut aad = Vec::with_capacity(128);
        {
            let mut insert_entry = tx
                .prepare_cached("INSERT INTO entries (seq, envelope) VALUES (?1, ?2)")
                .map_err(db_err)?;
            for (p, nonce) in batch.iter().zip(nonces.chunks_exact(NONCE_LEN)) {
                let time_ms = now_ms().max(self.state.last_time_ms);
                let seq = self.state.frontier.size();
                let segment = self.segment_for(&tx, seq, time_ms)?;
                let header = Header {
                    seq,
                    time_ms,
                    segment: segment.id,
                    origin: p.origin.to_string(),
                }
                .encode()?;
                let nonce: &[u8; NONCE_LEN] = nonce
                    .try_into()
                    .map_err(|_| AuditError::Internal("nonce buffer length"))?;
                crypto::entry_aad_into(&self.origin, &header, &mut aad);
                // header ‖ nonce ‖ record, the record then sealed where it lies.
                let mut env = Vec::with_capacity(header.len() + NONCE_LEN + p.body.len() + 16);
                env.extend_from_slice(&header);
                env.extend_from_slice(nonce);
                env.extend_from_slice(&p.body);
                let at = header.len() + NONCE_LEN;
                let tag = segment.sealer.seal_in_place(nonce, &aad, &mut env[at..])?;
                env.extend_from_slice(&tag);
                let leaf = merkle::leaf_hash(&env);
                insert_entry
                    .execute(params![seq as i64, env])
                    .map_err(db_err)?;
                self.state.frontier.push(leaf, |n| {
                    if merkle::is_tile_level(n.level) {
                        tiles.push(n);
                    }
                });
                if let Some(s) = self.state.segment.as_mut() {
                    s.count += 1;
                }
                self.state.last_time_ms = time_ms;
                leaves.push((seq, leaf));
            }
            let mut insert_node = tx
                .prepare_cached("INSERT INTO nodes (level, idx, hash) VALUES (?1, ?2, ?3)")
                .map_err(db_err)?;
            for n in &tiles {
                insert_node
                    .execute(params![n.level, n.index as i64, &n.hash[..]])
                    .map_err(db_err)?;
            }
        }
        let old_size = self.state.head.checkpoint.size;
        let signed = Checkpoint {
            origin: self.origin.clone(),
            size: self.state.frontier.size(),
            root: self.state.frontier.root(),
        }
        .sign(&self.signer)?;
        tx.prepare_cached(
            "INSERT INTO head (id, size, note) VALUES (0, ?1, ?2)
             ON CONFLICT (id) DO UPDATE SET size = excluded.size, note = excluded.note",
        )
        .and_then(|mut st| st.execute(params![signed.checkpoint.size as i64, signed.note]))
        .map_err(db_err)?;
        if !self.wrote_history || old_size / HISTORY_EVERY != signed.checkpoint.size / HISTORY_EVERY
        {
            tx.prepare_cached("INSERT OR IGNORE INTO checkpoints (size, note) VALUES (?1, ?2)")
                .and_then(|mut st| st.execute(params![signed.checkpoint.size as i64, signed.note]))
                .map_err(db_err)?;
        }
        tx.commit().map_err(db_err)?;
        debug!(
            size = signed.checkpoint.size,
            batch = batch.len(),
            "audit commit"
        );
        self.state.head = Arc::new(signed);
        Ok(leaves)
    }

    /// The segment that seals an entry recorded at `time_ms`, opening a new one
    /// (with a fresh data key) at a UTC day boundary or when the current one is
    /// full.
    fn segment_for(
        &mut self,
        tx: &rusqlite::Transaction<'_>,
        seq: u64,
        time_ms: u64,
    ) -> Result<OpenSegment, AuditError> {
        let day = time_ms / DAY_MS;
        if let Some(s) = &self.state.segment
            && s.day == day
            && s.count < self.options.segment_max_entries.min(MAX_SEGMENT_ENTRIES)
        {
            return Ok(s.clone());
        }
        let id = self.state.last_segment_id.map_or(0, |i| i + 1);
        let key = SecretKey::generate()?;
        let wrapped = crypto::wrap_data_key(&self.master, &self.origin, id, &key)?;
        tx.execute(
            "INSERT INTO segments (id, first_seq, created_ms, wrapped_key) VALUES (?1, ?2, ?3, ?4)",
            params![id, seq as i64, time_ms as i64, wrapped],
        )
        .map_err(|source| {
            AuditError::Store(crate::store::StoreError {
                path: self.db.clone(),
                source,
            })
        })?;
        let segment = OpenSegment {
            id,
            day,
            count: 0,
            sealer: key.cipher(),
        };
        self.state.segment = Some(segment.clone());
        self.state.last_segment_id = Some(id);
        Ok(segment)
    }

    /// Writes the latest checkpoint beside the database (temporary file, then
    /// rename: a reader sees the old note or the new one, never half of one).
    pub(crate) fn write_witness(&mut self) {
        let tmp = self.witness.with_extension("checkpoint.tmp");
        let result = std::fs::write(&tmp, self.state.head.note.as_bytes())
            .and_then(|()| std::fs::rename(&tmp, &self.witness));
        if let Err(e) = result {
            warn!(path = %self.witness.display(), error = %e, "could not write the witness checkpoint");
        }
        self.witness_at = Some(Instant::now());
    }
}
