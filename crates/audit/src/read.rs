//! [`AuditReader`]: read-only access for `warden audit show|tail|search|prove` and
//! the daemon's browsing endpoints, safe while the writer appends (SQLite WAL
//! snapshots).

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::checkpoint::SignedCheckpoint;
use crate::error::AuditError;
use crate::keys;
use crate::merkle;
use crate::note::VerifierKey;
use crate::record::{Decryptor, Entry};
use crate::store::schema::FORMAT;
use crate::store::{DB_FILE, Store};

/// An inclusion proof with everything a third party needs to check it offline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InclusionProof {
    /// The entry's sequence number (= leaf index).
    pub seq: u64,
    /// Hex leaf hash: SHA-256 of 0x00 and the envelope.
    pub leaf_hash: String,
    /// Size of the tree the proof is for.
    pub tree_size: u64,
    /// Hex root of that tree.
    pub root: String,
    /// Hex audit path, from the leaf's sibling upwards.
    pub proof: Vec<String>,
    /// The signed checkpoint of that tree size, when the log holds one.
    pub checkpoint: Option<String>,
    /// The log's verifier key, to check the checkpoint with.
    pub verifier_key: String,
    /// The envelope itself, base64: hashing `0x00 ‖ envelope` gives `leaf_hash`.
    pub envelope: String,
}

/// A consistency proof between two sizes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConsistencyProof {
    /// The older size.
    pub old_size: u64,
    /// The newer size.
    pub new_size: u64,
    /// Hex root at the older size.
    pub old_root: String,
    /// Hex root at the newer size.
    pub new_root: String,
    /// Hex proof hashes.
    pub proof: Vec<String>,
    /// The signed checkpoint of the newer size, when the log holds one.
    pub checkpoint: Option<String>,
}

/// Read-only access to one home's log.
pub struct AuditReader {
    pub(crate) store: Store,
    home: PathBuf,
    origin: String,
    verifier: VerifierKey,
}

impl AuditReader {
    /// Opens the log in `home`. Fails with [`AuditError::NoLog`] if there is none.
    pub fn open(home: &Path) -> Result<AuditReader, AuditError> {
        let db = home.join(DB_FILE);
        if !db.exists() {
            return Err(AuditError::NoLog(db));
        }
        let store = Store::open_read(&db)?;
        let not_a_log = |why: String| AuditError::NotALog {
            db: db.clone(),
            why,
        };
        match store.meta("format")? {
            Some(f) if f == FORMAT => {}
            Some(f) => return Err(not_a_log(format!("format {f:?}, expected {FORMAT:?}"))),
            None => return Err(not_a_log("no format marker".into())),
        }
        let origin = store
            .meta("origin")?
            .ok_or_else(|| not_a_log("no origin".into()))?;
        let verifier: VerifierKey = store
            .meta("verifier_key")?
            .ok_or_else(|| not_a_log("no verifier key".into()))?
            .parse()
            .map_err(|e| not_a_log(format!("its verifier key: {e}")))?;
        Ok(AuditReader {
            store,
            home: home.to_path_buf(),
            origin,
            verifier,
        })
    }

    /// The log's origin line.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The verifier key the database names (compare with one kept elsewhere).
    pub fn verifier(&self) -> &VerifierKey {
        &self.verifier
    }

    /// The home directory.
    pub fn home(&self) -> &Path {
        &self.home
    }

    /// The raw store, for verification.
    pub fn store(&mut self) -> &mut Store {
        &mut self.store
    }

    /// The latest checkpoint, signature checked.
    pub fn checkpoint(&self) -> Result<SignedCheckpoint, AuditError> {
        let (_, note) = self.store.head()?.ok_or(AuditError::Inconsistent {
            db: self.store.path.clone(),
            what: "the log has no checkpoint".into(),
        })?;
        Ok(SignedCheckpoint::open(&note, &self.verifier)?)
    }

    /// A decryptor for this log's entries (needs the master key in `keys/`).
    pub fn decryptor(&self) -> Result<Decryptor, AuditError> {
        let master = keys::load_master(&self.home)?;
        Ok(Decryptor::new(
            &self.origin,
            Some(master),
            &self.store.segments()?,
        ))
    }

    /// Calls `f` with each entry in `from..to` (ascending), opened with `dec`;
    /// `f` returns `false` to stop. Malformed envelopes are reported as errors.
    pub fn for_each(
        &self,
        from: u64,
        to: u64,
        dec: &mut Decryptor,
        mut f: impl FnMut(Entry) -> bool,
    ) -> Result<(), AuditError> {
        let mut bad = None;
        self.store
            .scan(from, to, |seq, bytes| match dec.open(bytes) {
                Ok(e) => f(e),
                Err(e) => {
                    bad = Some((seq, e));
                    false
                }
            })?;
        match bad {
            Some((_, e)) => Err(e.into()),
            None => Ok(()),
        }
    }

