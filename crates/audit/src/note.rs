//! C2SP signed notes with Ed25519 keys, in the syntax of Go's
//! `golang.org/x/mod/sumdb/note`, so checkpoints can be checked by the same tools
//! transparency logs use.
//!
//! A note is UTF-8 text ending in a newline, a blank line, then one line per
//! signature: `— <key name> <base64(key id ‖ signature)>`. A key id is the first
//! four bytes of `SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key)`. Verifier keys read
//! `<name>+<key id, 8 hex digits>+<base64(0x01 ‖ public key)>`; signer keys carry a
//! `PRIVATE+KEY+` prefix and the 32-byte seed instead of the public key.

use std::fmt;
use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// The algorithm byte of Ed25519 keys.
const ALG_ED25519: u8 = 1;
/// Every signature line starts with an em dash and a space.
const SIG_PREFIX: &str = "\u{2014} ";
/// A note with more signatures than this is refused before any is checked (Go's
/// limit: a hostile note must not make the verifier spend unbounded time).
const MAX_SIGNATURES: usize = 100;
/// Longest note accepted, far above any checkpoint.
pub const MAX_NOTE_LEN: usize = 1 << 20;

/// Why a key or a note was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// The verifier key text is not `name+hash+key`.
    #[error("malformed verifier key {key:?}: {why}")]
    BadVerifierKey {
        /// The key text (public, safe to show).
        key: String,
        /// What is wrong.
        why: &'static str,
    },
    /// The signer key text is not `PRIVATE+KEY+name+hash+key`.
    #[error("malformed signer key: {0}")]
    BadSignerKey(&'static str),
    /// The key id in a key does not match its name and key.
    #[error("key id {id:08x} of key {name:?} does not match its name and public key")]
    KeyIdMismatch {
        /// The key name.
        name: String,
        /// The id the key text gave.
        id: u32,
    },
    /// A key of an algorithm other than Ed25519.
    #[error("key {name:?} uses algorithm {alg}, only Ed25519 (1) is supported")]
    UnknownAlgorithm {
        /// The key name.
        name: String,
        /// The algorithm byte.
        alg: u8,
    },
    /// The text is not a well-formed signed note.
    #[error("malformed note: {0}")]
    Malformed(&'static str),
    /// A signature by a known key that does not verify.
    #[error("invalid signature by key {name:?} (id {id:08x}): the note was altered or forged")]
    InvalidSignature {
        /// The key name.
        name: String,
        /// The key id.
        id: u32,
    },
    /// Two known keys share a name and id, so a signature cannot be attributed.
    #[error("ambiguous key {name}+{id:08x}: more than one known key has this name and id")]
    AmbiguousKey {
        /// The key name.
        name: String,
        /// The key id.
        id: u32,
    },
    /// No signature by any of the known keys.
    #[error("the note carries no signature by the given key; it is signed by: {}", signers.join(", "))]
    NotSignedByKnownKey {
        /// `name+id` of each signature present.
        signers: Vec<String>,
    },
}

/// The key id of an Ed25519 key named `name`.
pub fn key_id(name: &str, public: &[u8; 32]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([ALG_ED25519]);
    h.update(public);
    let d = h.finalize();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

/// A key name: non-empty, no white space, no `+`.
fn valid_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(char::is_whitespace) && !name.contains('+')
}

/// A public key that checks signatures.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    id: u32,
    key: VerifyingKey,
}

impl fmt::Debug for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VerifierKey({self})")
    }
}

impl VerifierKey {
    /// The key's name (for warden logs, the log origin).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The 32-bit key id.
    pub fn id(&self) -> u32 {
        self.id
    }

    fn verify(&self, text: &[u8], sig: &[u8]) -> bool {
        let Ok(sig) = Signature::from_slice(sig) else {
            return false;
        };
        self.key.verify_strict(text, &sig).is_ok()
    }
}

impl fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut data = vec![ALG_ED25519];
        data.extend_from_slice(self.key.as_bytes());
        write!(f, "{}+{:08x}+{}", self.name, self.id, B64.encode(data))
    }
}

/// Splits `name+hash+base64` and checks the id; returns the key bytes after the
/// algorithm byte.
fn parse_key_text(text: &str) -> Result<(String, u32, Vec<u8>), &'static str> {
    let mut parts = text.splitn(3, '+');
    let (Some(name), Some(hash), Some(data)) = (parts.next(), parts.next(), parts.next()) else {
        return Err("expected name+hash+key");
    };
    if !valid_name(name) {
        return Err("the name is empty or holds white space or '+'");
    }
    if hash.len() != 8 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("the key id is not 8 hex digits");
    }
    let id = u32::from_str_radix(hash, 16).map_err(|_| "the key id is not 8 hex digits")?;
    let data = B64.decode(data).map_err(|_| "the key is not base64")?;
    if data.is_empty() {
        return Err("the key is empty");
    }
    Ok((name.to_string(), id, data))
}

impl FromStr for VerifierKey {
    type Err = NoteError;

