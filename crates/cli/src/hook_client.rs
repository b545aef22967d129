//! The hook's whole job, with nothing but the standard library: read the
//! agent's payload, post it to the daemon over its Unix socket, print the
//! agent's own reply. It runs as a fresh process for every tool call, so it
//! is shared by `warden hook` and by the small `warden-hook` binary that
//! `warden init` installs (a few hundred kilobytes start in a fraction of the
//! time the full `warden` binary takes). Fails closed: every failure is the
//! agent's own deny.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use warden_hooks::{Agent, Reply, event_name, refusal};

/// The largest payload read (a Write of a big file carries its content).
pub const MAX_PAYLOAD: usize = 16 << 20;

/// The daemon's answer is small; anything larger is not a reply.
const MAX_ANSWER: usize = 4 << 20;

// Where things are, for both binaries (this module is all `warden-hook`
// has; `warden`'s `load` builds on it).

/// The invoking user's home directory.
pub(crate) fn user_home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/root"))
}

/// `$WARDEN_HOME` when set to something (an empty value is unset).
pub(crate) fn warden_home_env() -> Option<PathBuf> {
    std::env::var_os("WARDEN_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// warden's state directory for a user whose home is `home`:
/// `$WARDEN_HOME`, else `~/.local/state/warden`.
pub(crate) fn state_dir_of(home: &Path) -> PathBuf {
    warden_home_env().unwrap_or_else(|| home.join(".local/state/warden"))
}

/// warden's configuration directory of the user (`$XDG_CONFIG_HOME/warden`).
pub(crate) fn user_config_dir() -> PathBuf {
    std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| user_home().join(".config"))
        .join("warden")
}

/// The secret files a hook looks for, the user's first.
pub fn secret_file_candidates(agent: Agent) -> Vec<PathBuf> {
    vec![
        user_config_dir()
            .join("hooks")
            .join(format!("{}.secret", agent.name())),
        PathBuf::from("/etc/warden/hooks").join(format!("{}.secret", agent.name())),
    ]
}

fn emit(r: &Reply) -> u8 {
    let mut out = std::io::stdout().lock();
    if !r.body.is_empty() {
        let _ = writeln!(out, "{}", r.body);
        let _ = out.flush();
    }
    if !r.stderr.is_empty() {
        let _ = writeln!(std::io::stderr(), "{}", r.stderr);
    }
    // Agents run the tool on any exit code but 0 and 2: nothing else leaves.
    if r.exit_code == 0 { 0 } else { 2 }
}

/// Why the daemon gave no reply.
enum Failure {
    NotRunning,
    Other(String),
}

/// One HTTP/1.1 exchange over the Unix socket (`Connection: close`).
fn post(
    socket: &Path,
    path: &str,
    secret: Option<&str>,
    body: &[u8],
    timeout: Duration,
) -> Result<(u16, Vec<u8>), Failure> {
    let mut s = UnixStream::connect(socket).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => Failure::NotRunning,
        _ => Failure::Other(format!("connecting to {}: {e}", socket.display())),
    })?;
    let io = |e: std::io::Error| {
        if matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ) {
            Failure::Other(format!(
                "the daemon did not answer within {} s",
                timeout.as_secs()
            ))
        } else {
            Failure::Other(format!("talking to the daemon: {e}"))
        }
    };
    s.set_read_timeout(Some(timeout)).map_err(io)?;
    s.set_write_timeout(Some(timeout)).map_err(io)?;
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nHost: warden\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    if let Some(secret) = secret.filter(|s| s.bytes().all(|b| b.is_ascii_graphic())) {
        head.push_str(&format!(
            "{}: {secret}\r\n",
            warden_daemon::api::SECRET_HEADER
        ));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).map_err(io)?;
    s.write_all(body).map_err(io)?;
    let mut answer = Vec::new();
    s.take(MAX_ANSWER as u64 + 1)
        .read_to_end(&mut answer)
        .map_err(io)?;
    parse_response(&answer).ok_or_else(|| Failure::Other("the daemon's answer is not HTTP".into()))
}

