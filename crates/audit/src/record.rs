//! The record sealed inside each envelope: the Action and its Verdict, encoded
//! canonically (RFC 8785), and its decoded form for readers.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use warden_types::{Action, Verdict};

use crate::crypto::{self, Sealer};
use crate::envelope::{self, EnvelopeError};
use crate::error::AuditError;
use crate::jcs;
use crate::keys;
use crate::merkle::{self, Hash};
use crate::store::SegmentRow;

/// Largest canonical record accepted. An action this large (a multi-megabyte tool
/// argument) is refused rather than truncated: the governor then denies it.
pub const MAX_RECORD_LEN: usize = 4 << 20;

/// What one entry records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    /// The action as the interceptor built it (and the daemon completed it).
    pub action: Action,
    /// The verdict, including who answered an ask and when. Its `audit` receipt is
    /// never part of the record (it is derived from the record).
    pub verdict: Verdict,
}

/// Encodes `action` and `verdict` as the canonical record plaintext.
pub fn encode(action: &Action, verdict: &Verdict) -> Result<Vec<u8>, AuditError> {
    #[derive(Serialize)]
    struct RecordRef<'a> {
        action: &'a Action,
        verdict: &'a Verdict,
    }
    let mut value = serde_json::to_value(RecordRef { action, verdict })
        .map_err(|_| AuditError::Internal("an Action or Verdict did not serialize"))?;
    if let Some(v) = value.get_mut("verdict").and_then(|v| v.as_object_mut()) {
        v.remove("audit");
    }
    let bytes = jcs::to_vec(&value);
    if bytes.len() > MAX_RECORD_LEN {
        return Err(AuditError::RecordTooLarge {
            len: bytes.len(),
            max: MAX_RECORD_LEN,
        });
    }
    Ok(bytes)
}

/// Decodes a record's plaintext (after its AEAD tag checked out). Unknown keys
/// are errors, as everywhere in the contract.
pub fn decode(plain: &[u8]) -> Result<Record, serde_json::Error> {
    serde_json::from_slice(plain)
}

/// What a reader could make of an entry's sealed part.
#[derive(Debug, Clone, PartialEq)]
pub enum Content {
    /// Decrypted and authenticated.
    Record(Box<Record>),
    /// Its segment's key was destroyed by retention.
    Shredded,
    /// It did not open or parse: the entry was altered.
    Unreadable(String),
    /// Its segment's data key is missing from the table or does not unwrap: a
    /// problem of the segment (reported once by `verify`), not of this entry.
    NoKey(String),
    /// Not decrypted (no key was asked for).
    Sealed,
}

/// One entry as read back.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Sequence number.
    pub seq: u64,
    /// When it was recorded (ms since the epoch, UTC).
    pub time_ms: u64,
    /// Segment that sealed it.
    pub segment: u32,
    /// The interceptor that built the action.
    pub origin: String,
    /// Its Merkle leaf hash.
    pub leaf_hash: Hash,
    /// The record, if it could be read.
    pub content: Content,
}

impl Entry {
    /// The record, when decrypted.
    pub fn record(&self) -> Option<&Record> {
        match &self.content {
            Content::Record(r) => Some(r),
            _ => None,
        }
    }
}

/// Opens envelopes with the segment keys of one log.
#[derive(Clone)]
pub struct Decryptor {
    origin: String,
    master: Option<crypto::SecretKey>,
    segments: HashMap<u32, Option<Vec<u8>>>,
    sealers: HashMap<u32, Result<Option<Sealer>, String>>,
}

impl Decryptor {
    /// A decryptor for the log `origin`; without a master key, entries stay sealed.
    pub fn new(origin: &str, master: Option<crypto::SecretKey>, segments: &[SegmentRow]) -> Self {
        Decryptor {
            origin: origin.to_string(),
            master,
            segments: segments
                .iter()
                .map(|s| (s.id, s.wrapped_key.clone()))
                .collect(),
            sealers: HashMap::new(),
        }
    }

