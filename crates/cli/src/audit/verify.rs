//! `warden audit verify`: the whole log, or an exported bundle.

use std::io::BufReader;
use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Args;
use warden_audit::note::VerifierKey;
use warden_audit::verify::{ExternalCheckpoint, VerifyOptions, VerifyReport, verify_log_with};
use warden_audit::{AuditError, AuditReader};

pub const VERIFY_HELP: &str = "\
Examples:
  warden audit verify
  warden audit verify --from-checkpoint ~/safe/cp-2026-11-30.note
  warden audit verify --bundle audit-bundle.jsonl --key 'warden/3d12…+1a2b3c4d+AZ…'

Diagnoses: edited (an entry's bytes changed), missing (deleted from the middle),
reordered (rows swapped), truncated (entries removed at the end), rolled back
(an older copy of the log), forked (history rewritten and re-signed), replaced
(signed by another key), unsigned (entries added after the latest checkpoint),
bad segment (keys erased or moved), bad checkpoint, bad stored tree node,
malformed, damaged.

Exit codes: 0 intact, 1 not intact, 2 nothing to verify or malformed input.";

/// Arguments of `warden audit verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// A checkpoint kept elsewhere (a signed note from `warden audit
    /// checkpoint`); the log must still be consistent with it. Repeatable.
    #[arg(long, value_name = "FILE")]
    from_checkpoint: Vec<PathBuf>,
    /// The log's verifier key to trust (default: the one the log names).
    #[arg(long, value_name = "VERIFIER-KEY")]
    key: Option<String>,
    /// Verify an export bundle instead of the log in the home.
    #[arg(long, value_name = "FILE")]
    bundle: Option<PathBuf>,
    /// Also authenticate every record with its data key (reads the keys).
    #[arg(long)]
    deep: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

const INTACT: u8 = 0;
const NOT_INTACT: u8 = 1;
const CANNOT: u8 = 2;

fn cannot(what: impl std::fmt::Display) -> u8 {
    eprintln!("warden: {what}");
    CANNOT
}

pub fn run(a: VerifyArgs, home: &Path) -> Result<u8> {
    let trusted_key = match &a.key {
        None => None,
        Some(k) => match k.parse::<VerifierKey>() {
            Ok(k) => Some(k),
            Err(e) => return Ok(cannot(format!("--key: {e}"))),
        },
    };
    let mut checkpoints = Vec::new();
    for f in &a.from_checkpoint {
        match std::fs::read_to_string(f) {
            Ok(note) => checkpoints.push(ExternalCheckpoint {
                source: f.display().to_string(),
                note,
            }),
            Err(e) => return Ok(cannot(format!("--from-checkpoint {}: {e}", f.display()))),
        }
    }
    let opts = VerifyOptions {
        trusted_key,
        checkpoints,
        deep: a.deep,
    };
    let report = match &a.bundle {
        Some(_) if opts.trusted_key.is_none() => {
            // A bundle names its own key; anyone can make a self-consistent one.
            return Ok(cannot(
                "--bundle needs --key: the log's verifier key, obtained from its owner (`warden audit key` on the log's machine)",
            ));
        }
        Some(path) => {
            let file = match std::fs::File::open(path) {
                Ok(f) => f,
                Err(e) => return Ok(cannot(format!("--bundle {}: {e}", path.display()))),
            };
            match warden_audit::bundle::verify_bundle(&mut BufReader::new(file), &opts) {
                Ok(r) => r,
                Err(e) => return Ok(cannot(format!("{}: {e}", path.display()))),
            }
        }
        None => {
            let mut reader = match AuditReader::open(home) {
                Ok(r) => r,
                Err(e) => return Ok(unopenable(e, home)),
            };
            match verify_log_with(&mut reader, &opts) {
                Ok(r) => r,
                Err(e) => return Ok(cannot(e)),
            }
        }
    };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render(&report, a.bundle.as_deref()));
    }
    Ok(if report.intact() { INTACT } else { NOT_INTACT })
}

/// A log that cannot even be opened: nothing to verify (exit 2) only when no
/// log was ever there; a damaged file, or a missing one whose keys or witness
/// remain, is a log that is not intact (exit 1).
fn unopenable(e: AuditError, home: &Path) -> u8 {
    let traces = [
        warden_audit::keys::signer_path(home),
        home.join(warden_audit::store::WITNESS_FILE),
    ];
    match e {
        AuditError::NoLog(db) => match traces.iter().find(|t| t.exists()) {
            Some(t) => {
                println!(
                    "NOT INTACT: {} is missing but {} exists: the log was deleted",
                    db.display(),
                    t.display()
                );
                NOT_INTACT
            }
            None => cannot(AuditError::NoLog(db)),
        },
        AuditError::NotALog { .. } | AuditError::Store(_) => {
            println!("NOT INTACT: the database is damaged: {e}");
            NOT_INTACT
        }
        e => cannot(e),
    }
}

fn render(r: &VerifyReport, bundle: Option<&Path>) -> String {
    let what = match bundle {
        Some(b) => format!("bundle {}", b.display()),
        None => "log".to_string(),
    };
    let mut out = String::new();
    if r.intact() {
        out.push_str(&format!("INTACT: the {what} verifies\n"));
    } else {
        out.push_str(&format!("NOT INTACT: {}\n", r.problems[0]));
    }
    out.push_str(&format!("  log          {}\n", r.origin));
    out.push_str(&format!(
        "  entries      {} (root {})\n",
        r.entries,
        hex::encode(r.root)
    ));
    out.push_str(&format!(
        "  checkpoints  {} verified\n",
        r.checkpoints_checked
    ));
    if r.authenticated > 0 || r.shredded > 0 {
        out.push_str(&format!(
            "  records      {} authenticated, {} shredded by retention\n",
            r.authenticated, r.shredded
        ));
    }
    out.push_str(&format!(
        "  took         {:.3} s\n",
        r.elapsed.as_secs_f64()
    ));
    for p in r.problems.iter().skip(1) {
        out.push_str(&format!("  also: {p}\n"));
    }
    for remark in &r.remarks {
        out.push_str(&format!("  note: {remark}\n"));
    }
    out
}
