//! The `warden` command: a thin clap front end over the library crates.
//!
//! Exit codes (documented in `--help` and the README):
//!   0 allow (or success), 1 error or bad usage, 2 deny, 3 ask.
#![forbid(unsafe_code)]

mod agent_config;
mod audit;
mod bench;
mod bench_decide;
mod bench_exec;
mod bench_hooks;
mod bench_proxy;
mod bench_shell;
mod bench_watch;
mod check;
mod codex_config;
mod codex_rules;
mod daemon_cmd;
mod decide_cmd;
mod hook_client;
mod hook_cmd;
mod init_cmd;
mod llm_hosts;
mod load;
mod mcp_cmd;
mod mcp_scan;
mod mcp_wrap;
mod policy_cmd;
mod render;
mod run_cmd;
mod run_supervise;
mod session;
mod shell_cmd;
mod shell_decide;
mod watch_cmd;
#[cfg(feature = "ebpf")]
mod watch_run;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

const EXIT_HELP: &str = "Exit codes: 0 allow (or success), 1 error or bad usage, 2 deny, 3 ask.\n`warden audit verify*`: 0 valid, 1 invalid, 2 malformed input.";

/// warden: the governance layer for AI agents.
///
/// Every action an agent takes (a shell command, a file read or write, a network
/// request, an MCP tool call) is decided by policy: allow, deny, or ask a human.
#[derive(Debug, Parser)]
#[command(name = "warden", version, about, long_about = None, after_help = EXIT_HELP)]
struct Cli {
    /// Policy file to use as the user layer (default: ~/.config/warden/policy.toml,
    /// or the built-in default policy when that does not exist). The system layer
    /// /etc/warden/policy.toml and the project layer <cwd>/.warden/policy.toml are
    /// added when present; they can only tighten it.
    #[arg(long, global = true, value_name = "FILE")]
    policy: Option<PathBuf>,

