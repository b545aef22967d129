//! `warden run -- <command…>`: the command as a registered agent session
//! inside the kernel sandbox, every exec of its tree decided by the daemon.
//! Fails closed: no daemon, no sandbox (nothing runs); a daemon that stops
//! answering means every later exec is refused.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use warden_daemon::client::Client;
use warden_sandbox::{Choices, Limits};

pub const RUN_HELP: &str = "\
Examples:
  warden run -- claude                 Claude Code, profile claude-code
  warden run --profile install -- npm install
  warden run --workspace ~/src/app -- bash
  warden run --explain -- codex        print what would be enforced, run nothing

Inside: the host's files read-only at their usual paths, the workspace
writable, a private /tmp, no network (an empty network namespace), secrets
(~/.ssh, ~/.aws, keyrings, browser profiles, warden's own files) not visible
at all, git hooks and config, shell rc files and agent settings read-only.
Every program the tree executes is decided by the daemon (`warden up` must
be running); a denied exec fails with \"Operation not permitted\".

Profiles: claude-code, codex, shell, install (default: from the command's
name), extended or added by the policy's [profile.NAME] tables, e.g.

  [profile.claude-code]
  read_write = [\"~/.cache/pip\"]      # more writable paths
  hidden = [\"~/work/secrets\"]        # more hidden paths
  env = [\"GOPATH\", \"AWS_REGION\"]    # more variables passed in
  memory_mb = 4096                    # rlimits: cpu_seconds, processes, open_files

Exit code: the command's own; 125 when the sandbox could not start.";

/// Arguments of `warden run`.
#[derive(Debug, Args)]
#[command(after_help = RUN_HELP)]
pub struct RunArgs {
    /// The profile: claude-code, codex, shell or install.
    #[arg(long, value_name = "NAME")]
    profile: Option<String>,
    /// The writable workspace (default: the current directory).
    #[arg(long, value_name = "DIR")]
    workspace: Option<PathBuf>,
    /// The session's autonomy level (0-4; default: the policy's for the agent).
    #[arg(long, value_name = "LEVEL")]
    autonomy: Option<u8>,
    /// Start even if the kernel cannot enforce every protection (prints what
    /// is missing).
    #[arg(long)]
    allow_degraded: bool,
    /// Print the effective grants and exit without running anything.
    #[arg(long)]
    explain: bool,
    /// Pass this variable of your environment into the sandbox (repeatable;
    /// `NAME*` passes every variable starting with NAME). The environment is
    /// otherwise clean: PATH, HOME, TERM, locale and the profile's names.
    #[arg(long = "env", value_name = "NAME")]
    pass_env: Vec<String>,
    /// Kill the whole tree after this long (e.g. 30m, 2h).
    #[arg(long, value_name = "DURATION")]
    timeout: Option<humantime::Duration>,
    /// The command and its arguments.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    command: Vec<String>,
}

/// A built-in profile: the agent name the session is registered under and
/// what the agent needs beyond the defaults.
#[derive(Debug, Clone)]
pub struct Builtin {
    pub name: &'static str,
    /// The agent name (selects `[agents.NAME]` in the policy).
    pub agent: &'static str,
    /// Writable paths relative to the home directory.
    pub home_read_write: &'static [&'static str],
    /// Environment variables passed (a trailing `*` is a prefix).
    pub env: &'static [&'static str],
}

pub const BUILTIN: &[Builtin] = &[
    Builtin {
        name: "claude-code",
        agent: "claude-code",
        home_read_write: &[".claude", ".claude.json", ".cache/claude"],
        env: &["ANTHROPIC_*", "CLAUDE_*", "DISABLE_*"],
    },
    Builtin {
        name: "codex",
        agent: "codex",
        home_read_write: &[".codex"],
        env: &["OPENAI_*", "CODEX_*"],
    },
    Builtin {
        name: "shell",
        agent: "shell",
        home_read_write: &[],
        env: &[],
    },
    Builtin {
        name: "install",
        agent: "install",
        home_read_write: &[
            ".npm",
            ".cache",
            ".cargo/registry",
            ".cargo/git",
            ".rustup/tmp",
        ],
        env: &["npm_config_*", "PIP_*", "CARGO_HOME", "RUSTUP_HOME"],
    },
];

/// The profile in force: a built-in, extended by the policy's
/// `[profile.NAME]` of the same name, or a profile only the policy defines.
#[derive(Debug, Clone, Default)]
pub struct Effective {
    pub name: String,
    pub agent: String,
    pub read_write: Vec<PathBuf>,
    pub hidden: Vec<PathBuf>,
    pub env: Vec<String>,
    pub tcp_bind: Vec<u16>,
    pub tcp_connect: Vec<u16>,
    pub limits: Limits,
}

/// The name the command suggests when no profile is named.
fn suggested(command: &[String]) -> &'static str {
    let program = command
        .first()
        .map(|c| c.rsplit('/').next().unwrap_or(c).to_string())
        .unwrap_or_default();
    match program.as_str() {
        "claude" => "claude-code",
        "codex" => "codex",
        "npm" | "npx" | "pnpm" | "yarn" | "pip" | "pip3" | "uv" | "cargo" => "install",
        _ => "shell",
    }
}

/// Resolves the profile named (or suggested by the command).
pub fn profile(
    name: Option<&str>,
    command: &[String],
    policy: &BTreeMap<String, warden_policy::profile::Profile>,
    home: &Path,
) -> Result<Effective> {
    let name = name.unwrap_or_else(|| suggested(command));
    let builtin = BUILTIN.iter().find(|b| b.name == name);
    let defined = policy.get(name);
    let mut e = match (builtin, defined) {
        (None, None) => {
            let mut known: Vec<&str> = BUILTIN.iter().map(|b| b.name).collect();
            known.extend(policy.keys().map(String::as_str));
            bail!("no profile {name:?} (profiles: {})", known.join(", "));
        }
        (Some(b), _) => Effective {
            name: name.to_string(),
            agent: b.agent.to_string(),
            read_write: b.home_read_write.iter().map(|p| home.join(p)).collect(),
            env: b.env.iter().map(|s| s.to_string()).collect(),
            ..Effective::default()
        },
        (None, Some(_)) => Effective {
            name: name.to_string(),
            agent: name.to_string(),
            ..Effective::default()
        },
    };
    if let Some(p) = defined {
        if let Some(a) = &p.agent {
            e.agent = a.clone();
        }
        e.read_write.extend(p.read_write.iter().cloned());
        e.hidden.extend(p.hidden.iter().cloned());
        e.env.extend(p.env.iter().cloned());
        e.tcp_bind.extend(&p.tcp_bind);
        e.tcp_connect.extend(&p.tcp_connect);
        e.limits = Limits {
            cpu_seconds: p.cpu_seconds,
            memory_bytes: p.memory_bytes,
            processes: p.processes,
            open_files: p.open_files,
        };
    }
    Ok(e)
}

/// Where the egress proxy is bridged in on the sandbox's own loopback.
pub const EGRESS_PORT: u16 = 7421;

/// The agents' provider base URLs, pointed at the LLM gateway behind the
/// sandbox's egress bridge, unless the caller chose its own (those requests
/// still go out through the proxy, as tunnels).
fn llm_base_urls() -> Vec<(String, String)> {
    let base = format!("http://127.0.0.1:{EGRESS_PORT}/llm");
    [
        ("ANTHROPIC_BASE_URL", format!("{base}/anthropic")),
        ("OPENAI_BASE_URL", format!("{base}/openai/v1")),
    ]
    .into_iter()
    .filter(|(k, _)| std::env::var_os(k).is_none())
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

pub fn run(a: RunArgs, home: &Path, policy: Option<&Path>) -> Result<u8> {
    let user_home = crate::load::home();
    let cwd = std::env::current_dir().context("reading the current directory")?;
    let workspace = a.workspace.clone().unwrap_or_else(|| cwd.clone());
    let workspace = workspace
        .canonicalize()
        .with_context(|| format!("the workspace {}", workspace.display()))?;
    if workspace == Path::new("/") {
        bail!("the workspace cannot be / (the sandbox would protect nothing)");
    }
    let user_home_c = user_home
        .canonicalize()
        .unwrap_or_else(|_| user_home.clone());
    if user_home_c.starts_with(&workspace) {
        bail!(
            "the workspace cannot be {} : it holds your home directory, whose startup files, \
             autostart entries and tools would all be writable (run warden from a project \
             directory, or pass --workspace DIR)",
            workspace.display()
        );
    }
    let cwd = cwd.canonicalize().unwrap_or(cwd);
    let cwd = if cwd.starts_with(&workspace) {
        cwd
    } else {
        workspace.clone()
    };
    // The policy decides which profiles exist; one that does not load
    // starts nothing.
    let loaded = crate::load::load_policy(policy, Some(&workspace))?;
    let profile = profile(
        a.profile.as_deref(),
        &a.command,
        &loaded.profiles,
        &user_home,
    )?;
    let mut hidden = vec![home.to_path_buf(), crate::hook_client::user_config_dir()];
    hidden.push("/etc/warden".into());
    hidden.extend(std::env::var_os("WARDEN_SYSTEM_POLICY").map(PathBuf::from));
    hidden.extend(policy.map(Path::to_path_buf));
    hidden.extend(profile.hidden.iter().cloned());
    let choices = Choices {
        workspace: workspace.clone(),
        home: user_home.clone(),
        read_write: profile.read_write.clone(),
        hidden,
        env: profile.env.iter().chain(&a.pass_env).cloned().collect(),
        set_env: llm_base_urls(),
        tcp_bind: profile.tcp_bind.clone(),
        tcp_connect: profile.tcp_connect.clone(),
        limits: profile.limits.clone(),
        allow_degraded: a.allow_degraded,
        egress_port: Some(EGRESS_PORT),
    };
    let caller_env: Vec<(String, String)> = std::env::vars().collect();
    let plan = || {
        let planned = warden_sandbox::plan(&choices, a.command.clone(), cwd, &caller_env);
        (planned, warden_sandbox::features())
    };
    if a.explain {
        let ((spec, notes), _) = plan();
        println!("profile:     {} (agent {})", profile.name, profile.agent);
        print!("{}", warden_sandbox::explain(&spec, &notes));
        return Ok(0);
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let socket = home.join("warden.sock");
    let api = Client::new(&socket, Duration::from_secs(10));
    // Planning walks the workspace for git repositories; the daemon
    // registers the session meanwhile. Nothing starts before both are done.
    let (planned, session) = std::thread::scope(|s| {
        let planning = s.spawn(plan);
        let session = crate::session::register(
            &rt,
            &api,
            &profile.agent,
            a.autonomy,
            &workspace,
            "warden run needs the daemon to decide the sandbox's execs; nothing was started",
        );
        (planning.join(), session)
    });
    let session = session?;
    let Ok(((mut spec, _notes), features)) = planned else {
        crate::session::stop(&rt, &api, &session);
        bail!("planning the sandbox failed; nothing was started");
    };
    if !features.landlock_missing.is_empty() {
        eprintln!(
            "warden run: Landlock on this kernel (ABI {}) cannot enforce: {}{}",
            features.landlock_abi,
            features.landlock_missing.join("; "),
            if a.allow_degraded {
                " (going on: --allow-degraded)"
            } else {
                ""
            }
        );
    }
    // The session's cgroup, where warden may make one (root, or a delegated
    // tree): the observer then places the sandbox's every process, and
    // `warden watch --deny-port SESSION:PORT` refuses its ports. Without
    // one the session is known by its process tree alone.
    let cgroup = match warden_sandbox::cgroup::SessionCgroup::create(&session.id) {
        Ok(c) => {
            spec.cgroup = Some(c.path().to_path_buf());
            Some(c)
        }
        Err(e) => {
            tracing::debug!("no cgroup for the session: {e}");
            None
        }
    };
    let mut sandbox = match warden_sandbox::launch(&spec) {
        Ok(s) => s,
        Err(e) => {
            crate::session::stop(&rt, &api, &session);
            eprintln!("warden run: refusing to start: {e}");
            return Ok(125);
        }
    };
    if let Some(l) = sandbox.take_egress() {
        let proxy = warden_daemon::egress::socket_in(home);
        rt.spawn(crate::run_supervise::bridge(l, proxy));
    }
    let code = rt.block_on(crate::run_supervise::supervise(
        &mut sandbox,
        &socket,
        &session.id,
        &session.secret,
        a.timeout.map(Into::into),
    ));
    crate::session::stop(&rt, &api, &session);
    drop(cgroup);
    Ok(u8::try_from(code).unwrap_or(125))
}

/// What `warden run` can enforce on this kernel, for `warden doctor`.
pub fn kernel_report() -> Vec<String> {
    let f = warden_sandbox::features();
    let mark = |r: &Result<(), String>| match r {
        Ok(()) => "yes".to_string(),
        Err(e) => format!("NO ({e})"),
    };
    let landlock = if f.landlock_missing.is_empty() {
        format!("ABI {}, every required feature", f.landlock_abi)
    } else {
        format!(
            "ABI {}, missing: {} (warden run refuses unless --allow-degraded)",
            f.landlock_abi,
            f.landlock_missing.join("; ")
        )
    };
    let unix = if f.landlock_abi >= 9 {
        "enforced by Landlock"
    } else {
        "hidden by the mount view only (Landlock ABI 9 enforces it)"
    };
    vec![
        "sandbox:     `warden run` on this kernel".to_string(),
        format!("  user namespaces        {}", mark(&f.user_namespaces)),
        format!("  Landlock               {landlock}"),
        format!("  exec supervision       {}", mark(&f.user_notification)),
        format!("  pathname Unix sockets  {unix}"),
        format!(
            "  resource limits        rlimits{}",
            if f.cgroup2 {
                " (cgroup v2 is mounted but its controllers are not used yet)"
            } else {
                " (no cgroup v2 at /sys/fs/cgroup)"
            }
        ),
        format!(
            "  session cgroups        {}",
            match warden_sandbox::cgroup::cgroup2_mount() {
                Some(m) => format!(
                    "{}/warden/<session> when warden run may write there (root, or a delegated tree)",
                    m.display()
                ),
                None => "NO (no cgroup v2 hierarchy mounted)".to_string(),
            }
        ),
    ]
}
