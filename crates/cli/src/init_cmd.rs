//! `warden init AGENT`, `warden uninstall AGENT`, `warden doctor`: put
//! warden's hooks where the agent reads them, take them out again, and show
//! which agents are governed and how strongly.
//!
//! Machine-wide (the default) the hooks go where a project cannot switch them
//! off: Claude Code's managed settings with `allowManagedHooksOnly` and
//! `onFailure: "block"`, Codex's `requirements.toml` with
//! `allow_managed_hooks_only`, Gemini CLI's system settings, Cursor's
//! enterprise hooks. `--user` installs in the user's own settings instead.
//! Each file is backed up before its first change; uninstall restores the
//! backup when the file is still as warden left it, and otherwise removes
//! only warden's entries.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use warden_hooks::Agent;

use crate::agent_config;

/// Arguments of `warden init` and `warden uninstall`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// claude-code, codex, gemini or cursor.
    #[arg(value_name = "AGENT")]
    agent: String,
    /// Install in your own settings (~/.claude, ~/.codex, ~/.gemini,
    /// ~/.cursor) instead of the machine-wide managed location. A project or
    /// you can then switch the hooks off; `warden doctor` says so.
    #[arg(long)]
    user: bool,
    /// Show what would change, change nothing.
    #[arg(long)]
    dry_run: bool,
    /// The warden binary the hooks run (default: this one).
    #[arg(long, value_name = "PATH")]
    warden: Option<PathBuf>,
    /// Also put the MCP gateway in front of every stdio server this MCP
    /// configuration starts (as `warden mcp wrap FILE --agent AGENT`).
    #[arg(long, value_name = "FILE")]
    wrap_mcp: Vec<PathBuf>,
    /// Prefix for the machine-wide paths (/etc/...): for tests and images.
    #[arg(long, value_name = "DIR", hide = true, default_value = "/")]
    root: PathBuf,
}

/// Where an install goes.
#[derive(Debug, Clone)]
pub struct Target {
    /// The agent's settings file.
    pub settings: PathBuf,
    /// The enrollment secret the hook reads.
    pub secret: PathBuf,
    /// Machine-wide (managed) or the user's.
    pub managed: bool,
}

/// The install location for `agent`.
pub fn target(agent: Agent, user: bool, root: &Path) -> Target {
    let etc = |p: &str| root.join(p.trim_start_matches('/'));
    let home = crate::load::home();
    let codex_home = std::env::var_os("CODEX_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| home.join(".codex"));
    let settings = match (agent, user) {
        (Agent::ClaudeCode, false) => etc("/etc/claude-code/managed-settings.json"),
        (Agent::ClaudeCode, true) => home.join(".claude/settings.json"),
        (Agent::Codex, false) => etc("/etc/codex/requirements.toml"),
        (Agent::Codex, true) => codex_home.join("config.toml"),
        (Agent::Gemini, false) => etc("/etc/gemini-cli/settings.json"),
        (Agent::Gemini, true) => home.join(".gemini/settings.json"),
        (Agent::Cursor, false) => etc("/etc/cursor/hooks.json"),
        (Agent::Cursor, true) => home.join(".cursor/hooks.json"),
    };
    let secret = if user {
        crate::hook_client::user_config_dir().join("hooks")
    } else {
        etc("/etc/warden/hooks")
    }
    .join(format!("{}.secret", agent.name()));
    Target {
        settings,
        secret,
        managed: !user,
    }
}

/// What a backup remembers: the original text (or that there was none) and
/// the text warden wrote, so uninstall knows whether someone edited it since.
#[derive(Debug, Serialize, Deserialize)]
struct Backup {
    existed: bool,
    original: String,
    installed_sha256: String,
}

fn backup_path(settings: &Path) -> PathBuf {
    let mut name = settings.file_name().unwrap_or_default().to_os_string();
    name.push(".warden-backup.json");
    settings.with_file_name(name)
}

fn sha(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn shell_quote(p: &Path) -> String {
    format!("'{}'", p.to_string_lossy().replace('\'', r"'\''"))
}

fn parse_agent(name: &str) -> Result<Agent> {
    Agent::from_name(name).with_context(|| {
        format!("no hook adapter for {name:?}: use claude-code, codex, gemini or cursor")
    })
}

/// Replaces `path` atomically: a temp file created with its final mode (a
/// secret is never readable by others, not even for a moment), synced, then
/// renamed over it. A file that exists keeps its own mode: a settings file
/// holding tokens must not become readable by others through warden.
fn write_file(path: &Path, text: &str, mode: u32) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mode = std::fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o7777)
        .unwrap_or(mode);
    let tmp = path.with_extension(format!("warden-tmp.{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .with_context(|| format!("creating {}", tmp.display()))?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .with_context(|| format!("writing {}", tmp.display()))?;
    // The umask may have narrowed the mode asked for; set it exactly.
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode))?;
    std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))
}