    /// Like [`AuditReader::for_each`], newest first, starting below `before`.
    pub fn for_each_back(
        &self,
        before: u64,
        dec: &mut Decryptor,
        mut f: impl FnMut(Entry) -> bool,
    ) -> Result<(), AuditError> {
        let mut bad = None;
        self.store
            .scan_back(before, |_, bytes| match dec.open(bytes) {
                Ok(e) => f(e),
                Err(e) => {
                    bad = Some(e);
                    false
                }
            })?;
        match bad {
            Some(e) => Err(e.into()),
            None => Ok(()),
        }
    }

    /// The inclusion proof of entry `seq` in the latest checkpoint's tree (or in
    /// the tree of `size` entries).
    pub fn prove(&mut self, seq: u64, size: Option<u64>) -> Result<InclusionProof, AuditError> {
        let verifier = self.verifier.to_string();
        let verifier_key = self.verifier.clone();
        let head = self.checkpoint()?;
        self.store.snapshot(|store| {
            let size = size.unwrap_or(head.checkpoint.size);
            let head_size = head.checkpoint.size;
            if size > head_size || seq >= size {
                return Err(AuditError::NoSuchEntry {
                    seq,
                    size: size.min(head_size),
                });
            }
            let envelope = store
                .envelope(seq)?
                .ok_or(AuditError::NoSuchEntry { seq, size })?;
            let proof = merkle::inclusion_proof(store, seq, size).map_err(prove_err)?;
            let root = merkle::range_root(store, 0, size)?;
            let checkpoint = checkpoint_at(store, size, &head)?;
            check_against_signed(store, size, &root, &head, &verifier_key)?;
            use base64::Engine;
            Ok(InclusionProof {
                seq,
                leaf_hash: hex::encode(merkle::leaf_hash(&envelope)),
                tree_size: size,
                root: hex::encode(root),
                proof: proof.iter().map(hex::encode).collect(),
                checkpoint,
                verifier_key: verifier,
                envelope: base64::engine::general_purpose::STANDARD.encode(&envelope),
            })
        })
    }

    /// The consistency proof from `old` entries to the latest checkpoint (or to
    /// `new` entries).
    pub fn prove_consistency(
        &mut self,
        old: u64,
        new: Option<u64>,
    ) -> Result<ConsistencyProof, AuditError> {
        let head = self.checkpoint()?;
        let key = self.verifier.clone();
        self.store.snapshot(|store| {
            let new = new.unwrap_or(head.checkpoint.size);
            if new > head.checkpoint.size {
                return Err(AuditError::NoSuchEntry {
                    seq: new.saturating_sub(1),
                    size: head.checkpoint.size,
                });
            }
            let proof = merkle::consistency_proof(store, old, new).map_err(prove_err)?;
            let old_root = merkle::range_root(store, 0, old)?;
            let new_root = merkle::range_root(store, 0, new)?;
            check_against_signed(store, old, &old_root, &head, &key)?;
            check_against_signed(store, new, &new_root, &head, &key)?;
            Ok(ConsistencyProof {
                old_size: old,
                new_size: new,
                old_root: hex::encode(old_root),
                new_root: hex::encode(new_root),
                proof: proof.iter().map(hex::encode).collect(),
                checkpoint: checkpoint_at(store, new, &head)?,
            })
        })
    }
}

fn prove_err(e: merkle::ProveError<crate::store::NodeError>) -> AuditError {
    match e {
        merkle::ProveError::IndexOutOfRange { index, size } => {
            AuditError::NoSuchEntry { seq: index, size }
        }
        merkle::ProveError::SizeOrder { old, new } => AuditError::NoSuchEntry {
            seq: old.saturating_sub(1),
            size: new,
        },
        merkle::ProveError::Source(e) => AuditError::Node(e),
    }
}

/// A proof is only as good as the root it leads to: that root must be the one
/// the log signed at that size (when it kept a checkpoint there), else the stored
/// tree was altered and no proof is handed out.
fn check_against_signed(
    store: &Store,
    size: u64,
    root: &merkle::Hash,
    head: &SignedCheckpoint,
    key: &VerifierKey,
) -> Result<(), AuditError> {
    let signed = if head.checkpoint.size == size {
        Some(head.checkpoint.root)
    } else {
        checkpoint_at(store, size, head)?
            .and_then(|note| SignedCheckpoint::open(&note, key).ok())
            .map(|c| c.checkpoint.root)
    };
    match signed {
        Some(r) if r != *root => Err(AuditError::Inconsistent {
            db: store.path.clone(),
            what: format!(
                "the stored tree's root at size {size} is not the one the log signed; run `warden audit verify`"
            ),
        }),
        _ => Ok(()),
    }
}

/// The signed note for tree size `size`: the head, or a history entry.
fn checkpoint_at(
    store: &Store,
    size: u64,
    head: &SignedCheckpoint,
) -> Result<Option<String>, AuditError> {
    if head.checkpoint.size == size {
        return Ok(Some(head.note.clone()));
    }
    Ok(store
        .history()?
        .into_iter()
        .find(|(s, _)| *s == size)
        .map(|(_, n)| n))
}
