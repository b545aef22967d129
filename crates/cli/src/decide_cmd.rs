//! `warden decide`: ask the running daemon for a verdict on one Action (JSON on
//! standard input or `--action`), the way an interceptor does. Fails closed: a
//! daemon that is not running, does not answer in time, or answers nonsense
//! yields a deny.

use std::io::Read;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use hyper::Method;
use serde_json::Value;
use warden_daemon::client::Client;
use warden_types::Verdict;

/// Arguments of `warden decide`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  echo '{\"cwd\":\"/w\",\"kind\":{\"shell\":{\"command\":\"git push\"}}}' | warden decide
  warden decide --action '{\"cwd\":\"/w\",\"kind\":{\"file_read\":{\"path\":\".env\"}}}' --json

An ask waits for a person (`warden asks`, `warden approve ID`) or its timeout.
Exit codes: 0 allow, 2 deny (including: no daemon, no answer in time), 1 bad usage.")]
pub struct DecideArgs {
    /// The Action as JSON (default: read from standard input).
    #[arg(long, value_name = "JSON")]
    action: Option<String>,
    /// The session secret issued at registration (default: $WARDEN_SESSION_SECRET).
    #[arg(long, value_name = "SECRET")]
    secret: Option<String>,
    /// Seconds to wait for the verdict before denying.
    #[arg(long, value_name = "SECS", default_value_t = 130)]
    timeout: u64,
    /// Print the Verdict as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(a: DecideArgs, home: &Path) -> Result<u8> {
    let text = match a.action {
        Some(t) => t,
        None => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .context("reading the Action from standard input")?;
            s
        }
    };
    let action: Value = serde_json::from_str(&text).context("the Action is not JSON")?;
    let secret = a
        .secret
        .or_else(|| std::env::var("WARDEN_SESSION_SECRET").ok())
        .unwrap_or_default();
    let timeout = Duration::from_secs(a.timeout.max(1));
    let client = Client::new(&home.join("warden.sock"), timeout);
    let path = format!(
        "/v1/decide?deadline_ms={}",
        timeout.as_millis().saturating_sub(500)
    );
    let headers: Vec<(&str, &str)> = if secret.is_empty() {
        Vec::new()
    } else {
        vec![(warden_daemon::api::SECRET_HEADER, secret.as_str())]
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let verdict = match rt.block_on(client.call(Method::POST, &path, Some(&action), &headers)) {
        Ok((_, body)) => serde_json::from_value::<Verdict>(body.clone()).unwrap_or_else(|e| {
            Verdict::malformed(format!(
                "the daemon's answer is not a verdict ({e}): {body}"
            ))
        }),
        Err(e) => Verdict::malformed(format!("no verdict from the daemon, so deny: {e}")),
    };
    if a.json {
        println!("{}", serde_json::to_string(&verdict)?);
    } else {
        println!(
            "{}: {}",
            verdict.decision.as_str().to_uppercase(),
            verdict.reason
        );
        if let Some(r) = &verdict.audit {
            println!("recorded: audit entry {} (leaf {})", r.seq, r.leaf_hash);
        }
    }
    Ok(crate::check::exit_code(verdict.decision))
}
