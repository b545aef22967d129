//! [`AuditLog`]: the API the daemon uses. `append` returns only when the record is
//! durable, with a receipt naming its sequence number, leaf hash and the signed
//! checkpoint that covers it.
//!
//! Opening a log checks it before anything is appended (crash safety): the
//! latest checkpoint's signature, that the entries end exactly where it says,
//! that the tree's right edge hashes to its root, and SQLite's quick integrity
//! check. A log that fails any of these is not appended to: the caller gets
//! [`AuditError::Inconsistent`] and, being the governor, denies.

use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::params;
use warden_types::{Action, AuditReceipt, Verdict};

use crate::checkpoint::{Checkpoint, SignedCheckpoint};
use crate::crypto;
use crate::envelope;
use crate::error::AuditError;
use crate::keys::{self, KeyError};
use crate::merkle::{self, Frontier, Hash};
use crate::record;
use crate::store::queue::Shared;
use crate::store::schema::{self, Durability, FORMAT};
use crate::store::writer::{self, Core, Msg, OpenSegment, Pending, ShredReport, TreeState, Writer};
use crate::store::{DB_FILE, LOCK_FILE, Store, WITNESS_FILE};

/// How a writer behaves.
#[derive(Debug, Clone)]
pub struct Options {
    /// When an append is acknowledged (default: strict).
    pub durability: Durability,
    /// Most appends in one commit (default 1,000).
    pub max_batch: usize,
    /// How long a commit may wait for appends that were announced
    /// ([`AuditLog::announce`]) and are not queued yet (default 0: a batch is
    /// whatever queued up during the previous commit). Nothing announced,
    /// nothing waits.
    pub max_linger: Duration,
    /// Most entries sealed under one data key (default 2^20, at most 2^24: the
    /// random-nonce bound of `crypto`; a segment also ends at each UTC midnight).
    pub segment_max_entries: u64,
    /// Run SQLite's `quick_check` on open (default true).
    pub integrity_check: bool,
    /// Appends that may wait for the writer before `submit` blocks (default 65,536).
    pub queue: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            durability: Durability::Strict,
            max_batch: 1000,
            max_linger: Duration::ZERO,
            segment_max_entries: 1 << 20,
            integrity_check: true,
            queue: 65_536,
        }
    }
}

/// An append announced with [`AuditLog::announce`]; withdrawn when dropped
/// unsubmitted.
#[must_use = "an announcement is meant for submit_announced; dropping it withdraws it"]
pub struct Announcement {
    shared: Option<Arc<Shared>>,
}

impl Drop for Announcement {
    fn drop(&mut self) {
        if let Some(s) = self.shared.take() {
            s.withdraw();
        }
    }
}

impl std::fmt::Debug for Announcement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Announcement")
    }
}

/// Proof that an append is durable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The entry's sequence number (its leaf index).
    pub seq: u64,
    /// Its Merkle leaf hash.
    pub leaf_hash: Hash,
    /// The signed checkpoint of the commit that made it durable.
    pub checkpoint: Arc<SignedCheckpoint>,
}

impl Receipt {
    /// The receipt in the Verdict contract's shape.
    pub fn to_audit_receipt(&self) -> AuditReceipt {
        AuditReceipt {
            seq: self.seq,
            leaf_hash: hex::encode(self.leaf_hash),
            checkpoint: self.checkpoint.note.clone(),
        }
    }
}