    /// warden's state directory: the audit log, keys and socket (default:
    /// $WARDEN_HOME, else ~/.local/state/warden).
    #[arg(long, global = true, value_name = "DIR")]
    home: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Decide one action, or a stream of Action JSON lines with --jsonl.
    #[command(after_help = check::CHECK_HELP)]
    Check(Box<check::CheckArgs>),
    /// Create, validate, test, explain and benchmark policies.
    #[command(subcommand)]
    Policy(policy_cmd::PolicyCommand),
    /// Verify, read, prove and export the tamper-evident audit log.
    #[command(subcommand, after_help = audit::AUDIT_HELP)]
    Audit(audit::AuditCommand),
    /// Start the daemon: the governor every interceptor asks, and the local API.
    #[command(after_help = daemon_cmd::UP_HELP)]
    Up(daemon_cmd::UpArgs),
    /// Stop the daemon (pending asks are denied and recorded).
    Down,
    /// Print a fresh one-time login link to the dashboard (from your terminal).
    Dashboard,
    /// Show whether the daemon runs, and what it has decided.
    Status {
        /// Print the daemon's status as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the asks waiting for a human.
    Asks {
        /// Print them as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Benchmarks of the running system.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Ask the running daemon to decide one Action (as an interceptor does).
    Decide(decide_cmd::DecideArgs),
    /// Allow one pending ask, or with --always this exact action from now on
    /// (from a terminal outside every agent session).
    Approve(daemon_cmd::ApproveArgs),
    /// Deny one pending ask.
    Deny(daemon_cmd::AnswerArgs),
    /// Install warden's hooks into an agent (claude-code, codex, gemini,
    /// cursor), machine-wide where a project cannot switch them off.
    Init(init_cmd::InitArgs),
    /// Take warden's hooks out of an agent again (restoring the backup).
    Uninstall(init_cmd::InitArgs),
    /// Show which agents are governed, and how strongly.
    Doctor {
        /// Prefix for the machine-wide paths (for tests and images).
        #[arg(long, value_name = "DIR", hide = true, default_value = "/")]
        root: PathBuf,
    },
    /// The hook an agent runs (installed by `warden init`): payload on stdin,
    /// the agent's own reply on stdout.
    Hook(hook_cmd::HookArgs),
    /// Run a command (an agent, a shell, a package install) inside the kernel
    /// sandbox as a governed session: every exec decided by the daemon.
    #[command(after_help = run_cmd::RUN_HELP)]
    Run(run_cmd::RunArgs),
    /// An interactive shell with warden between it and the terminal: each
    /// command line classified at Enter, high-risk ones held for a verdict.
    #[command(after_help = shell_cmd::SHELL_HELP)]
    Shell(shell_cmd::ShellArgs),
    /// The eBPF observer (root): every exec and connect on the machine
    /// recorded, agents outside every session raised as alerts.
    #[command(after_help = watch_cmd::WATCH_HELP)]
    Watch(watch_cmd::WatchArgs),
    /// The MCP gateway in front of a server (`warden mcp -- cmd…`), and an
    /// offline audit of MCP configurations (`warden mcp scan FILE…`).
    Mcp(mcp_cmd::McpArgs),
}

/// Benchmarks.
#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Decide round trips through a real daemon over its Unix socket, with the
    /// audit log recording every verdict.
    Decide(bench_decide::BenchDecideArgs),
    /// Agent hooks and the MCP gateway, timed as the agents see them: hook
    /// process, HTTP hook round trip, gateway added latency per call.
    Hooks(bench_hooks::BenchHooksArgs),
    /// What the sandbox's exec supervision adds to each exec: a loop of
    /// execs bare and inside `warden run`, against a scratch daemon.
    Exec(bench_exec::BenchExecArgs),
    /// The egress proxy against a loopback upstream, side by side with direct
    /// access: added latency, throughput at many connections, memory.
    Proxy(bench_proxy::BenchProxyArgs),
    /// What `warden shell` adds to typing: key-to-echo and Enter-to-prompt
    /// latency, bash bare and under the guard, side by side.
    Shell(bench_shell::BenchShellArgs),
    /// What the eBPF observer adds to each exec: an exec loop with it
    /// detached and attached, side by side (root, `--features ebpf`).
    Watch(bench_watch::BenchWatchArgs),
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("WARDEN_LOG"))
        .with_writer(std::io::stderr)
        .init();
    // clap exits with 2 on usage errors, which would read as "deny": map them to 1.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let args: Vec<String> = std::env::args().collect();
            // The audit verifiers promise 2 for malformed input, and a hook
            // must block on a bad argument (agents run the tool on exit 1).
            let hook = args.iter().skip(1).any(|a| a == "hook");
            let usage = if audit::is_verify_invocation(&args) || hook {
                2
            } else {
                1
            };
            let code = if e.use_stderr() { usage } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let result = match cli.command {
        Command::Check(args) => check::run(
            *args,
            cli.policy.as_deref(),
            &audit::home_dir(cli.home.as_deref()),
        ),
        Command::Policy(cmd) => policy_cmd::run(cmd, cli.policy.as_deref()),
        Command::Audit(cmd) => audit::run(cmd, cli.home.as_deref()),
        Command::Up(args) => {
            let home = daemon_cmd::up_home(&args, cli.home.as_deref());
            daemon_cmd::up(args, &home, cli.policy.as_deref())
        }
        Command::Down => daemon_cmd::down(&audit::home_dir(cli.home.as_deref())),
        Command::Dashboard => daemon_cmd::dashboard(&audit::home_dir(cli.home.as_deref())),
        Command::Status { json } => daemon_cmd::status(&audit::home_dir(cli.home.as_deref()), json),
        Command::Asks { json } => daemon_cmd::asks(&audit::home_dir(cli.home.as_deref()), json),
        Command::Bench(BenchCommand::Decide(a)) => bench_decide::run(a),
        Command::Bench(BenchCommand::Hooks(a)) => bench_hooks::run(a),
        Command::Bench(BenchCommand::Exec(a)) => bench_exec::run(a),
        Command::Bench(BenchCommand::Proxy(a)) => bench_proxy::run(a),
        Command::Bench(BenchCommand::Shell(a)) => bench_shell::run(a),
        Command::Bench(BenchCommand::Watch(a)) => bench_watch::run(a),
        Command::Decide(a) => decide_cmd::run(a, &audit::home_dir(cli.home.as_deref())),
        Command::Approve(a) => daemon_cmd::approve(&audit::home_dir(cli.home.as_deref()), a),
        Command::Deny(a) => daemon_cmd::deny(&audit::home_dir(cli.home.as_deref()), a),
        Command::Init(a) => {
            let explicit = cli.home.clone().or_else(load::warden_home_env);
            init_cmd::install_home(&a, explicit, audit::home_dir(None))
                .and_then(|home| init_cmd::init(a, &home))
        }
        Command::Uninstall(a) => init_cmd::uninstall(a),
        Command::Doctor { root } => init_cmd::doctor(&root, &audit::home_dir(cli.home.as_deref())),
        Command::Hook(a) => hook_cmd::run(a, &audit::home_dir(cli.home.as_deref())),
        Command::Run(a) => run_cmd::run(
            a,
            &audit::home_dir(cli.home.as_deref()),
            cli.policy.as_deref(),
        ),
        Command::Shell(a) => shell_cmd::run(a, &audit::home_dir(cli.home.as_deref())),
        Command::Watch(a) => watch_cmd::run(a, &audit::home_dir(cli.home.as_deref())),
        Command::Mcp(a) => mcp_cmd::run_cmd(a, &audit::home_dir(cli.home.as_deref())),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("warden: {e:#}");
            ExitCode::from(1)
        }
    }
}
