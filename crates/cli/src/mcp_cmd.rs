//! `warden mcp -- <server command…>`: the MCP gateway on stdio, deciding
//! through the running daemon; `warden mcp scan FILE…`: an offline audit of
//! agents' MCP configurations.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use hyper::Method;
use warden_daemon::client::Client;
use warden_mcp::stdio::{StdioOptions, run};
use warden_mcp::{Decider, Settings};
use warden_types::{Action, Verdict};

/// Arguments of `warden mcp`.
#[derive(Debug, Args)]
#[command(
    args_conflicts_with_subcommands = true,
    after_help = "\
Put it in front of an MCP server in the agent's configuration, e.g. in .mcp.json:
  {\"mcpServers\": {\"github\": {\"command\": \"warden\",
     \"args\": [\"mcp\", \"--name\", \"github\", \"--\", \"npx\", \"-y\", \"@modelcontextprotocol/server-github\"]}}}

Every tools/call is decided by the daemon first (a denial reaches the model as a
tool error with the reason); tool definitions are pinned by digest and scanned
for poisoning, and a changed or flagged one stays hidden until a person approves
it (`warden asks`). If the daemon is not running, every call is denied.

  warden mcp scan .mcp.json ~/.codex/config.toml    audit configurations offline"
)]
pub struct McpArgs {
    #[command(subcommand)]
    sub: Option<McpSub>,
    /// The server's name in rules (`mcp__NAME__tool`); default: the program name.
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// The agent the gateway serves, for its enrollment (`warden init` sets it).
    #[arg(long, value_name = "AGENT")]
    agent: Option<String>,
    /// The enrollment secret file (default: the agent's, as for hooks).
    #[arg(long, value_name = "FILE")]
    secret_file: Option<PathBuf>,
    /// Seconds to wait for a decision (asks wait for a person) before denying.
    #[arg(long, value_name = "SECS", default_value_t = 130)]
    timeout: u64,
    /// Milliseconds a tools/list answer waits for new definitions to be
    /// decided; the ones still waiting for a person are hidden meanwhile.
    #[arg(long, value_name = "MS", default_value_t = 1500)]
    list_wait_ms: u64,
    /// Largest message accepted either way, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = warden_mcp::framing::DEFAULT_MAX_MESSAGE)]
    max_message: usize,
    /// Instead of a command: the MCP server's Streamable HTTP endpoint
    /// (http://host:port/path); the gateway then listens on --listen.
    #[arg(long, value_name = "URL", conflicts_with = "command")]
    upstream: Option<String>,
    /// More CAs (PEM) to trust for an https:// upstream, besides the system's.
    #[arg(long, value_name = "FILE", requires = "upstream")]
    upstream_ca: Vec<PathBuf>,
    /// Where the agent connects in --upstream mode (loopback only).
    #[arg(
        long,
        value_name = "ADDR",
        default_value = "127.0.0.1:7421",
        requires = "upstream"
    )]
    listen: std::net::SocketAddr,
    /// The server command and its arguments, after `--`.
    #[arg(last = true, value_name = "COMMAND")]
    command: Vec<String>,
}

