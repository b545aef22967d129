//! The envelope: one audit entry as stored and as hashed into the tree.
//!
//! An envelope is a small cleartext header followed by the AEAD-sealed record. The
//! header is authenticated as associated data, so neither the sequence number, the
//! time, the segment nor the origin can be changed without the seal failing, and
//! it is readable without a key, so a verifier can check sequence continuity and a
//! reader can filter by time before decrypting anything. Layout (version 1, all
//! integers big-endian; `docs/audit-format.md` is the normative description):
//!
//! ```text
//! offset  size  field
//! 0       1     version (1)
//! 1       8     seq
//! 9       8     time, milliseconds since the Unix epoch (UTC)
//! 17      4     segment (whose data key sealed the record)
//! 21      1     origin length L (0..=64)
//! 22      L     origin (ASCII: the Action's interceptor, e.g. "hook:claude-code")
//! 22+L    12    nonce (AES-256-GCM, random)
//! 34+L    …     ciphertext ‖ 16-byte tag (the rest of the envelope)
//! ```

/// The only envelope version so far.
pub const VERSION: u8 = 1;
/// Length of an AES-256-GCM nonce.
pub const NONCE_LEN: usize = 12;
/// Length of a GCM tag.
pub const TAG_LEN: usize = 16;
/// Longest origin name the header holds.
pub const MAX_ORIGIN_LEN: usize = 64;
/// Largest envelope accepted when reading (a record is capped well below this
/// when written); a larger blob is corruption or an attack on the reader.
pub const MAX_ENVELOPE_LEN: usize = 8 << 20;

const FIXED_HEADER: usize = 22;

/// Why bytes are not an envelope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// Fewer bytes than the header announces.
    #[error("envelope is truncated: {len} bytes, the header needs at least {need}")]
    Truncated {
        /// Bytes present.
        len: usize,
        /// Bytes the header requires.
        need: usize,
    },
    /// A version this build does not know.
    #[error("envelope version {0} is not supported (this build reads version {VERSION})")]
    UnknownVersion(u8),
    /// The origin field is not a short printable ASCII name.
    #[error("envelope origin is not a printable ASCII name of at most {MAX_ORIGIN_LEN} bytes")]
    BadOrigin,
    /// Larger than any envelope warden writes.
    #[error("envelope is {0} bytes, larger than the {MAX_ENVELOPE_LEN}-byte limit")]
    TooLarge(usize),
}

/// The cleartext header of an envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Sequence number (the leaf index).
    pub seq: u64,
    /// When the entry was recorded, in ms since the Unix epoch.
    pub time_ms: u64,
    /// Segment whose data key sealed the record.
    pub segment: u32,
    /// Which interceptor produced the action.
    pub origin: String,
}

/// A parsed envelope borrowing its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope<'a> {
    /// The header.
    pub header: Header,
    /// The header's bytes exactly as stored (part of the associated data).
    pub header_bytes: &'a [u8],
    /// The nonce.
    pub nonce: &'a [u8; NONCE_LEN],
    /// Ciphertext with its tag.
    pub sealed: &'a [u8],
}

impl Header {
    /// Encodes the header (the envelope's first bytes).
    pub fn encode(&self) -> Result<Vec<u8>, EnvelopeError> {
        let origin = self.origin.as_bytes();
        if !valid_origin(origin) {
            return Err(EnvelopeError::BadOrigin);
        }
        let mut out = Vec::with_capacity(FIXED_HEADER + origin.len());
        out.push(VERSION);
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(&self.time_ms.to_be_bytes());
        out.extend_from_slice(&self.segment.to_be_bytes());
        out.push(origin.len() as u8);
        out.extend_from_slice(origin);
        Ok(out)
    }
}

fn valid_origin(origin: &[u8]) -> bool {
    origin.len() <= MAX_ORIGIN_LEN && origin.iter().all(|b| b.is_ascii_graphic())
}

/// Joins an encoded header, a nonce and the sealed record into an envelope.
pub fn assemble(header: &[u8], nonce: &[u8; NONCE_LEN], sealed: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(header.len() + NONCE_LEN + sealed.len());
    out.extend_from_slice(header);
    out.extend_from_slice(nonce);
    out.extend_from_slice(sealed);
    out
}

