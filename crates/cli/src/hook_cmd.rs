//! `warden hook AGENT`: the command an agent's hook runs. Reads the agent's
//! payload on stdin, asks the daemon over its Unix socket, prints the agent's
//! own reply and exits with the code the agent understands. Fails closed:
//! no daemon, no answer in time, an oversized or unreadable payload — each is
//! the agent's native deny, with the reason.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Result;
use clap::Args;
use hyper::Method;
use warden_daemon::client::Client;
use warden_hooks::{Agent, Reply, event_name, refusal};

/// The largest payload read (a Write of a big file carries its content).
const MAX_PAYLOAD: usize = 16 << 20;

/// Arguments of `warden hook`.
#[derive(Debug, Args)]
#[command(after_help = "\
`warden init AGENT` installs this as the agent's hook; you rarely run it by hand.
Try it:
  echo '{\"hook_event_name\":\"PreToolUse\",\"session_id\":\"s\",\"cwd\":\"/tmp\",\
\"tool_name\":\"Bash\",\"tool_input\":{\"command\":\"rm -rf ~\"}}' | warden hook claude-code

It prints the agent's own reply (JSON) and exits 0, or 2 with the reason on
stderr where the agent blocks on exit 2. If the daemon is not running or does
not answer within --timeout, the reply is a deny.")]
pub struct HookArgs {
    /// The agent whose hook this is: claude-code, codex, gemini or cursor.
    #[arg(value_name = "AGENT")]
    agent: String,
    /// The enrollment secret file `warden init` wrote (default:
    /// $WARDEN_HOOK_SECRET, else ~/.config/warden/hooks/AGENT.secret, else
    /// /etc/warden/hooks/AGENT.secret).
    #[arg(long, value_name = "FILE")]
    secret_file: Option<PathBuf>,
    /// Seconds to wait for the daemon (asks wait for a person) before denying.
    #[arg(long, value_name = "SECS", default_value_t = 130)]
    timeout: u64,
}

fn emit(r: &Reply) -> u8 {
    let mut out = std::io::stdout().lock();
    if !r.body.is_empty() {
        let _ = writeln!(out, "{}", r.body);
        let _ = out.flush();
    }
    if !r.stderr.is_empty() {
        eprintln!("{}", r.stderr);
    }
    u8::try_from(r.exit_code).unwrap_or(2)
}

fn secret(a: &HookArgs, agent: Agent) -> Option<String> {
    if let Some(f) = &a.secret_file {
        return std::fs::read_to_string(f)
            .ok()
            .map(|s| s.trim().to_string());
    }
    if let Ok(s) = std::env::var("WARDEN_HOOK_SECRET") {
        return Some(s);
    }
    crate::init_cmd::secret_file_candidates(agent)
        .into_iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_string())
}

pub fn run(a: HookArgs, home: &Path) -> Result<u8> {
    let Some(agent) = Agent::from_name(&a.agent) else {
        eprintln!(
            "warden: no hook adapter for {:?}; use claude-code, codex, gemini or cursor",
            a.agent
        );
        return Ok(2);
    };
    let mut payload = Vec::new();
    let read = std::io::stdin()
        .lock()
        .take(MAX_PAYLOAD as u64 + 1)
        .read_to_end(&mut payload);
    if let Err(e) = read {
        return Ok(emit(&refusal(
            agent,
            None,
            &format!("reading the hook payload failed: {e}"),
        )));
    }
    if payload.len() > MAX_PAYLOAD {
        let name = event_name(&payload[..MAX_PAYLOAD.min(payload.len())]);
        return Ok(emit(&refusal(
            agent,
            name.as_deref(),
            &format!("the hook payload is over {} MiB", MAX_PAYLOAD >> 20),
        )));
    }
    let name = event_name(&payload);
    let secret = secret(&a, agent);
    let timeout = Duration::from_secs(a.timeout.max(1));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let client = Client::new(&home.join("warden.sock"), timeout);
    let mut headers = Vec::new();
    if let Some(s) = secret.as_deref() {
        headers.push((warden_daemon::api::SECRET_HEADER, s));
    }
    let path = format!("/v1/hooks/{}?envelope=1", agent.name());
    let answer = rt.block_on(client.call_raw(Method::POST, &path, payload.into(), &headers));
    let reply = match answer {
        Ok((status, v)) if status.is_success() => {
            let field = |k: &str| {
                v.get(k)
                    .and_then(|x| x.as_str())
                    .unwrap_or_default()
                    .to_string()
            };
            match v.get("exit_code").and_then(|c| c.as_i64()) {
                Some(code) => Reply {
                    body: field("body"),
                    stderr: field("stderr"),
                    exit_code: i32::try_from(code).unwrap_or(2),
                },
                None => refusal(
                    agent,
                    name.as_deref(),
                    "the daemon's answer was not a hook reply",
                ),
            }
        }
        Ok((status, v)) => refusal(
            agent,
            name.as_deref(),
            &format!(
                "the daemon refused the hook ({status}): {}",
                v.get("error").and_then(|e| e.as_str()).unwrap_or_default()
            ),
        ),
        Err(e) if e.is_not_running() => refusal(
            agent,
            name.as_deref(),
            "the warden daemon is not running, so nothing is allowed (start it with `warden up`)",
        ),
        Err(e) => refusal(agent, name.as_deref(), &format!("no decision: {e}")),
    };
    Ok(emit(&reply))
}