    /// Loads the master key of `home` for a decryptor.
    pub fn master_of(home: &std::path::Path) -> Result<crypto::SecretKey, AuditError> {
        Ok(keys::load_master(home)?)
    }

    /// A decryptor given data keys directly (an export bundle's revealed keys).
    pub fn with_data_keys(origin: &str, keys: HashMap<u32, crypto::SecretKey>) -> Self {
        Decryptor {
            origin: origin.to_string(),
            master: None,
            segments: HashMap::new(),
            sealers: keys
                .into_iter()
                .map(|(id, k)| (id, Ok(Some(k.cipher()))))
                .collect(),
        }
    }

    fn sealer(&mut self, segment: u32) -> Result<Option<Sealer>, String> {
        if !self.sealers.contains_key(&segment) {
            let Some(master) = &self.master else {
                return Ok(None);
            };
            let sealer = match self.segments.get(&segment) {
                None => Err(format!("segment {segment} is not in the segments table")),
                Some(None) => Ok(None),
                Some(Some(wrapped)) => {
                    crypto::unwrap_data_key(master, &self.origin, segment, wrapped)
                        .map(|k| Some(k.cipher()))
                        .map_err(|e| {
                            format!("the data key of segment {segment} does not open: {e}")
                        })
                }
            };
            self.sealers.insert(segment, sealer);
        }
        self.sealers.get(&segment).cloned().unwrap_or(Ok(None))
    }

    /// Whether this decryptor can open anything at all.
    pub fn has_keys(&self) -> bool {
        self.master.is_some() || !self.sealers.is_empty()
    }

    /// Parses `bytes` and opens the record when a key is at hand.
    pub fn open(&mut self, bytes: &[u8]) -> Result<Entry, EnvelopeError> {
        let env = envelope::parse(bytes)?;
        let h = &env.header;
        let content = if !self.has_keys() {
            Content::Sealed
        } else {
            match self.sealer(h.segment) {
                Err(why) => Content::NoKey(why),
                Ok(None) if self.master.is_some() => Content::Shredded,
                Ok(None) => Content::Sealed,
                Ok(Some(sealer)) => {
                    let aad = crypto::entry_aad(&self.origin, env.header_bytes);
                    match sealer.open(env.nonce, &aad, env.sealed) {
                        Err(e) => Content::Unreadable(e.to_string()),
                        Ok(plain) => match decode(&plain) {
                            Ok(r) => Content::Record(Box::new(r)),
                            Err(e) => {
                                Content::Unreadable(format!("the record does not parse: {e}"))
                            }
                        },
                    }
                }
            }
        };
        Ok(Entry {
            seq: h.seq,
            time_ms: h.time_ms,
            segment: h.segment,
            origin: h.origin.clone(),
            leaf_hash: merkle::leaf_hash(bytes),
            content,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use warden_types::{ActionKind, AuditReceipt, Decision, Threat};

    #[test]
    fn encoding_is_canonical_and_drops_the_receipt() {
        let action = Action::new(
            "/w",
            ActionKind::Shell {
                command: "ls".into(),
            },
        );
        let mut verdict = warden_types::Verdict::malformed("x");
        verdict.decision = Decision::Allow;
        verdict.threat = Threat::Benign;
        let a = encode(&action, &verdict).unwrap();
        verdict.audit = Some(AuditReceipt {
            seq: 1,
            leaf_hash: "00".into(),
            checkpoint: "c".into(),
        });
        let b = encode(&action, &verdict).unwrap();
        assert_eq!(a, b);
        let text = String::from_utf8(a).unwrap();
        assert!(
            text.starts_with(r#"{"action":{"agent":{"id":"","name":""},"cwd":"/w""#),
            "{text}"
        );
        let back: Record = serde_json::from_str(&text).unwrap();
        assert_eq!(back.action, action);
    }
}
