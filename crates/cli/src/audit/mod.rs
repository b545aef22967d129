//! `warden audit`: verify, read, prove and export the tamper-evident audit log.

mod bench;
mod browse;
mod export;
mod offline;
mod proofs;
mod verify;

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::{Subcommand, ValueEnum};

pub const AUDIT_HELP: &str = "\
The log lives in $WARDEN_HOME (default ~/.local/state/warden; --home DIR overrides):
audit.db (SQLite), keys/ (0600), audit.checkpoint (the latest checkpoint).

Keep checkpoints elsewhere (`warden audit checkpoint > somewhere-safe/cp.note`):
`warden audit verify --from-checkpoint cp.note` then detects any later rewrite,
truncation, rollback or replacement of the log, even by root.

Exit codes of verify, verify-inclusion, verify-consistency, verify-note:
0 valid, 1 invalid (tampered, or the proof does not hold), 2 malformed input or
nothing to verify. Other subcommands: 0 success, 1 error.";

/// Audit subcommands.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Verify the whole log: every entry, the Merkle tree, every checkpoint's
    /// signature, sequence continuity, and consistency with checkpoints kept
    /// elsewhere. Names the first bad entry and what is wrong with it.
    #[command(after_help = verify::VERIFY_HELP)]
    Verify(verify::VerifyArgs),
    /// Print entries (decrypted), oldest first.
    #[command(after_help = browse::FILTER_HELP)]
    Show(browse::ShowArgs),
    /// Print the newest entries; --follow keeps printing new ones.
    #[command(after_help = browse::FILTER_HELP)]
    Tail(browse::TailArgs),
    /// Print entries whose action or verdict contains TEXT (case-insensitive).
    #[command(after_help = browse::FILTER_HELP)]
    Search(browse::SearchArgs),
    /// Print the inclusion proof of entry SEQ, with the signed checkpoint it
    /// leads to, as JSON (checkable offline with verify-inclusion).
    Prove(proofs::ProveArgs),
    /// Print the proof that the log's first OLD entries are a prefix of its
    /// current state, as JSON (checkable offline with verify-consistency).
    ProveConsistency(proofs::ConsistencyArgs),
    /// Print the latest signed checkpoint (a C2SP signed note); keep it elsewhere.
    Checkpoint,
    /// Print the log's verifier key (Go sumdb/note syntax), to pin with --key.
    Key,
    /// Check an inclusion proof offline (no database needed).
    #[command(after_help = offline::OFFLINE_HELP)]
    VerifyInclusion(offline::InclusionArgs),
    /// Check a consistency proof offline (no database needed).
    #[command(after_help = offline::OFFLINE_HELP)]
    VerifyConsistency(offline::ConsistencyArgs),
    /// Check a C2SP signed note (e.g. a checkpoint) against a verifier key.
    #[command(after_help = offline::OFFLINE_HELP)]
    VerifyNote(offline::NoteArgs),
    /// Export the log: decrypted JSON lines, OCSF events, or an offline bundle
    /// that `warden audit verify --bundle` checks on another machine.
    Export(export::ExportArgs),
    /// Retention: destroy the data keys of segments older than a date
    /// (crypto-shredding). Entries stay and still verify; their records become
    /// unreadable for good.
    Shred(export::ShredArgs),
    /// Append synthetic events and print throughput, latency and verify time.
    Bench(bench::BenchArgs),
}

/// The two durability modes, as the CLI names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// synchronous=FULL: durable on stable storage before acknowledged.
    Strict,
    /// synchronous=NORMAL: survives a process crash; power loss may lose the
    /// last commits.
    Fast,
}

impl From<Mode> for warden_audit::Durability {
    fn from(m: Mode) -> Self {
        match m {
            Mode::Strict => warden_audit::Durability::Strict,
            Mode::Fast => warden_audit::Durability::Fast,
        }
    }
}

/// Runs an audit subcommand against the log in `--home` (`explicit`), else
/// `$WARDEN_HOME`, else the default state directory.
pub fn run(cmd: AuditCommand, explicit: Option<&Path>) -> Result<u8> {
    let explicit = explicit
        .map(Path::to_path_buf)
        .or_else(crate::load::warden_home_env);
    let home = &home_dir(explicit.as_deref());
    match cmd {
        AuditCommand::Verify(a) => verify::run(a, home),
        AuditCommand::Show(a) => browse::show(a, home),
        AuditCommand::Tail(a) => browse::tail(a, home),
        AuditCommand::Search(a) => browse::search(a, home),
        AuditCommand::Prove(a) => proofs::prove(a, home),
        AuditCommand::ProveConsistency(a) => proofs::consistency(a, home),
        AuditCommand::Checkpoint => proofs::checkpoint(home),
        AuditCommand::Key => proofs::key(home),
        AuditCommand::VerifyInclusion(a) => Ok(offline::inclusion(a)),
        AuditCommand::VerifyConsistency(a) => Ok(offline::consistency(a)),
        AuditCommand::VerifyNote(a) => Ok(offline::note(a)),
        AuditCommand::Export(a) => export::run(a, home),
        AuditCommand::Shred(a) => export::shred(a, home),
        AuditCommand::Bench(a) => bench::run(a, explicit.as_deref()),
    }
}

/// Whether a command line is one of the verify commands, whose usage errors
/// exit 2 ("malformed input") rather than 1.
pub fn is_verify_invocation(args: &[String]) -> bool {
    args.windows(2)
        .any(|w| w[0] == "audit" && w[1].starts_with("verify"))
}

/// The directory of the log: `--home`, else `$WARDEN_HOME`, else the default.
pub fn home_dir(explicit: Option<&Path>) -> PathBuf {
    explicit
        .map(Path::to_path_buf)
        .unwrap_or_else(|| crate::load::state_dir(&crate::load::home()))
}
