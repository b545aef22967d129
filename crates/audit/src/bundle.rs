//! Offline bundles: the whole log's envelopes and checkpoints in one JSON-lines
//! file, which `warden audit verify --bundle` checks on a machine that has
//! neither the database nor any key. Optionally the segments' data keys go with
//! it (`--reveal-keys`), for an auditor who is allowed to read the records.
//!
//! ```text
//! {"warden_audit_bundle":1,"origin":"warden/…","verifier_key":"…","size":N,"root":"<hex>","exported":"…"}
//! {"seq":0,"envelope":"<base64>"}
//! …
//! {"checkpoint":"<signed note>"}
//! {"segment_key":{"segment":0,"key":"<base64>"}}
//! ```

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::time::Instant;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};

use crate::crypto::{self, SecretKey};
use crate::error::AuditError;
use crate::export::rfc3339_ms;
use crate::keys;
use crate::note::VerifierKey;
use crate::read::AuditReader;
use crate::record::Decryptor;
use crate::verify::scan::{ClaimKind, Scanner, claim};
use crate::verify::{VerifyOptions, VerifyReport};

/// The bundle format version this build writes and reads.
pub const BUNDLE_VERSION: u32 = 1;

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    warden_audit_bundle: u32,
    origin: String,
    verifier_key: String,
    size: u64,
    root: String,
    exported: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryLine {
    seq: u64,
    envelope: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SegmentKey {
    segment: u32,
    key: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
enum Line {
    Entry(EntryLine),
    Checkpoint { checkpoint: String },
    SegmentKey { segment_key: SegmentKey },
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BundleSummary {
    /// Entries written.
    pub entries: u64,
    /// Checkpoints written.
    pub checkpoints: usize,
    /// Data keys revealed.
    pub keys: usize,
}

fn io(e: std::io::Error) -> AuditError {
    AuditError::Io {
        path: "<bundle>".into(),
        source: e,
    }
}

/// Writes the log `reader` opened as a bundle, up to its latest checkpoint.
pub fn write_bundle(
    reader: &mut AuditReader,
    out: &mut dyn Write,
    reveal_keys: bool,
) -> Result<BundleSummary, AuditError> {
    let head = reader.checkpoint()?;
    let origin = reader.origin().to_string();
    let verifier = reader.verifier().to_string();
    let home = reader.home().to_path_buf();
    reader.store().snapshot(|store| {
        let size = head.checkpoint.size;
        let header = Header {
            warden_audit_bundle: BUNDLE_VERSION,
            origin: origin.clone(),
            verifier_key: verifier,
            size,
            root: hex::encode(head.checkpoint.root),
            exported: rfc3339_ms(crate::store::writer::now_ms()),
        };
        write_line(out, &header)?;
        let mut entries = 0u64;
        let mut failed = None;
        store.scan(0, size, |seq, bytes| {
            let l = EntryLine {
                seq,
                envelope: B64.encode(bytes),
            };
            match write_line(out, &l) {
                Ok(()) => {
                    entries += 1;
                    true
                }
                Err(e) => {
                    failed = Some(e);
                    false
                }
            }
        })?;
        if let Some(e) = failed {
            return Err(e);
        }
        let mut notes: Vec<String> = store
            .history()?
            .into_iter()
            .filter(|(s, _)| *s <= size)
            .map(|(_, n)| n)
            .collect();
        if !notes.contains(&head.note) {
            notes.push(head.note.clone());
        }
        for n in &notes {
            write_line(
                out,
                &Line::Checkpoint {
                    checkpoint: n.clone(),
                },
            )?;
        }
        let mut revealed = 0;
        if reveal_keys {
            let master = keys::load_master(&home)?;
            for s in store.segments()? {
                let Some(wrapped) = s.wrapped_key else {
                    continue;
                };
                let key = crypto::unwrap_data_key(&master, &origin, s.id, &wrapped)?;
                write_line(
                    out,
                    &Line::SegmentKey {
                        segment_key: SegmentKey {
                            segment: s.id,
                            key: B64.encode(key.expose()),
                        },
                    },
                )?;
                revealed += 1;
            }
        }
        out.flush().map_err(io)?;
        Ok(BundleSummary {
            entries,
            checkpoints: notes.len(),
            keys: revealed,
        })
    })
}

fn write_line<T: Serialize>(out: &mut dyn Write, v: &T) -> Result<(), AuditError> {
    serde_json::to_writer(&mut *out, v).map_err(|e| io(std::io::Error::other(e)))?;
    out.write_all(b"\n").map_err(io)
}

fn bad(line: usize, why: impl Into<String>) -> AuditError {
    AuditError::Bundle {
        line,
        why: why.into(),
    }
}

/// Verifies a bundle: every envelope, the tree, each checkpoint's signature
/// (by `opts.trusted_key`, else the key the bundle names), and each checkpoint
/// in `opts`; with revealed keys, every record is authenticated too.
pub fn verify_bundle(
    input: &mut dyn BufRead,
    opts: &VerifyOptions,
) -> Result<VerifyReport, AuditError> {
    let started = Instant::now();
    let mut lines = input.lines().enumerate();
    let (_, first) = lines.next().ok_or_else(|| bad(1, "the bundle is empty"))?;
    let first = first.map_err(io)?;
    let header: Header =
        serde_json::from_str(&first).map_err(|e| bad(1, format!("not a bundle header: {e}")))?;
    if header.warden_audit_bundle != BUNDLE_VERSION {
        return Err(bad(
            1,
            format!(
                "bundle version {} is not supported",
                header.warden_audit_bundle
            ),
        ));
    }
    let named: VerifierKey = header
        .verifier_key
        .parse()
        .map_err(|e| bad(1, format!("its verifier key: {e}")))?;
    let mut report = VerifyReport::new(&header.origin, started);
    let key = match &opts.trusted_key {
        Some(k) => {
            if *k != named {
                report.problems.push(crate::verify::Problem::Replaced {
                    by: "the bundle's verifier key".into(),
                    found: format!("{}+{:08x}", named.name(), named.id()),
                    expected: format!("{}+{:08x}", k.name(), k.id()),
                });
            }
            k.clone()
        }
        None => {
            report.remarks.push(
                "the bundle's own verifier key was trusted; pass --key to pin the log's key".into(),
            );
            named
        }
    };
    if header.origin != key.name() {
        report.problems.push(crate::verify::Problem::Replaced {
            by: "the bundle's header".into(),
            found: format!("origin {:?}", header.origin),
            expected: format!("the log {:?}", key.name()),
        });
    }
    let mut entries: Vec<(u64, Vec<u8>)> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    let mut data_keys: HashMap<u32, SecretKey> = HashMap::new();
    for (i, text) in lines {
        let n = i + 1;
        let text = text.map_err(io)?;
        if text.is_empty() {
            continue;
        }
        match serde_json::from_str::<Line>(&text).map_err(|e| bad(n, e.to_string()))? {
            Line::Entry(e) => {
                let bytes = B64
                    .decode(&e.envelope)
                    .map_err(|e| bad(n, format!("envelope is not base64: {e}")))?;
                entries.push((e.seq, bytes));
            }
            Line::Checkpoint { checkpoint } => notes.push(checkpoint),
            Line::SegmentKey { segment_key } => {
                let k: [u8; 32] = B64
                    .decode(&segment_key.key)
                    .ok()
                    .and_then(|b| b.try_into().ok())
                    .ok_or_else(|| bad(n, "a segment key is not 32 bytes of base64"))?;
                data_keys.insert(segment_key.segment, SecretKey::from_bytes(k));
            }
        }
    }
    entries.sort_by_key(|(seq, _)| *seq);
    let largest = notes
        .iter()
        .filter_map(|n| crate::checkpoint::SignedCheckpoint::parse_unverified(n).ok())
        .map(|c| c.size)
        .max();
    let mut claims = Vec::new();
    for note in &notes {
        let size = crate::checkpoint::SignedCheckpoint::parse_unverified(note)
            .map(|c| c.size)
            .ok();
        let (source, kind) = if size == largest {
            (
                "the bundle's latest checkpoint".to_string(),
                ClaimKind::Head,
            )
        } else {
            (
                format!("the bundle's checkpoint at size {}", size.unwrap_or(0)),
                ClaimKind::History,
            )
        };
        match claim(&source, note, &key, kind) {
            Ok(c) => claims.push(c),
            Err(p) => report.problems.push(p),
        }
    }
    if claims.is_empty() && notes.is_empty() {
        report.problems.push(crate::verify::Problem::Corrupt(
            "the bundle holds no checkpoint".into(),
        ));
    }
    for ext in &opts.checkpoints {
        match claim(&ext.source, &ext.note, &key, ClaimKind::Outside) {
            Ok(c) => claims.push(c),
            Err(p) => report.problems.push(p),
        }
    }
    let mut dec =
        (!data_keys.is_empty()).then(|| Decryptor::with_data_keys(&header.origin, data_keys));
    if dec.is_none() {
        report
            .remarks
            .push("no data keys in the bundle: records were checked by hash only".into());
    }
    let mut scanner = Scanner::new(claims, None, dec.clone());
    for (seq, bytes) in &entries {
        scanner.feed(*seq, bytes);
    }
    let mut fetch = |from: u64, to: u64, f: &mut dyn FnMut(u64, &[u8])| {
        let start = entries.partition_point(|(s, _)| *s < from);
        for (seq, bytes) in entries[start..].iter().take_while(|(s, _)| *s < to) {
            f(*seq, bytes);
        }
        Ok(())
    };
    scanner.diagnose(&mut report, dec.as_mut(), &mut fetch)?;
    report.elapsed = started.elapsed();
    report.sort();
    Ok(report)
}
