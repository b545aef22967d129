//! `warden policy init | lint | test | explain | bench`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Subcommand;
use warden_policy::Policy;
use warden_policy::defaults::DEFAULT_POLICY;
use warden_policy::file::{LayerKind, read_layer};
use warden_types::{Action, ActionKind};

use crate::{bench, check, load, render};

/// Policy subcommands.
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Write the default policy (commented) to the user policy file.
    Init {
        /// Where to write it (default: --policy, else ~/.config/warden/policy.toml).
        #[arg(long, value_name = "FILE")]
        path: Option<PathBuf>,
        /// Replace an existing file (the old one is kept as FILE.bak).
        #[arg(long)]
        force: bool,
    },
    /// Check a policy file: syntax, unknown keys, globs, and its inline examples.
    /// Exit 0 if it loads, 1 with file:line and rule id if not.
    Lint {
        /// The file (default: the effective policy's user layer).
        file: Option<PathBuf>,
    },
    /// Run every rule's match/not_match examples and list them.
    Test {
        /// The file (default: the effective policy's user layer).
        file: Option<PathBuf>,
    },
    /// Explain how the effective policy decides a shell command: sub-commands,
    /// threat findings and every matched rule.
    Explain {
        /// The command line.
        command: String,
        /// Working directory (default: current directory).
        #[arg(long, value_name = "DIR")]
        cwd: Option<PathBuf>,
    },
    /// Export the policy's command rules for an agent's own permission system:
    /// `codex-rules` prints Codex exec-policy `prefix_rule`s (what `warden init
    /// codex` installs as rules/warden.rules).
    Export {
        /// The format.
        #[arg(long, value_enum)]
        format: ExportFormat,
    },
    /// Measure decision latency against a 200-rule policy and the time to load 1,000 rules.
    Bench {
        /// Print {"p50_us","p99_us","decisions_per_s","load_1000_rules_ms",...} as JSON.
        #[arg(long)]
        json: bool,
        /// Decisions to time.
        #[arg(long, default_value_t = 200_000)]
        iterations: usize,
    },
}

/// Formats of `warden policy export`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ExportFormat {
    /// Codex exec-policy rules (Starlark `prefix_rule`).
    CodexRules,
}

pub fn run(cmd: PolicyCommand, policy: Option<&Path>) -> Result<u8> {
    let home = load::home();
    match cmd {
        PolicyCommand::Export {
            format: ExportFormat::CodexRules,
        } => {
            let p = load::load_policy(policy, std::env::current_dir().ok().as_deref())?;
            print!("{}", crate::codex_rules::export(&p));
            Ok(0)
        }
        PolicyCommand::Init { path, force } => {
            let path = path.unwrap_or_else(|| load::user_policy_path(policy, &home));
            if path.exists() && !force {
                anyhow::bail!(
                    "{} already exists; pass --force to replace it (a backup is kept)",
                    path.display()
                );
            }
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
            }
            if path.exists() {
                let backup = PathBuf::from(format!("{}.bak", path.display()));
                std::fs::copy(&path, &backup)
                    .with_context(|| format!("backing up to {}", backup.display()))?;
                eprintln!("kept the old policy as {}", backup.display());
            }
            std::fs::write(&path, DEFAULT_POLICY)
                .with_context(|| format!("writing {}", path.display()))?;
            println!("wrote the default policy to {}", path.display());
            Ok(0)
        }
        PolicyCommand::Lint { file } => {
            let p = lint(file.as_deref(), policy, &home)?;
            println!(
                "ok: {} rules load and every inline example holds",
                p.rules().len()
            );
            for (agent, autonomy, limits) in p.named_agents() {
                let mut parts = Vec::new();
                if let Some(a) = autonomy {
                    parts.push(format!("autonomy {} ({})", a.name(), a.level()));
                }
                if limits.any() {
                    parts.push(format!(
                        "{} through the proxy",
                        limits.describe().join(", ")
                    ));
                }
                println!("agent {agent}: {}", parts.join("; "));
            }
            Ok(0)
        }
        PolicyCommand::Test { file } => {
            let p = lint(file.as_deref(), policy, &home)?;
            let mut n = 0;
            for r in p.rules() {
                let (m, nm) = r.examples();
                for e in m {
                    println!("ok  {:<28} matches      {e}", r.id);
                    n += 1;
                }
                for e in nm {
                    println!("ok  {:<28} does not match {e}", r.id);
                    n += 1;
                }
            }
            println!("{n} examples passed in {} rules", p.rules().len());
            Ok(0)
        }
        PolicyCommand::Explain { command, cwd } => {
            let cwd = match cwd {
                Some(c) => std::path::absolute(c)?,
                None => std::env::current_dir()?,
            };
            let p = load::load_policy(policy, Some(&cwd))?;
            let action = Action::new(cwd.to_string_lossy(), ActionKind::Shell { command });
            let eval = p.evaluate(&action, &load::eval_context(true));
            print!("{}", render::explanation(&action, &eval));
            Ok(check::exit_code(eval.verdict.decision))
        }
        PolicyCommand::Bench { json, iterations } => bench::run(json, iterations),
    }
}

fn lint(file: Option<&Path>, policy: Option<&Path>, home: &Path) -> Result<Policy> {
    let path = file
        .map(Path::to_path_buf)
        .unwrap_or_else(|| load::user_policy_path(policy, home));
    if file.is_none() && policy.is_none() && !path.exists() {
        // No user file: the effective user layer is the built-in default.
        eprintln!(
            "{} does not exist; checking the built-in default policy",
            path.display()
        );
        return Ok(warden_policy::defaults::default_policy(home)?);
    }
    // A file under `.warden/` is a project layer and is held to its rules.
    let kind = if path
        .parent()
        .and_then(|p| p.file_name())
        .is_some_and(|n| n == ".warden")
    {
        LayerKind::Project
    } else {
        LayerKind::User
    };
    let layer = read_layer(&path, kind, home)?;
    if kind == LayerKind::Project {
        let user = warden_policy::file::parse_layer(
            warden_policy::defaults::DEFAULT_POLICY,
            "<default policy>",
            LayerKind::User,
            home,
        )?;
        return Ok(Policy::from_layers(vec![user, layer], home)?);
    }
    Ok(Policy::from_layers(vec![layer], home)?)
}
