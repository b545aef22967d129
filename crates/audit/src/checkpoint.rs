//! Checkpoints in the C2SP `tlog-checkpoint` format: the signed statement "this log
//! had `size` entries with this `root`", which a user keeps elsewhere to hold the
//! log to its past.
//!
//! ```text
//! warden/3d1219c7c4c5404aaa1f6d2a48adfda4
//! 1042
//! 6Ha3Ok4B0Wqo7mZ3mDnhLv7Xr8dSVJyVxX4XJhCj0Dc=
//!
//! — warden/3d1219c7c4c5404aaa1f6d2a48adfda4 Az3grlgt…
//! ```

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

use crate::merkle::Hash;
use crate::note::{self, NoteError, OpenedNote, SignerKey, VerifierKey};

/// Why a checkpoint was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    /// The note around it failed.
    #[error(transparent)]
    Note(#[from] NoteError),
    /// The body is not `origin`, `size`, `root` lines.
    #[error("malformed checkpoint body: {0}")]
    Body(&'static str),
    /// A checkpoint of another log.
    #[error("checkpoint is for log {found:?}, not {expected:?}")]
    WrongOrigin {
        /// The origin line found.
        found: String,
        /// The origin expected.
        expected: String,
    },
}

/// The body of a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's origin line, `warden/<machine-id>`.
    pub origin: String,
    /// Number of entries.
    pub size: u64,
    /// RFC 6962 root of those entries.
    pub root: Hash,
}

impl Checkpoint {
    /// The note text: three lines, each ending in a newline.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root)
        )
    }

    /// Parses a checkpoint body. Extension lines after the root are allowed by the
    /// format and ignored here (warden writes none).
    pub fn parse_body(text: &str) -> Result<Self, CheckpointError> {
        let body = text
            .strip_suffix('\n')
            .ok_or(CheckpointError::Body("does not end in a newline"))?;
        let mut lines = body.split('\n');
        let origin = lines.next().unwrap_or_default();
        if origin.is_empty() {
            return Err(CheckpointError::Body("the origin line is empty"));
        }
        let size_text = lines
            .next()
            .ok_or(CheckpointError::Body("no tree size line"))?;
        let canonical = size_text == "0"
            || (!size_text.starts_with('0') && size_text.bytes().all(|b| b.is_ascii_digit()));
        let size = size_text
            .parse::<u64>()
            .ok()
            .filter(|_| canonical && !size_text.is_empty())
            .ok_or(CheckpointError::Body(
                "the tree size is not a decimal number without leading zeros",
            ))?;
        let root_text = lines
            .next()
            .ok_or(CheckpointError::Body("no root hash line"))?;
        let root: Hash = B64
            .decode(root_text)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or(CheckpointError::Body(
                "the root hash is not 32 bytes of base64",
            ))?;
        if lines.any(str::is_empty) {
            return Err(CheckpointError::Body("an empty extension line"));
        }
        Ok(Checkpoint {
            origin: origin.to_string(),
            size,
            root,
        })
    }

    /// Signs the checkpoint.
    pub fn sign(&self, signer: &SignerKey) -> Result<SignedCheckpoint, CheckpointError> {
        let note = signer.sign(&self.body())?;
        Ok(SignedCheckpoint {
            checkpoint: self.clone(),
            note,
        })
    }
}

/// A checkpoint together with the signed note it came in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCheckpoint {
    /// The body.
    pub checkpoint: Checkpoint,
    /// The whole signed note, as printed by `warden audit checkpoint`.
    pub note: String,
}

impl SignedCheckpoint {
    /// Opens `note` with `key`, requires the key's name as the origin, and parses
    /// the body.
    pub fn open(note_text: &str, key: &VerifierKey) -> Result<Self, CheckpointError> {
        let opened: OpenedNote = note::open(note_text.as_bytes(), std::slice::from_ref(key))?;
        let checkpoint = Checkpoint::parse_body(&opened.text)?;
        if checkpoint.origin != key.name() {
            return Err(CheckpointError::WrongOrigin {
                found: checkpoint.origin,
                expected: key.name().to_string(),
            });
        }
        Ok(SignedCheckpoint {
            checkpoint,
            note: note_text.to_string(),
        })
    }

    /// Parses the body without checking any signature (to diagnose a checkpoint
    /// signed by a key we do not hold).
    pub fn parse_unverified(note_text: &str) -> Result<Checkpoint, CheckpointError> {
        let split = note_text
            .rfind("\n\n")
            .ok_or(NoteError::Malformed("no blank line before the signatures"))?;
        Checkpoint::parse_body(&note_text[..split + 1])
    }

    /// The `(name, key id)` of each signature line, unverified.
    pub fn signers(note_text: &str) -> Vec<(String, u32)> {
        match note::open(note_text.as_bytes(), &[]) {
            Err(NoteError::NotSignedByKnownKey { signers }) => signers
                .iter()
                .filter_map(|s| {
                    let (name, id) = s.rsplit_once('+')?;
                    Some((name.to_string(), u32::from_str_radix(id, 16).ok()?))
                })
                .collect(),
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::empty_root;

    #[test]
    fn body_round_trip_and_signature() {
        let signer = SignerKey::from_seed("warden/abc", &[1u8; 32]).unwrap();
        let cp = Checkpoint {
            origin: "warden/abc".into(),
            size: 42,
            root: empty_root(),
        };
        let signed = cp.sign(&signer).unwrap();
        let back = SignedCheckpoint::open(&signed.note, &signer.verifier()).unwrap();
        assert_eq!(back.checkpoint, cp);
        assert_eq!(
            SignedCheckpoint::parse_unverified(&signed.note).unwrap(),
            cp
        );
        assert_eq!(
            SignedCheckpoint::signers(&signed.note),
            vec![("warden/abc".to_string(), signer.verifier().id())]
        );
    }

    #[test]
    fn bodies_that_are_not_canonical_are_refused() {
        let root = B64.encode([0u8; 32]);
        for bad in [
            format!("o\n042\n{root}\n"),
            format!("o\n-1\n{root}\n"),
            format!("o\n\n{root}\n"),
            format!("\n1\n{root}\n"),
            "o\n1\nAAAA\n".to_string(),
            format!("o\n1\n{root}"),
            format!("o\n1\n{root}\n\n"),
            "o\n1\n".to_string(),
        ] {
            assert!(Checkpoint::parse_body(&bad).is_err(), "{bad:?}");
        }
        assert!(Checkpoint::parse_body(&format!("o\n0\n{root}\next\n")).is_ok());
    }
}
