//! warden's audit log: every decision recorded so that a skeptic can check it.
//!
//! Each entry (an [`Action`](warden_types::Action) and its
//! [`Verdict`](warden_types::Verdict)) is encoded canonically (RFC 8785), sealed
//! with AES-256-GCM under its segment's data key, and stored as an
//! [envelope](envelope) whose cleartext header is the associated data. The
//! envelopes are the leaves of an RFC 6962 Merkle tree, so integrity is checked
//! without any decryption key; after every commit the writer signs a C2SP
//! checkpoint with the log's Ed25519 key. Inclusion and consistency proofs come
//! from the stored tree on demand, and [`verify`] names the first thing wrong with
//! a log that was edited, truncated, reordered, replaced or rolled back.
//!
//! Storage is one SQLite file in WAL mode with a single writer thread doing group
//! commit; [`AuditLog::append`] returns only when its commit is durable. The
//! crate is synchronous (no tokio): the daemon hands results to its async side
//! through [`AuditLog::submit`]'s completion. `docs/audit-format.md` describes
//! the format normatively.
#![forbid(unsafe_code)]

pub mod baseline;
pub mod bundle;
pub mod checkpoint;
pub mod crypto;
pub mod envelope;
mod error;
pub mod export;
pub mod jcs;
pub mod keys;
mod log;
pub mod merkle;
pub mod note;
mod read;
pub mod record;
pub mod store;
pub mod verify;

pub use error::AuditError;
pub use log::{Announcement, AuditLog, Options, Receipt};
pub use read::{AuditReader, ConsistencyProof, InclusionProof};
pub use store::schema::Durability;
pub use store::writer::ShredReport;