/// The writing side of one home's audit log. Only one exists per home at a time
/// (an exclusive lock on `audit.lock`); readers use [`crate::AuditReader`].
pub struct AuditLog {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    home: PathBuf,
    origin: String,
    _lock: File,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> AuditError + '_ {
    move |source| AuditError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl AuditLog {
    /// Opens the log in `home` for appending, creating the log and its keys on
    /// first use.
    pub fn open(home: &Path, options: Options) -> Result<AuditLog, AuditError> {
        keys::ensure_private_dir(home).or_else(|e| match e {
            // An existing home with looser permissions (a test tempdir, a home the
            // user made) is used as is: secrets live in keys/, which is checked.
            KeyError::Permissions { .. } => Ok(()),
            e => Err(e),
        })?;
        let lock_path = home.join(LOCK_FILE);
        let lock = File::create(&lock_path).map_err(io_err(&lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Err(AuditError::InUse(lock_path)),
            Err(TryLockError::Error(e)) => return Err(io_err(&lock_path)(e)),
        }
        let db = home.join(DB_FILE);
        let witness_path = home.join(WITNESS_FILE);
        let ring = if db.exists() {
            // An existing log only ever uses its own keys: new ones would start a
            // second log under the old one's name.
            keys::load_existing(home)?
        } else {
            // No database, but traces of one: it was deleted (or the home is
            // half restored). Starting afresh would have the log's own key sign
            // a history that contradicts every checkpoint it signed before.
            for trace in [keys::signer_path(home), witness_path.clone()] {
                if trace.exists() {
                    return Err(AuditError::Inconsistent {
                        db: db.clone(),
                        what: format!(
                            "the database is missing but {} exists: the log was deleted or not restored (if this home never held a log, remove keys/ and {WITNESS_FILE})",
                            trace.display()
                        ),
                    });
                }
            }
            let default_origin = format!("warden/{}", keys::machine_id(home)?);
            keys::load_or_create(home, &default_origin)?
        };
        let origin = ring.signer.name().to_string();
        let verifier = ring.signer.verifier();
        let conn = schema::open_writer(&db, options.durability).map_err(|source| {
            AuditError::Store(crate::store::StoreError {
                path: db.clone(),
                source,
            })
        })?;
        let mut store = Store {
            conn,
            path: db.clone(),
        };
        let inconsistent = |what: String| AuditError::Inconsistent {
            db: db.clone(),
            what,
        };
        if options.integrity_check {
            let result: String = store
                .conn
                .query_row("PRAGMA quick_check", [], |r| r.get(0))
                .map_err(store.err())?;
            if result != "ok" {
                return Err(inconsistent(format!("SQLite integrity check: {result}")));
            }
        }
        match store.meta("format")? {
            None => {
                let now = writer::now_ms();
                let empty = Checkpoint {
                    origin: origin.clone(),
                    size: 0,
                    root: merkle::empty_root(),
                }
                .sign(&ring.signer)?;
                let tx = store.conn.transaction().map_err(|source| {
                    AuditError::Store(crate::store::StoreError {
                        path: db.clone(),
                        source,
                    })
                })?;
                let created = (|| {
                    for (k, v) in [
                        ("format", FORMAT.to_string()),
                        ("origin", origin.clone()),
                        ("verifier_key", verifier.to_string()),
                        ("created_ms", now.to_string()),
                    ] {
                        tx.execute(
                            "INSERT INTO meta (key, value) VALUES (?1, ?2)",
                            params![k, v],
                        )?;
                    }
                    tx.execute(
                        "INSERT INTO head (id, size, note) VALUES (0, 0, ?1)",
                        [&empty.note],
                    )?;
                    tx.execute(
                        "INSERT INTO checkpoints (size, note) VALUES (0, ?1)",
                        [&empty.note],
                    )?;
                    tx.commit()
                })();
                created.map_err(|source| {
                    AuditError::Store(crate::store::StoreError {
                        path: db.clone(),
                        source,
                    })
                })?;
            }
            Some(f) if f == FORMAT => {}
            Some(f) => {
                return Err(AuditError::NotALog {
                    db,
                    why: format!("format {f:?}, expected {FORMAT:?}"),
                });
            }
        }
        let meta_origin = store.meta("origin")?.unwrap_or_default();
        if meta_origin != origin {
            return Err(inconsistent(format!(
                "the log is {meta_origin:?} but the signing key in keys/ is for {origin:?}"
            )));
        }
        if store.meta("verifier_key")?.as_deref() != Some(verifier.to_string().as_str()) {
            return Err(inconsistent(format!(
                "the log was created with a different signing key than keys/ holds ({verifier})"
            )));
        }
        let state = recover_state(&mut store, &ring, &origin, &inconsistent)?;
        check_witness(&witness_path, &mut store, &ring, &state, &inconsistent)?;
        let core = Core {
            db: db.clone(),
            witness: home.join(WITNESS_FILE),
            origin: origin.clone(),
            signer: ring.signer,
            master: ring.master,
            state,
            options: options.clone(),
            failed: None,
            wrote_history: false,
            witness_at: None,
        };
        let w = Writer {
            conn: store.conn,
            core,
        };
        let shared = Shared::new(w, options.queue);
        let background = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("warden-audit-writer".into())
            .spawn(move || background.run_background())
            .map_err(io_err(&db))?;
        Ok(AuditLog {
            shared,
            thread: Some(thread),
            home: home.to_path_buf(),
            origin,
            _lock: lock,
        })
    }

    /// The log's origin, `warden/<machine-id>`.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The home directory.
    pub fn home(&self) -> &Path {
        &self.home
    }

    /// Records `verdict` for `action` and returns once it is durable.
    pub fn append(&self, action: &Action, verdict: &Verdict) -> Result<Receipt, AuditError> {
        let body = record::encode(action, verdict)?;
        self.shared.append_blocking(body, action.origin.as_str())
    }

    /// Queues a record and returns at once; `done` runs on the writer thread with
    /// the receipt once the record is durable, or with the error. `done` must be
    /// quick (hand the result to a channel): it delays the next commit.
    pub fn submit(
        &self,
        action: &Action,
        verdict: &Verdict,
        done: impl FnOnce(Result<Receipt, AuditError>) + Send + 'static,
    ) -> Result<(), AuditError> {
        let body = record::encode(action, verdict)?;
        self.shared.enqueue(
            Msg::Append(Pending::new(body, action.origin.as_str(), Box::new(done))),
            true,
        )
    }

    /// Commits (group commits) made since this log was opened.
    pub fn commits(&self) -> u64 {
        self.shared
            .commits
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Says that an append will follow shortly (a decision has started): a
    /// commit running meanwhile waits up to `max_linger` for it, so concurrent
    /// decisions share one commit. Hand it to [`AuditLog::submit_announced`];
    /// dropping it unused withdraws it.
    pub fn announce(&self) -> Announcement {
        self.shared.announce();
        Announcement {
            shared: Some(Arc::clone(&self.shared)),
        }
    }

    /// [`AuditLog::submit`] of the append `announcement` promised. When it is
    /// the only append in flight and no commit is running, it is committed on
    /// the calling thread and `done` has run when this returns (a commit's
    /// time, an fsync in strict mode); otherwise it returns at once, as
    /// `submit` does.
    pub fn submit_announced(
        &self,
        mut announcement: Announcement,
        action: &Action,
        verdict: &Verdict,
        done: impl FnOnce(Result<Receipt, AuditError>) + Send + 'static,
    ) -> Result<(), AuditError> {
        // On an error here the announcement withdraws itself as it drops.
        let body = record::encode(action, verdict)?;
        // From here the queue takes the announcement over.
        announcement.shared = None;
        self.shared.enqueue_announced(Msg::Append(Pending::new(
            body,
            action.origin.as_str(),
            Box::new(done),
        )))
    }

    /// The inclusion proof of entry `seq` in the latest checkpoint's tree, read
    /// on a fresh read connection (the writer is never blocked by it).
    pub fn prove(&self, seq: u64) -> Result<crate::InclusionProof, AuditError> {
        crate::AuditReader::open(&self.home)?.prove(seq, None)
    }

    /// Full verification of the log as it stands (see [`crate::verify`]).
    pub fn verify(&self) -> Result<crate::verify::VerifyReport, AuditError> {
        let mut reader = crate::AuditReader::open(&self.home)?;
        crate::verify::verify_log(&mut reader)
    }

    /// Waits until everything submitted so far is committed (or refused).
    pub fn flush(&self) -> Result<(), AuditError> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.shared.enqueue(Msg::Sync(tx), true)?;
        rx.recv().map_err(|_| AuditError::Closed)
    }

    /// Retention by crypto-shredding: destroys the data keys of closed segments
    /// whose last entry is older than `before_ms` (ms since the epoch) and returns
    /// their ids. Their entries stay, so the log still verifies; their records
    /// can no longer be decrypted by anyone.
    pub fn shred_before(&self, before_ms: u64) -> Result<ShredReport, AuditError> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.shared.enqueue(Msg::Shred(before_ms, tx), true)?;
        rx.recv().map_err(|_| AuditError::Closed)?
    }

    /// Commits everything queued, stops the writer and releases the lock.
    pub fn close(mut self) -> Result<(), AuditError> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<(), AuditError> {
        self.shared.close();
        match self.thread.take() {
            Some(t) => t.join().map_err(|_| AuditError::Closed),
            None => Ok(()),
        }
    }
}

impl Drop for AuditLog {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

/// The witness beside the database must not be ahead of it (a restored older
/// copy) nor disagree with it (a fork). A witness that does not parse or is
/// signed by another key is left for `verify` to report: it only ever adds
/// evidence, it never decides that appending is safe.
fn check_witness(
    path: &Path,
    store: &mut Store,
    ring: &keys::KeyRing,
    state: &TreeState,
    inconsistent: &dyn Fn(String) -> AuditError,
) -> Result<(), AuditError> {
    let Ok(note) = std::fs::read_to_string(path) else {
        return Ok(());
    };
    let Ok(witness) = SignedCheckpoint::open(&note, &ring.signer.verifier()) else {
        tracing::warn!(path = %path.display(), "the witness checkpoint does not verify; `warden audit verify` will report it");
        return Ok(());
    };
    let size = state.head.checkpoint.size;
    let w = &witness.checkpoint;
    if w.size > size {
        return Err(inconsistent(format!(
            "{} covers {} entries but the log holds {size}: the log was rolled back or truncated",
            path.display(),
            w.size
        )));
    }
    if merkle::range_root(store, 0, w.size)? != w.root {
        return Err(inconsistent(format!(
            "the first {} entries no longer hash to the root {} signed: the log forked",
            w.size,
            path.display()
        )));
    }
    Ok(())
}

/// Rebuilds the writer's state from the database and checks it against the
/// latest signed checkpoint.
fn recover_state(
    store: &mut Store,
    ring: &keys::KeyRing,
    origin: &str,
    inconsistent: &dyn Fn(String) -> AuditError,
) -> Result<TreeState, AuditError> {
    let (_, note) = store
        .head()?
        .ok_or_else(|| inconsistent("the log has no checkpoint".into()))?;
    let head = SignedCheckpoint::open(&note, &ring.signer.verifier())
        .map_err(|e| inconsistent(format!("the latest checkpoint does not verify: {e}")))?;
    let (rows, end) = store.entry_bounds()?;
    if rows != end {
        return Err(inconsistent(format!(
            "{} of the sequence numbers 0 to {} are missing",
            end - rows,
            end.saturating_sub(1)
        )));
    }
    let size = head.checkpoint.size;
    if end != size {
        return Err(inconsistent(format!(
            "the latest checkpoint covers {size} entries but the database holds {end}"
        )));
    }
    let frontier = Frontier::of_size(size, store)?;
    if frontier.root() != head.checkpoint.root {
        return Err(inconsistent(
            "the tree's right edge does not hash to the latest checkpoint's root".into(),
        ));
    }
    let last_time_ms = match size.checked_sub(1) {
        None => 0,
        Some(last) => store
            .envelope(last)?
            .and_then(|e| envelope::peek_seq_time(&e))
            .map(|(_, t)| t)
            .ok_or_else(|| inconsistent(format!("entry {last} has no readable header")))?,
    };
    let segments = store.segments()?;
    let last_segment_id = segments.last().map(|s| s.id);
    if let Some(s) = segments.last() {
        // The open segment's entry count bounds how much its key seals: its
        // first entry must really be where the table says it starts.
        let starts_there = match store.envelope(s.first_seq)? {
            Some(env) => envelope::parse(&env).is_ok_and(|e| e.header.segment == s.id),
            None => s.first_seq == size,
        };
        let before_is_other = match s.first_seq.checked_sub(1) {
            None => true,
            Some(prev) => store
                .envelope(prev)?
                .and_then(|env| envelope::parse(&env).ok().map(|e| e.header.segment != s.id))
                .unwrap_or(false),
        };
        if !starts_there || !before_is_other {
            return Err(inconsistent(format!(
                "segment {} does not start at entry {} as the segments table says",
                s.id, s.first_seq
            )));
        }
    }
    let segment = match segments.last() {
        Some(s) if s.wrapped_key.is_some() => {
            let wrapped = s.wrapped_key.as_deref().unwrap_or_default();
            let key =
                crypto::unwrap_data_key(&ring.master, origin, s.id, wrapped).map_err(|e| {
                    inconsistent(format!(
                        "the data key of segment {} does not open: {e}",
                        s.id
                    ))
                })?;
            Some(OpenSegment {
                id: s.id,
                day: s.created_ms / 86_400_000,
                count: size.saturating_sub(s.first_seq),
                sealer: key.cipher(),
            })
        }
        _ => None,
    };
    Ok(TreeState {
        frontier,
        segment,
        last_segment_id,
        last_time_ms,
        head: Arc::new(head),
    })
}
