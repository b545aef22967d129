//! `warden audit prove | prove-consistency | checkpoint | key`.

use std::path::Path;

use anyhow::Result;
use clap::Args;
use warden_audit::AuditReader;

/// Arguments of `warden audit prove`.
#[derive(Debug, Args)]
pub struct ProveArgs {
    /// The entry's sequence number.
    seq: u64,
    /// Prove against the tree of this many entries (default: the latest
    /// checkpoint's size).
    #[arg(long, value_name = "N")]
    size: Option<u64>,
}

/// Arguments of `warden audit prove-consistency`.
#[derive(Debug, Args)]
pub struct ConsistencyArgs {
    /// The older size (from a checkpoint kept elsewhere).
    #[arg(long, value_name = "M")]
    old_size: u64,
    /// The newer size (default: the latest checkpoint's size).
    #[arg(long, value_name = "N")]
    size: Option<u64>,
}

pub fn prove(a: ProveArgs, home: &Path) -> Result<u8> {
    let mut reader = AuditReader::open(home)?;
    let proof = reader.prove(a.seq, a.size)?;
    println!("{}", serde_json::to_string_pretty(&proof)?);
    Ok(0)
}

pub fn consistency(a: ConsistencyArgs, home: &Path) -> Result<u8> {
    let mut reader = AuditReader::open(home)?;
    let proof = reader.prove_consistency(a.old_size, a.size)?;
    println!("{}", serde_json::to_string_pretty(&proof)?);
    Ok(0)
}

pub fn checkpoint(home: &Path) -> Result<u8> {
    let reader = AuditReader::open(home)?;
    print!("{}", reader.checkpoint()?.note);
    Ok(0)
}

pub fn key(home: &Path) -> Result<u8> {
    let reader = AuditReader::open(home)?;
    println!("{}", reader.verifier());
    Ok(0)
}
