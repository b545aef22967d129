//! `warden watch`: the eBPF observer. Every exec and connect on the machine,
//! including processes warden did not start, goes to the daemon, which
//! records it under the identity of the process that did it and raises an
//! alert for an agent running outside every session (an agent program, or a
//! process connecting to an LLM API host); `--deny-port` has the
//! kernel refuse a port to a cgroup. Needs root, and a warden built with
//! `--features ebpf`.

use std::path::PathBuf;

use anyhow::Result;

pub const WATCH_HELP: &str = "\
Needs root (loading BPF programs), a cgroup v2 hierarchy (connects are
watched at its root), and a warden built with `cargo build --features ebpf`
(clang compiles the BPF programs). Events go to the running daemon (`warden up`) unless --print,
a batch per read of the ring buffer.

A process outside every warden session that runs an agent program (claude,
codex, gemini, ...) or connects to an LLM API host is raised as an
\"ungoverned agent\" alert (for LLM hosts once per user and host). The hosts'
names are resolved at start and every 5 minutes; --llm-host replaces the
default list (the common providers' API hosts, port 443): name them too when
adding a local model server.

A `warden run` session (run as root) has a cgroup of its own,
<cgroup2>/warden/<session id>: events are placed in it by cgroup, and the
ports its policy denies every host (deny rules of Net(*:PORT)) are refused
by the kernel's connect hooks for it, as --deny-port SESSION:PORT does.

Examples:
  sudo warden watch                               # record every exec and connect
  sudo warden watch --print                       # print them as JSON lines instead
  sudo warden watch --deny-port /sys/fs/cgroup/agents:22
  sudo warden watch --deny-port sess-0123456789abcdef:22   # a warden run session's cgroup
  sudo warden watch --llm-host api.anthropic.com --llm-host localhost:11434";

/// Arguments of `warden watch`.
#[derive(Debug, clap::Args)]
pub struct WatchArgs {
    /// Print events as JSON lines instead of sending them to the daemon.
    #[arg(long)]
    pub print: bool,
    /// Refuse connects to PORT from the processes of the cgroup v2
    /// directory CGROUP, or of the `warden run` session SESSION (its
    /// cgroup, as soon as the session makes it), enforced by the kernel
    /// (repeatable).
    #[arg(long = "deny-port", value_name = "CGROUP|SESSION:PORT", value_parser = parse_deny)]
    pub deny: Vec<(Guarded, u16)>,
    /// An LLM API host, HOST[:PORT] (port 443 unless given; repeatable):
    /// connects to its addresses from outside every session are alerts.
    /// Given, replaces the default list.
    #[arg(long = "llm-host", value_name = "HOST[:PORT]", value_parser = crate::llm_hosts::parse_llm_host)]
    pub llm_hosts: Vec<crate::llm_hosts::LlmHost>,
    /// Stop after this many events (for tests and tools).
    #[arg(long, value_name = "N", hide = true)]
    pub max_events: Option<u64>,
}

/// Whose connects `--deny-port` refuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Guarded {
    /// A cgroup v2 directory.
    Cgroup(PathBuf),
    /// A session's cgroup (`<cgroup2>/warden/<id>`).
    Session(String),
}

fn parse_deny(s: &str) -> Result<(Guarded, u16), String> {
    let (dir, port) = s
        .rsplit_once(':')
        .ok_or_else(|| format!("{s:?} is not CGROUP:PORT"))?;
    let port: u16 = port
        .parse()
        .map_err(|_| format!("{port:?} in {s:?} is not a port number"))?;
    if dir.is_empty() {
        return Err(format!("{s:?} names no cgroup directory"));
    }
    if dir.contains('/') {
        return Ok((Guarded::Cgroup(PathBuf::from(dir)), port));
    }
    // A session id must be one a cgroup can be named by.
    warden_sandbox::cgroup::session_dir(std::path::Path::new("/"), dir)
        .map_err(|e| format!("{e} (a cgroup is a path with a /, a session an id)"))?;
    Ok((Guarded::Session(dir.to_string()), port))
}

#[cfg(not(feature = "ebpf"))]
pub fn run(_a: WatchArgs, _home: &std::path::Path) -> Result<u8> {
    anyhow::bail!(
        "this warden was built without the eBPF observer; build it with `cargo build --release --features ebpf` (needs clang)"
    )
}

#[cfg(feature = "ebpf")]
pub fn run(a: WatchArgs, home: &std::path::Path) -> Result<u8> {
    crate::watch_run::run(a, home)
}

/// What `warden doctor` says of the observer.
pub fn report() -> Vec<String> {
    let built = if warden_ebpf::BUILT_IN {
        "built in (`warden watch`, as root)"
    } else {
        "not built in (cargo build --features ebpf)"
    };
    let lsm = match warden_ebpf::lsm_listed() {
        Ok(()) => "bpf is an active LSM (whether exec denial loads is probed by `warden watch`)"
            .to_string(),
        Err(e) => format!("NO ({e})"),
    };
    vec![
        format!("eBPF observer: {built}"),
        format!("  BPF LSM exec denial    {lsm}"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deny_port_names_a_cgroup_and_a_port() {
        assert_eq!(
            parse_deny("/sys/fs/cgroup/a:b:22").unwrap(),
            (Guarded::Cgroup(PathBuf::from("/sys/fs/cgroup/a:b")), 22)
        );
        assert_eq!(
            parse_deny("sess-0123abcd:443").unwrap(),
            (Guarded::Session("sess-0123abcd".into()), 443)
        );
        assert!(
            parse_deny("..:22")
                .unwrap_err()
                .contains("cannot name a cgroup")
        );
        assert!(parse_deny("/x").unwrap_err().contains("CGROUP:PORT"));
        assert!(parse_deny("/x:99999").unwrap_err().contains("not a port"));
        assert!(parse_deny(":22").unwrap_err().contains("no cgroup"));
    }
}