/// Status and body of an HTTP/1.1 response (Content-Length, chunked, or to
/// the end of the stream).
fn parse_response(raw: &[u8]) -> Option<(u16, Vec<u8>)> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let mut length = None;
    let mut chunked = false;
    for l in lines {
        let (k, v) = l.split_once(':')?;
        if k.eq_ignore_ascii_case("content-length") {
            length = v.trim().parse::<usize>().ok();
        } else if k.eq_ignore_ascii_case("transfer-encoding")
            && v.to_ascii_lowercase().contains("chunked")
        {
            chunked = true;
        }
    }
    let rest = &raw[end + 4..];
    let body = if chunked {
        let mut out = Vec::new();
        let mut at = 0;
        loop {
            // A reply cut short (the daemon died mid-write) is no reply.
            let nl = rest.get(at..)?.windows(2).position(|w| w == b"\r\n")? + at;
            let size_text = std::str::from_utf8(&rest[at..nl]).ok()?;
            let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
            at = nl + 2;
            if size == 0 {
                break out;
            }
            let end = at.checked_add(size)?;
            out.extend_from_slice(rest.get(at..end)?);
            at = end.checked_add(2)?;
        }
    } else {
        match length {
            Some(n) => rest.get(..n)?.to_vec(),
            None => rest.to_vec(),
        }
    };
    Some((status, body))
}

/// Runs the hook for `agent` against the daemon in `home`; returns the exit
/// code the agent understands. A panic anywhere in it is a deny (2): the
/// agents run the tool on any other failing exit code.
pub fn run(agent: &str, home: &Path, secret_file: Option<&Path>, timeout: Duration) -> u8 {
    std::panic::catch_unwind(|| run_guarded(agent, home, secret_file, timeout)).unwrap_or(2)
}

fn run_guarded(agent: &str, home: &Path, secret_file: Option<&Path>, timeout: Duration) -> u8 {
    let Some(agent) = Agent::from_name(agent) else {
        eprintln!(
            "warden: no hook adapter for {agent:?}; use claude-code, codex, gemini or cursor"
        );
        return 2;
    };
    let mut payload = Vec::new();
    if let Err(e) = std::io::stdin()
        .lock()
        .take(MAX_PAYLOAD as u64 + 1)
        .read_to_end(&mut payload)
    {
        return emit(&refusal(
            agent,
            None,
            &format!("reading the hook payload failed: {e}"),
        ));
    }
    if payload.len() > MAX_PAYLOAD {
        return emit(&refusal(
            agent,
            None,
            &format!("the hook payload is over {} MiB", MAX_PAYLOAD >> 20),
        ));
    }
    // The event name is needed only for a refusal: no parse on the way through.
    let name = || event_name(&payload);
    let secret = match secret_file {
        Some(f) => std::fs::read_to_string(f).ok(),
        None => std::env::var("WARDEN_HOOK_SECRET").ok().or_else(|| {
            secret_file_candidates(agent)
                .into_iter()
                .find_map(|p| std::fs::read_to_string(p).ok())
        }),
    };
    let secret = secret.map(|s| s.trim().to_string());
    let path = format!("/v1/hooks/{}?envelope=1", agent.name());
    let reply = match post(
        &home.join("warden.sock"),
        &path,
        secret.as_deref(),
        &payload,
        timeout,
    ) {
        Ok((200, body)) => match serde_json::from_slice::<serde_json::Value>(&body) {
            Ok(v) if v.get("exit_code").and_then(|c| c.as_i64()).is_some() => {
                let field = |k: &str| {
                    v.get(k)
                        .and_then(|x| x.as_str())
                        .unwrap_or_default()
                        .to_string()
                };
                Reply {
                    body: field("body"),
                    stderr: field("stderr"),
                    exit_code: v["exit_code"]
                        .as_i64()
                        .and_then(|c| i32::try_from(c).ok())
                        .unwrap_or(2),
                }
            }
            _ => refusal(
                agent,
                name().as_deref(),
                "the daemon's answer was not a hook reply",
            ),
        },
        Ok((status, body)) => refusal(
            agent,
            name().as_deref(),
            &format!(
                "the daemon refused the hook ({status}): {}",
                String::from_utf8_lossy(&body)
                    .chars()
                    .take(200)
                    .collect::<String>()
            ),
        ),
        Err(Failure::NotRunning) => refusal(
            agent,
            name().as_deref(),
            "the warden daemon is not running, so nothing is allowed (start it with `warden up`)",
        ),
        Err(Failure::Other(why)) => {
            refusal(agent, name().as_deref(), &format!("no decision: {why}"))
        }
    };
    emit(&reply)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn responses_by_length_chunks_or_close() {
        let by_len = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}trailing";
        assert_eq!(parse_response(by_len), Some((200, b"{}".to_vec())));
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{\"\r\n3\r\na\":\r\n2\r\n1}\r\n0\r\n\r\n";
        assert_eq!(parse_response(chunked), Some((200, b"{\"a\":1}".to_vec())));
        let to_close = b"HTTP/1.1 404 Not Found\r\n\r\nnope";
        assert_eq!(parse_response(to_close), Some((404, b"nope".to_vec())));
        for bad in [
            &b"garbage"[..],
            b"HTTP/1.1 abc\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\nshort",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        ] {
            assert_eq!(
                parse_response(bad),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