/// The state directory of the daemon this install's hooks talk to: the one
/// named (`--home`, `$WARDEN_HOME`), else the invoking user's. A machine-wide
/// install made through sudo has no invoking user's daemon to mean (root's
/// would serve nobody's agents): it uses the system daemon's, which must have
/// run once (its enrollment key is what the hooks' secret is derived from).
pub fn install_home(a: &InitArgs, explicit: Option<PathBuf>, default: PathBuf) -> Result<PathBuf> {
    if let Some(home) = explicit {
        return Ok(home);
    }
    let sudo_user = std::env::var("SUDO_USER")
        .ok()
        .filter(|u| !u.is_empty() && u != "root");
    let Some(user) = sudo_user.filter(|_| !a.user) else {
        return Ok(default);
    };
    let system = a
        .root
        .join(crate::daemon_cmd::SYSTEM_HOME.trim_start_matches('/'));
    if warden_daemon::hookauth::key_path(&system).exists() {
        println!(
            "hooks talk to the system daemon in {} (name another with --home DIR)",
            system.display()
        );
        return Ok(system);
    }
    bail!(
        "`sudo warden init` puts hooks in every user's agent, so they need a daemon every user reaches: start the system daemon once (`sudo warden up --system`, state in {}), or name a daemon with --home DIR (e.g. --home ~{user}/.local/state/warden: {user}'s own, after it has run; other users' agents are then denied)",
        system.display()
    )
}

pub fn init(a: InitArgs, state_dir: &Path) -> Result<u8> {
    let agent = parse_agent(&a.agent)?;
    let t = target(agent, a.user, &a.root);
    let warden = match &a.warden {
        Some(p) => p.clone(),
        None => std::env::current_exe().context("finding this warden binary")?,
    };
    // The small hook binary next to warden starts in a fraction of the time.
    let small = warden.with_file_name("warden-hook");
    let program = if small.is_file() {
        shell_quote(&small)
    } else {
        println!(
            "note: {} is not there, so the hooks run `warden hook` (the same, slower to start); `cargo build --release --bin warden-hook` builds it",
            small.display()
        );
        format!("{} hook", shell_quote(&warden))
    };
    let command = format!(
        "{program} --home {} {} --secret-file {}",
        shell_quote(state_dir),
        agent.name(),
        shell_quote(&t.secret)
    );
    let existing = match std::fs::read_to_string(&t.settings) {
        Ok(s) => Some(s),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("reading {}", t.settings.display())),
    };
    let before = existing.clone().unwrap_or_default();
    let after = agent_config::install(agent, &before, &command, t.managed).map_err(|e| {
        anyhow::anyhow!(
            "{}: {e}; fix or move it, then run init again",
            t.settings.display()
        )
    })?;
    let secret = warden_daemon::hookauth::EnrollKey::load_or_create(state_dir)
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .secret_for(agent.name());
    let secret_ok = std::fs::read_to_string(&t.secret).is_ok_and(|s| s.trim() == secret);
    if after == before && secret_ok {
        println!(
            "{} is already governed: {} has warden's hooks",
            agent.name(),
            t.settings.display()
        );
        return Ok(0);
    }
    if a.dry_run {
        println!(
            "would write {} ({} hook entries) and {}",
            t.settings.display(),
            agent_config::events(agent).len(),
            t.secret.display()
        );
        return Ok(0);
    }
    let probe = t
        .settings
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let writable = std::fs::create_dir_all(&probe).is_ok() && tempfile_in(&probe).is_ok();
    if !writable {
        bail!(
            "cannot write {} (not writable by you): run `sudo warden init {}` for the machine-wide install, or `warden init {} --user` for your own settings (a project can then switch the hooks off)",
            t.settings.display(),
            agent.name(),
            agent.name()
        );
    }
    let backup = backup_path(&t.settings);
    let mut b: Backup = match std::fs::read_to_string(&backup)
        .ok()
        .and_then(|s| serde_json::from_str::<Backup>(&s).ok())
    {
        // Edited since warden's last install: what uninstall gives back is
        // that edited file without warden's entries, not the older original.
        Some(mut b) if sha(&before) != b.installed_sha256 && existing.is_some() => {
            let keep_lock = b.existed && agent_config::locked(agent, &b.original);
            b.original = agent_config::uninstall(agent, &before, keep_lock)
                .map_err(|e| anyhow::anyhow!("{}: {e}", t.settings.display()))?;
            b.existed = true;
            b
        }
        Some(b) => b,
        None => Backup {
            existed: existing.is_some(),
            original: before.clone(),
            installed_sha256: String::new(),
        },
    };
    // The secret is readable by whoever runs the agent: machine-wide that is
    // every user (0644); a user's own install keeps it to them.
    write_file(
        &t.secret,
        &format!("{secret}\n"),
        if t.managed { 0o644 } else { 0o600 },
    )?;
    write_file(&t.settings, &after, 0o644)?;
    b.installed_sha256 = sha(&after);
    write_file(&backup, &serde_json::to_string_pretty(&b)?, 0o600)?;
    println!(
        "{} is governed: warden's hooks are in {} (backup {})",
        agent.name(),
        t.settings.display(),
        backup.display()
    );
    println!("  hooks run: {command}");
    if agent == Agent::Codex {
        let rules = codex_rules_path(&t);
        let policy = crate::load::load_policy(None, None)?;
        write_file(&rules, &crate::codex_rules::export(&policy), 0o644)?;
        println!(
            "  Codex exec-policy rules from the policy: {} (run init again after changing command rules)",
            rules.display()
        );
    }
    for line in caveats(agent, t.managed) {
        println!("  note: {line}");
    }
    wrap_mcp(&a, agent, state_dir)
}