#[derive(Debug, Subcommand)]
enum McpSub {
    /// Put the gateway in front of every stdio MCP server FILE configures
    /// (a backup is kept); remote servers are listed.
    Wrap {
        /// The agent's MCP configuration (.mcp.json, ~/.claude.json, mcp.json,
        /// settings.json, config.toml).
        file: PathBuf,
        /// The agent whose configuration it is (for its enrollment).
        #[arg(long, default_value = "claude-code", value_name = "AGENT")]
        agent: String,
    },
    /// Take the gateway out again.
    Unwrap {
        /// The configuration file.
        file: PathBuf,
    },
    /// Audit MCP configuration files offline (Claude Code .mcp.json and
    /// ~/.claude.json, Codex config.toml, Cursor mcp.json, Gemini
    /// settings.json): ungoverned servers, unpinned packages, secrets written
    /// inline, plain-HTTP servers, dangerous commands.
    Scan {
        /// Configuration files.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Print the findings as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Decides through the daemon's socket; every failure is a deny.
struct DaemonDecider {
    client: Client,
    secret: Option<String>,
    timeout: Duration,
}

impl Decider for DaemonDecider {
    fn decide(&self, action: Action) -> Pin<Box<dyn Future<Output = Verdict> + Send + '_>> {
        Box::pin(async move {
            let body = match serde_json::to_value(&action) {
                Ok(b) => b,
                Err(e) => {
                    return Verdict::malformed(format!("the action could not be encoded: {e}"));
                }
            };
            let mut headers = Vec::new();
            if let Some(s) = self.secret.as_deref() {
                headers.push((warden_daemon::api::SECRET_HEADER, s));
            }
            let path = format!("/v1/decide?deadline_ms={}", self.timeout.as_millis());
            match self
                .client
                .call(Method::POST, &path, Some(&body), &headers)
                .await
            {
                Ok((_, v)) => serde_json::from_value(v).unwrap_or_else(|e| {
                    Verdict::malformed(format!("the daemon's answer is not a verdict: {e}"))
                }),
                Err(e) if e.is_not_running() => Verdict::malformed(
                    "the warden daemon is not running, so nothing is allowed (start it with `warden up`)",
                ),
                Err(e) => Verdict::malformed(format!("no decision: {e}")),
            }
        })
    }
}

pub fn run_cmd(a: McpArgs, home: &Path) -> Result<u8> {
    match a.sub {
        Some(McpSub::Scan { files, json }) => return crate::mcp_scan::run(&files, json),
        Some(McpSub::Wrap { file, agent }) => {
            return crate::mcp_wrap::run(&file, true, &agent, home);
        }
        Some(McpSub::Unwrap { file }) => {
            return crate::mcp_wrap::run(&file, false, "claude-code", home);
        }
        None => {}
    }
    if a.command.is_empty() && a.upstream.is_none() {
        anyhow::bail!(
            "no MCP server: warden mcp [--name NAME] -- <command> [args…], or warden mcp --upstream URL [--listen ADDR] (see --help)"
        );
    }
    let name = a
        .name
        .clone()
        .unwrap_or_else(|| match (&a.upstream, a.command.first()) {
            (Some(url), _) => url
                .split_once("://")
                .map(|(_, r)| r)
                .unwrap_or(url)
                .split(['/', ':'])
                .next()
                .unwrap_or("mcp")
                .to_string(),
            (None, Some(program)) => program.rsplit('/').next().unwrap_or(program).to_string(),
            (None, None) => "mcp".into(),
        });
    let secret = match (&a.secret_file, &a.agent) {
        (Some(f), _) => Some(
            std::fs::read_to_string(f)
                .with_context(|| format!("reading the secret file {}", f.display()))?
                .trim()
                .to_string(),
        ),
        (None, Some(agent)) => warden_hooks::Agent::from_name(agent).and_then(|ag| {
            crate::hook_client::secret_file_candidates(ag)
                .into_iter()
                .find_map(|p| std::fs::read_to_string(p).ok())
                .map(|s| s.trim().to_string())
        }),
        (None, None) => std::env::var("WARDEN_SESSION_SECRET").ok(),
    };
    let timeout = Duration::from_secs(a.timeout.max(1));
    let decider = Arc::new(DaemonDecider {
        client: Client::keep_alive(&home.join("warden.sock"), timeout),
        secret,
        timeout,
    });
    let cwd = std::env::current_dir()
        .map(|d| d.to_string_lossy().into_owned())
        .unwrap_or_default();
    let settings = Settings {
        server: name,
        cwd,
        list_wait: Duration::from_millis(a.list_wait_ms),
    };
    if let Some(upstream) = a.upstream {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        return rt.block_on(async move {
            let opts = warden_mcp::http::HttpOptions {
                listen: a.listen,
                upstream: upstream.clone(),
                upstream_ca: a.upstream_ca.clone(),
                max_message: a.max_message,
                settings,
            };
            let (addr, task) = warden_mcp::http::serve(opts, decider).await?;
            eprintln!("warden mcp: http://{addr}/ relays to {upstream}; point the agent's MCP URL at it. Ctrl-C stops it.");
            tokio::signal::ctrl_c().await?;
            task.abort();
            Ok(0)
        });
    }
    let opts = StdioOptions {
        command: a.command,
        max_message: a.max_message,
        settings,
    };
    // One thread: every message hops between tasks, and on one thread no hop
    // waits for another thread to wake.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let code = rt.block_on(async move {
        // Agents start MCP servers on pipes: read and write them as pipes
        // (readiness-driven, no blocking-thread hop per read); anything else
        // (a file, a terminal) through tokio's blocking stdio.
        use std::os::fd::AsFd;
        use tokio::net::unix::pipe;
        let input = std::io::stdin()
            .as_fd()
            .try_clone_to_owned()
            .ok()
            .and_then(|fd| pipe::Receiver::from_owned_fd(fd).ok());
        let output = std::io::stdout()
            .as_fd()
            .try_clone_to_owned()
            .ok()
            .and_then(|fd| pipe::Sender::from_owned_fd(fd).ok());
        match (input, output) {
            (Some(i), Some(o)) => run(i, o, opts, decider).await,
            (Some(i), None) => run(i, tokio::io::stdout(), opts, decider).await,
            (None, Some(o)) => run(tokio::io::stdin(), o, opts, decider).await,
            (None, None) => run(tokio::io::stdin(), tokio::io::stdout(), opts, decider).await,
        }
    })?;
    Ok(code.and_then(|c| u8::try_from(c).ok()).unwrap_or(1))
}