    fn from_str(text: &str) -> Result<Self, NoteError> {
        // Never echo a private key someone passed by mistake.
        let shown = if text.trim_start().starts_with("PRIVATE+KEY") {
            "PRIVATE+KEY+… (a signer key, not a verifier key)".to_string()
        } else {
            text.to_string()
        };
        let bad = |why| NoteError::BadVerifierKey {
            key: shown.clone(),
            why,
        };
        let (name, id, data) = parse_key_text(text.trim()).map_err(bad)?;
        if data[0] != ALG_ED25519 {
            return Err(NoteError::UnknownAlgorithm { name, alg: data[0] });
        }
        let public: [u8; 32] = data[1..]
            .try_into()
            .map_err(|_| bad("an Ed25519 key is 32 bytes"))?;
        if key_id(&name, &public) != id {
            return Err(NoteError::KeyIdMismatch { name, id });
        }
        let key = VerifyingKey::from_bytes(&public).map_err(|_| bad("not an Ed25519 point"))?;
        Ok(VerifierKey { name, id, key })
    }
}

/// A private key that signs notes.
pub struct SignerKey {
    name: String,
    id: u32,
    key: SigningKey,
}

impl fmt::Debug for SignerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the seed.
        write!(f, "SignerKey({}+{:08x})", self.name, self.id)
    }
}

impl SignerKey {
    /// A signer named `name` from a 32-byte Ed25519 seed.
    pub fn from_seed(name: &str, seed: &[u8; 32]) -> Result<Self, NoteError> {
        if !valid_name(name) {
            return Err(NoteError::BadSignerKey(
                "the name is empty or holds white space or '+'",
            ));
        }
        let key = SigningKey::from_bytes(seed);
        let id = key_id(name, key.verifying_key().as_bytes());
        Ok(SignerKey {
            name: name.to_string(),
            id,
            key,
        })
    }

    /// Parses `PRIVATE+KEY+name+hash+base64(0x01 ‖ seed)`.
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let rest = text
            .trim()
            .strip_prefix("PRIVATE+KEY+")
            .ok_or(NoteError::BadSignerKey("missing PRIVATE+KEY+ prefix"))?;
        let (name, id, data) = parse_key_text(rest).map_err(NoteError::BadSignerKey)?;
        let data = Zeroizing::new(data);
        if data[0] != ALG_ED25519 {
            return Err(NoteError::UnknownAlgorithm { name, alg: data[0] });
        }
        let seed: Zeroizing<[u8; 32]> = Zeroizing::new(
            data[1..]
                .try_into()
                .map_err(|_| NoteError::BadSignerKey("an Ed25519 seed is 32 bytes"))?,
        );
        let signer = SignerKey::from_seed(&name, &seed)?;
        if signer.id != id {
            return Err(NoteError::KeyIdMismatch { name, id });
        }
        Ok(signer)
    }

    /// The private key text (`PRIVATE+KEY+…`), for the key file only.
    pub fn to_secret_text(&self) -> Zeroizing<String> {
        let mut data = Zeroizing::new(vec![ALG_ED25519]);
        data.extend_from_slice(self.key.as_bytes());
        Zeroizing::new(format!(
            "PRIVATE+KEY+{}+{:08x}+{}",
            self.name,
            self.id,
            B64.encode(&*data)
        ))
    }

    /// The matching verifier key.
    pub fn verifier(&self) -> VerifierKey {
        VerifierKey {
            name: self.name.clone(),
            id: self.id,
            key: self.key.verifying_key(),
        }
    }

    /// The key's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Signs `text` (which must end in a newline and hold no control characters
    /// other than newlines) and returns the whole signed note.
    pub fn sign(&self, text: &str) -> Result<String, NoteError> {
        check_text(text.as_bytes())?;
        if !text.ends_with('\n') {
            return Err(NoteError::Malformed("the text does not end in a newline"));
        }
        let sig = self.key.sign(text.as_bytes());
        let mut blob = Vec::with_capacity(68);
        blob.extend_from_slice(&self.id.to_be_bytes());
        blob.extend_from_slice(&sig.to_bytes());
        Ok(format!(
            "{text}\n{SIG_PREFIX}{} {}\n",
            self.name,
            B64.encode(blob)
        ))
    }
}

/// Valid UTF-8, and no ASCII control character but the newline.
fn check_text(msg: &[u8]) -> Result<&str, NoteError> {
    let text = std::str::from_utf8(msg).map_err(|_| NoteError::Malformed("not UTF-8"))?;
    if text.chars().any(|c| c < ' ' && c != '\n') {
        return Err(NoteError::Malformed(
            "a control character other than newline",
        ));
    }
    Ok(text)
}

/// A note whose signatures were checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedNote {
    /// The signed text (ends in a newline).
    pub text: String,
    /// `(name, id)` of each known key whose signature verified.
    pub verified: Vec<(String, u32)>,
    /// `(name, id)` of each signature by a key not given.
    pub unverified: Vec<(String, u32)>,
}