fn wrap_mcp(a: &InitArgs, agent: Agent, state_dir: &Path) -> Result<u8> {
    for f in &a.wrap_mcp {
        crate::mcp_wrap::run(f, true, agent.name(), state_dir)?;
    }
    if a.wrap_mcp.is_empty() {
        println!(
            "  MCP servers: `warden mcp wrap FILE --agent {}` puts the gateway in front of them",
            agent.name()
        );
    }
    Ok(0)
}

/// Codex reads `rules/*.rules` next to each config layer's file.
fn codex_rules_path(t: &Target) -> PathBuf {
    t.settings
        .parent()
        .unwrap_or(Path::new("."))
        .join("rules")
        .join("warden.rules")
}

fn tempfile_in(dir: &Path) -> std::io::Result<()> {
    let p = dir.join(format!(".warden-probe-{}", std::process::id()));
    std::fs::write(&p, b"")?;
    std::fs::remove_file(&p)
}

/// What the user should know about how strong the install is.
fn caveats(agent: Agent, managed: bool) -> Vec<&'static str> {
    let mut out = Vec::new();
    if !managed {
        out.push("installed in your own settings: a project's settings or you can switch these hooks off; `sudo warden init` installs them where they cannot be");
    }
    match agent {
        Agent::Codex if !managed => out.push(
            "Codex runs user hooks only once you trust them (`/hooks` in codex) or with --dangerously-bypass-hook-trust",
        ),
        Agent::Gemini => out.push(
            "Gemini CLI lets a user's or project's hooksConfig.disabled switch off system hooks, and runs a hook that crashes or times out as allowed",
        ),
        Agent::Cursor => out.push(
            "Cursor's failClosed key is honoured only by newer Cursor releases; older ones run the tool when a hook fails",
        ),
        _ => {}
    }
    out
}

