//! `warden hook AGENT`: the command an agent's hook runs (the same as the
//! small `warden-hook` binary `warden init` prefers): reads the agent's
//! payload on stdin, asks the daemon over its Unix socket, prints the agent's
//! own reply and exits with the code the agent understands. Fails closed: no
//! daemon, no answer in time, an oversized or unreadable payload — each is
//! the agent's native deny, with the reason.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Result;
use clap::Args;

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

pub fn run(a: HookArgs, home: &Path) -> Result<u8> {
    Ok(crate::hook_client::run(
        &a.agent,
        home,
        a.secret_file.as_deref(),
        Duration::from_secs(a.timeout.max(1)),
    ))
}