/// Opens a signed note, checking each signature by a key in `known` (matched by
/// name and id). Succeeds only if at least one known key signed it and no known
/// key's signature fails. Signatures by unknown keys are listed, not trusted.
pub fn open(msg: &[u8], known: &[VerifierKey]) -> Result<OpenedNote, NoteError> {
    if msg.len() > MAX_NOTE_LEN {
        return Err(NoteError::Malformed("larger than 1 MiB"));
    }
    let all = check_text(msg)?;
    let split = all
        .rfind("\n\n")
        .ok_or(NoteError::Malformed("no blank line before the signatures"))?;
    let (text, sigs) = (&all[..split + 1], &all[split + 2..]);
    if sigs.is_empty() || !sigs.ends_with('\n') {
        return Err(NoteError::Malformed(
            "the signature block does not end in a newline",
        ));
    }
    let mut verified: Vec<(String, u32)> = Vec::new();
    let mut unverified: Vec<(String, u32)> = Vec::new();
    let mut unverified_lines: Vec<&str> = Vec::new();
    let mut count = 0usize;
    for line in sigs[..sigs.len() - 1].split('\n') {
        let line = line.strip_prefix(SIG_PREFIX).ok_or(NoteError::Malformed(
            "a signature line does not start with '— '",
        ))?;
        let whole = line;
        let (name, b64) = line.split_once(' ').unwrap_or((line, ""));
        let blob = B64.decode(b64).ok().filter(|_| !b64.is_empty());
        let blob = match blob {
            Some(b) if valid_name(name) && b.len() >= 5 => b,
            _ => {
                return Err(NoteError::Malformed(
                    "a signature line is not '— name base64'",
                ));
            }
        };
        count += 1;
        if count > MAX_SIGNATURES {
            return Err(NoteError::Malformed("more than 100 signatures"));
        }
        let id = u32::from_be_bytes([blob[0], blob[1], blob[2], blob[3]]);
        let entry = (name.to_string(), id);
        let mut matching = known.iter().filter(|k| k.name == name && k.id == id);
        let (first, second) = (matching.next(), matching.next());
        if second.is_some() {
            return Err(NoteError::AmbiguousKey { name: entry.0, id });
        }
        match first {
            None => {
                // Repeats of the very same line are listed once (as Go does).
                if !unverified_lines.contains(&whole) {
                    unverified_lines.push(whole);
                    unverified.push(entry);
                }
            }
            Some(key) => {
                if verified.contains(&entry) {
                    continue;
                }
                if !key.verify(text.as_bytes(), &blob[4..]) {
                    return Err(NoteError::InvalidSignature { name: entry.0, id });
                }
                verified.push(entry);
            }
        }
    }
    if verified.is_empty() {
        return Err(NoteError::NotSignedByKnownKey {
            signers: unverified.iter().fold(Vec::new(), |mut acc, (n, id)| {
                let s = format!("{n}+{id:08x}");
                if !acc.contains(&s) {
                    acc.push(s);
                }
                acc
            }),
        });
    }
    Ok(OpenedNote {
        text: text.to_string(),
        verified,
        unverified,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> SignerKey {
        SignerKey::from_seed("warden/test", &[7u8; 32]).unwrap()
    }

    #[test]
    fn sign_then_open() {
        let s = signer();
        let note = s.sign("hello\nworld\n").unwrap();
        let opened = open(note.as_bytes(), &[s.verifier()]).unwrap();
        assert_eq!(opened.text, "hello\nworld\n");
        assert_eq!(opened.verified.len(), 1);
    }

    #[test]
    fn keys_round_trip_through_text() {
        let s = signer();
        let v: VerifierKey = s.verifier().to_string().parse().unwrap();
        assert_eq!(v, s.verifier());
        let back = SignerKey::parse(&s.to_secret_text()).unwrap();
        assert_eq!(back.verifier(), s.verifier());
    }

    #[test]
    fn altered_text_fails_and_other_keys_are_not_trusted() {
        let s = signer();
        let note = s.sign("size 5\n").unwrap().replace("size 5", "size 6");
        assert!(matches!(
            open(note.as_bytes(), &[s.verifier()]),
            Err(NoteError::InvalidSignature { .. })
        ));
        let other = SignerKey::from_seed("warden/test", &[8u8; 32]).unwrap();
        let note = other.sign("size 5\n").unwrap();
        assert!(matches!(
            open(note.as_bytes(), &[s.verifier()]),
            Err(NoteError::NotSignedByKnownKey { .. })
        ));
    }

    #[test]
    fn malformed_notes_are_errors() {
        let s = signer();
        for bad in [
            "",
            "text\n",
            "text\n\n",
            "text\n\n\u{2014} warden/test\n",
            "text\n\n- warden/test AAAA\n",
            "te\rxt\n\n\u{2014} warden/test AAAAAAAA\n",
            "text\n\n\u{2014} warden/test AAAAAAAA",
        ] {
            assert!(open(bad.as_bytes(), &[s.verifier()]).is_err(), "{bad:?}");
        }
    }
}