pub fn uninstall(a: InitArgs) -> Result<u8> {
    let agent = parse_agent(&a.agent)?;
    let t = target(agent, a.user, &a.root);
    let backup = backup_path(&t.settings);
    let current = std::fs::read_to_string(&t.settings).ok();
    let saved: Option<Backup> = std::fs::read_to_string(&backup)
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok());
    if a.dry_run {
        println!("would remove warden's hooks from {}", t.settings.display());
        return Ok(0);
    }
    match (current, saved) {
        (None, _) => println!(
            "{}: {} does not exist; nothing to remove",
            agent.name(),
            t.settings.display()
        ),
        (Some(cur), Some(b)) if sha(&cur) == b.installed_sha256 => {
            if b.existed {
                write_file(&t.settings, &b.original, 0o644)?;
                println!(
                    "{}: restored {} from its backup",
                    agent.name(),
                    t.settings.display()
                );
            } else {
                std::fs::remove_file(&t.settings)?;
                println!(
                    "{}: removed {} (warden had created it)",
                    agent.name(),
                    t.settings.display()
                );
            }
            std::fs::remove_file(&backup)?;
        }
        (Some(cur), saved) => {
            // The lock key goes only if warden added it; without a backup
            // nobody can say, and the stricter setting stays.
            let keep_lock = saved
                .as_ref()
                .is_none_or(|b| b.existed && agent_config::locked(agent, &b.original));
            let cleaned = agent_config::uninstall(agent, &cur, keep_lock)
                .map_err(|e| anyhow::anyhow!("{}: {e}", t.settings.display()))?;
            write_file(&t.settings, &cleaned, 0o644)?;
            println!(
                "{}: removed warden's hooks from {} (it changed since warden wrote it, so the rest is kept)",
                agent.name(),
                t.settings.display()
            );
            if saved.is_some() {
                println!("  the original is still in {}", backup.display());
            }
            if keep_lock && agent_config::locked(agent, &cleaned) {
                println!(
                    "  kept the setting that allows only managed hooks: {}",
                    if saved.is_some() {
                        "it was there before warden's install"
                    } else {
                        "no backup says warden added it (remove it yourself if it did)"
                    }
                );
            }
        }
    }
    let _ = std::fs::remove_file(&t.secret);
    if agent == Agent::Codex {
        let _ = std::fs::remove_file(codex_rules_path(&t));
    }
    Ok(0)
}

/// `warden doctor`: per agent, whether its hooks are installed and where.
pub fn doctor(root: &Path, state_dir: &Path) -> Result<u8> {
    let socket = state_dir.join("warden.sock");
    let running = std::os::unix::net::UnixStream::connect(&socket).is_ok();
    println!(
        "daemon: {}",
        if running {
            format!("running ({})", socket.display())
        } else {
            format!(
                "NOT running ({}): every hooked tool call is denied until `warden up`",
                socket.display()
            )
        }
    );
    for agent in Agent::ALL {
        let mut lines = Vec::new();
        for user in [false, true] {
            let t = target(agent, user, root);
            let Ok(text) = std::fs::read_to_string(&t.settings) else {
                continue;
            };
            let commands = agent_config::our_commands(agent, &text);
            let n = commands.len();
            if n == 0 {
                continue;
            }
            // The daemon these hooks talk to is the one their command names
            // (a machine-wide install names the system daemon), not
            // necessarily the one this doctor was pointed at.
            let home = commands
                .iter()
                .find_map(|c| agent_config::command_home(c))
                .unwrap_or_else(|| state_dir.to_path_buf());
            let secret = std::fs::read_to_string(&t.secret).unwrap_or_default();
            // Read only: a diagnosis creates no keys.
            let valid = warden_daemon::hookauth::EnrollKey::load(&home)
                .is_ok_and(|k| k.verify(secret.trim()).as_deref() == Some(agent.name()));
            let elsewhere = if home == state_dir {
                String::new()
            } else {
                let up = std::os::unix::net::UnixStream::connect(home.join("warden.sock")).is_ok();
                format!(
                    "; its hooks talk to the daemon in {} ({})",
                    home.display(),
                    if up { "running" } else { "NOT running" }
                )
            };
            let strength = match (user, agent_config::locked(agent, &text)) {
                (false, true) => "managed, locked: projects and users cannot switch it off",
                (false, false) => "machine-wide: other hook sources may still switch it off",
                (true, _) => "user settings: a project or the user can switch it off",
            };
            lines.push(format!(
                "{n} hooks in {} ({strength}){elsewhere}{}",
                t.settings.display(),
                if valid {
                    ""
                } else {
                    "; its enrollment secret does not match that daemon: run `warden init` again"
                }
            ));
        }
        if lines.is_empty() {
            println!(
                "{:<12} NOT governed (run `warden init {}`)",
                agent.name(),
                agent.name()
            );
        } else {
            for l in lines {
                println!("{:<12} governed: {l}", agent.name());
            }
        }
    }
    for line in crate::run_cmd::kernel_report() {
        println!("{line}");
    }
    println!(
        "shell guard: `warden shell` (every line checked at Enter; risky lines held for a verdict)"
    );
    for line in crate::watch_cmd::report() {
        println!("{line}");
    }
    Ok(0)
}