/// Parses an envelope. Never panics: every length is checked against the input.
pub fn parse(bytes: &[u8]) -> Result<Envelope<'_>, EnvelopeError> {
    if bytes.len() > MAX_ENVELOPE_LEN {
        return Err(EnvelopeError::TooLarge(bytes.len()));
    }
    let Some(&version) = bytes.first() else {
        return Err(EnvelopeError::Truncated {
            len: 0,
            need: FIXED_HEADER,
        });
    };
    if version != VERSION {
        return Err(EnvelopeError::UnknownVersion(version));
    }
    if bytes.len() < FIXED_HEADER {
        return Err(EnvelopeError::Truncated {
            len: bytes.len(),
            need: FIXED_HEADER,
        });
    }
    let u64_at = |at: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&bytes[at..at + 8]);
        u64::from_be_bytes(b)
    };
    let seq = u64_at(1);
    let time_ms = u64_at(9);
    let mut seg = [0u8; 4];
    seg.copy_from_slice(&bytes[17..21]);
    let segment = u32::from_be_bytes(seg);
    let origin_len = bytes[21] as usize;
    let header_len = FIXED_HEADER + origin_len;
    let need = header_len + NONCE_LEN + TAG_LEN;
    if bytes.len() < need {
        return Err(EnvelopeError::Truncated {
            len: bytes.len(),
            need,
        });
    }
    let origin = &bytes[FIXED_HEADER..header_len];
    if !valid_origin(origin) {
        return Err(EnvelopeError::BadOrigin);
    }
    let (header_bytes, rest) = bytes.split_at(header_len);
    let (nonce, sealed) = rest.split_at(NONCE_LEN);
    let nonce: &[u8; NONCE_LEN] = nonce.try_into().map_err(|_| EnvelopeError::Truncated {
        len: bytes.len(),
        need,
    })?;
    Ok(Envelope {
        header: Header {
            seq,
            time_ms,
            segment,
            // Checked to be ASCII above, so this never replaces anything.
            origin: String::from_utf8_lossy(origin).into_owned(),
        },
        header_bytes,
        nonce,
        sealed,
    })
}

/// Reads only the sequence number and time of an envelope, for scans that filter
/// before parsing (cheaper than [`parse`], same checks on length).
pub fn peek_seq_time(bytes: &[u8]) -> Option<(u64, u64)> {
    if bytes.first() != Some(&VERSION) || bytes.len() < FIXED_HEADER {
        return None;
    }
    let seq = u64::from_be_bytes(bytes[1..9].try_into().ok()?);
    let time = u64::from_be_bytes(bytes[9..17].try_into().ok()?);
    Some((seq, time))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> Vec<u8> {
        let header = Header {
            seq: 7,
            time_ms: 1_764_000_000_000,
            segment: 2,
            origin: "hook:claude-code".into(),
        }
        .encode()
        .unwrap();
        assemble(&header, &[9u8; NONCE_LEN], &[1u8; 40])
    }

    #[test]
    fn round_trip() {
        let bytes = sample();
        let e = parse(&bytes).unwrap();
        assert_eq!(e.header.seq, 7);
        assert_eq!(e.header.segment, 2);
        assert_eq!(e.header.origin, "hook:claude-code");
        assert_eq!(e.nonce, &[9u8; NONCE_LEN]);
        assert_eq!(e.sealed.len(), 40);
        assert_eq!(peek_seq_time(&bytes), Some((7, 1_764_000_000_000)));
    }

    #[test]
    fn every_truncation_is_an_error() {
        let bytes = sample();
        for len in 0..FIXED_HEADER + 16 + NONCE_LEN + TAG_LEN {
            assert!(parse(&bytes[..len]).is_err(), "{len}");
        }
    }

    #[test]
    fn origins_must_be_printable_ascii() {
        let h = Header {
            seq: 0,
            time_ms: 0,
            segment: 0,
            origin: "a b".into(),
        };
        assert_eq!(h.encode(), Err(EnvelopeError::BadOrigin));
        let mut bytes = sample();
        bytes[22] = 0x07;
        assert_eq!(parse(&bytes), Err(EnvelopeError::BadOrigin));
        bytes[0] = 2;
        assert_eq!(parse(&bytes), Err(EnvelopeError::UnknownVersion(2)));
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse(&bytes);
            let _ = peek_seq_time(&bytes);
        }
    }
}
