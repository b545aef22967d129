//! `warden-hook`: the small hook binary `warden init` installs. Same job and
//! same arguments as `warden hook` (see `warden hook --help`), without the
//! rest of `warden`, so the agent waits less for every tool call.
//!
//!   warden-hook [--home DIR] AGENT [--secret-file FILE] [--timeout SECS]
#![forbid(unsafe_code)]

mod hook_client;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

const USAGE: &str = "usage: warden-hook [--home DIR] AGENT [--secret-file FILE] [--timeout SECS]
AGENT: claude-code, codex, gemini or cursor. Reads the agent's hook payload on
stdin and prints the agent's own reply; denies if the daemon is not running or
does not answer within --timeout (default 130 s). `warden init` installs it.";

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut home: Option<PathBuf> = None;
    let mut agent: Option<String> = None;
    let mut secret: Option<PathBuf> = None;
    let mut timeout = 130u64;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--home" => home = args.next().map(PathBuf::from),
            "--secret-file" => secret = args.next().map(PathBuf::from),
            "--timeout" => match args.next().and_then(|t| t.parse().ok()) {
                Some(t) => timeout = t,
                None => {
                    eprintln!("warden-hook: --timeout takes whole seconds\n{USAGE}");
                    return ExitCode::from(2);
                }
            },
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            other if agent.is_none() && !other.starts_with('-') => agent = Some(other.to_string()),
            other => {
                // A hook must never fail open: a usage error blocks (exit 2).
                eprintln!("warden-hook: unexpected argument {other:?}\n{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let Some(agent) = agent else {
        eprintln!("warden-hook: no AGENT\n{USAGE}");
        return ExitCode::from(2);
    };
    let home = home.unwrap_or_else(|| hook_client::state_dir_of(&hook_client::user_home()));
    let code = hook_client::run(
        &agent,
        &home,
        secret.as_deref(),
        Duration::from_secs(timeout.max(1)),
    );
    ExitCode::from(code)
}
