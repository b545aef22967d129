//! `warden audit export` and `warden audit shred`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use warden_audit::export::{entry_json, rfc3339_ms, to_ocsf};
use warden_audit::record::Content;
use warden_audit::{AuditLog, AuditReader, Options};

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One decrypted entry per line: seq, time, origin, leaf hash, action, verdict.
    Jsonl,
    /// One OCSF event per line (classes 1001, 1007, 4001, 4002, 6003).
    Ocsf,
    /// Envelopes and checkpoints for `warden audit verify --bundle` elsewhere.
    Bundle,
}

/// Arguments of `warden audit export`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  warden audit export --format ocsf --output audit.ocsf.jsonl
  warden audit export --format bundle --output bundle.jsonl
  warden audit verify --bundle bundle.jsonl --key \"$(warden audit key)\"   # anywhere")]
pub struct ExportArgs {
    /// What to write.
    #[arg(long, value_enum, default_value_t = Format::Jsonl)]
    format: Format,
    /// Write here instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Bundle only: include the segments' data keys, so whoever holds the bundle
    /// can read (and authenticate) every record.
    #[arg(long)]
    reveal_keys: bool,
}

/// Arguments of `warden audit shred`.
#[derive(Debug, Args)]
pub struct ShredArgs {
    /// Destroy the keys of segments whose last entry is older than this
    /// (RFC 3339, a date, or an age like 90d).
    #[arg(long, value_name = "TIME")]
    before: String,
    /// List what would be shredded without doing it.
    #[arg(long)]
    dry_run: bool,
}

pub fn run(a: ExportArgs, home: &Path) -> Result<u8> {
    if a.reveal_keys && a.format != Format::Bundle {
        bail!("--reveal-keys applies to --format bundle only");
    }
    let mut reader = AuditReader::open(home)?;
    let sink: Box<dyn Write> = match &a.output {
        Some(p) => Box::new(private_file(p).with_context(|| format!("--output {}", p.display()))?),
        None => Box::new(std::io::stdout()),
    };
    let mut out = BufWriter::new(sink);
    let mut written = 0u64;
    match a.format {
        Format::Bundle => {
            let s = warden_audit::bundle::write_bundle(&mut reader, &mut out, a.reveal_keys)?;
            written = s.entries;
            eprintln!(
                "exported {} entries, {} checkpoints{}",
                s.entries,
                s.checkpoints,
                if a.reveal_keys {
                    format!(", {} data keys", s.keys)
                } else {
                    String::new()
                }
            );
        }
        Format::Jsonl | Format::Ocsf => {
            let mut dec = reader.decryptor()?;
            let origin = reader.origin().to_string();
            let mut failed = None;
            let (mut shredded, mut unreadable) = (0u64, 0u64);
            reader.for_each(0, u64::MAX, &mut dec, |e| {
                match e.content {
                    Content::Shredded => shredded += 1,
                    Content::Record(_) => {}
                    _ => unreadable += 1,
                }
                let value = match a.format {
                    Format::Ocsf => match to_ocsf(&e, &origin) {
                        Some(v) => v,
                        None => return true,
                    },
                    _ => entry_json(&e),
                };
                match writeln!(out, "{value}") {
                    Ok(()) => {
                        written += 1;
                        true
                    }
                    Err(err) => {
                        failed = Some(err);
                        false
                    }
                }
            })?;
            if let Some(e) = failed {
                return Err(e).context("writing the export");
            }
            if shredded > 0 && a.format == Format::Ocsf {
                eprintln!("{shredded} entries whose records retention destroyed were left out");
            }
            out.flush().context("writing the export")?;
            if unreadable > 0 {
                bail!(
                    "{unreadable} entries could not be read (altered, or their segment key is damaged); run `warden audit verify`"
                );
            }
        }
    }
    out.flush().context("writing the export")?;
    if let Some(p) = &a.output {
        eprintln!("wrote {written} entries to {}", p.display());
    }
    Ok(0)
}

/// An output file only its owner can read: exports hold decrypted records,
/// bundles with --reveal-keys hold data keys.
fn private_file(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    Ok(f)
}

pub fn shred(a: ShredArgs, home: &Path) -> Result<u8> {
    let before = super::browse::parse_time_arg(&a.before).map_err(anyhow::Error::msg)?;
    if a.dry_run {
        let mut reader = AuditReader::open(home)?;
        let candidates: Vec<_> = reader
            .store()
            .segment_infos()?
            .into_iter()
            .filter(|s| s.shreddable_before(before))
            .collect();
        if candidates.is_empty() {
            println!("nothing to shred before {}", rfc3339_ms(before));
        }
        for s in candidates {
            println!(
                "segment {} (entries {} to {}, recorded {} to {}) would be shredded",
                s.id,
                s.first_seq,
                s.end_seq.saturating_sub(1),
                rfc3339_ms(s.created_ms),
                rfc3339_ms(s.last_ms.unwrap_or(s.created_ms))
            );
        }
        return Ok(0);
    }
    let log = AuditLog::open(home, Options::default())?;
    let report = log.shred_before(before)?;
    log.close()?;
    if report.segments.is_empty() {
        println!("nothing to shred before {}", rfc3339_ms(before));
    } else {
        println!(
            "shredded the data keys of segments {:?}: their records can no longer be read; the log still verifies",
            report.segments
        );
        if !report.wal_cleared {
            println!(
                "note: readers held the write-ahead log open; the erased keys leave it at its next checkpoint"
            );
        }
    }
    Ok(0)
}
