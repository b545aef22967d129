//! The loop of `warden watch` (built with `--features ebpf` only).

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use hyper::Method;
use serde_json::{Value, json};
use warden_daemon::client::Client;
use warden_ebpf::{Event, Observer};

use crate::watch_cmd::WatchArgs;

/// The action a seen event is, as JSON (the daemon fills in the rest).
pub fn action_of(e: &Event) -> Value {
    let pid = e.process().pid;
    let cwd = std::fs::read_link(format!("/proc/{pid}/cwd"))
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "/".into());
    match e {
        Event::Exec { path, argv, .. } => {
            // The path the kernel was given, then the arguments after argv[0]
            // (the caller's to choose), as the sandbox reports an exec.
            let argv: Vec<&str> = std::iter::once(path.as_str())
                .chain(argv.iter().skip(1).map(String::as_str))
                .collect();
            json!({"cwd": cwd, "origin": "ebpf", "kind": {"exec": {"argv": argv}}})
        }
        Event::Connect { addr, port, .. } => json!({
            "cwd": cwd,
            "origin": "ebpf",
            "kind": {"net": {"host": addr.to_string(), "port": port, "scheme": "tcp"}},
        }),
    }
}

pub fn run(a: WatchArgs, home: &Path) -> Result<u8> {
    let mut observer = Observer::load().map_err(|e| {
        anyhow::anyhow!(
            "{e}\n(warden watch needs root, and tracefs at /sys/kernel/tracing: mount -t tracefs nodev /sys/kernel/tracing)"
        )
    })?;
    for (cgroup, port) in &a.deny {
        observer
            .deny_port(cgroup, *port)
            .with_context(|| format!("denying port {port} to {}", cgroup.display()))?;
        eprintln!(
            "warden watch: connects to port {port} refused in {}",
            cgroup.display()
        );
    }
    match observer.enforce_execs() {
        Ok(()) => eprintln!("warden watch: BPF LSM exec denial loaded"),
        Err(e) => eprintln!("warden watch: BPF LSM exec denial not available here: {e}"),
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let api = Client::keep_alive(&home.join("warden.sock"), Duration::from_secs(10));
    if !a.print {
        rt.block_on(api.ok(Method::GET, "/v1/status", None))
            .context("warden watch sends what it sees to the daemon (or use --print)")?;
    }
    eprintln!("warden watch: observing every exec and connect; ^C stops");
    let me = std::process::id();
    let (mut seen, mut failed, mut reported_drops) = (0u64, 0u64, 0u64);
    loop {
        let mut batch = Vec::new();
        observer.drain(|e| match e {
            Ok(e) if e.process().pid != me => batch.push(e),
            Ok(_) => {}
            Err(err) => tracing::warn!("an unreadable event: {err}"),
        });
        for e in &batch {
            let action = action_of(e);
            if a.print {
                println!(
                    "{}",
                    json!({"pid": e.process().pid, "uid": e.process().uid, "comm": e.process().comm, "action": action})
                );
            } else {
                let p = e.process();
                let body = json!({"pid": p.pid, "ppid": p.ppid, "uid": p.uid, "action": action});
                if let Err(err) = rt.block_on(api.ok(Method::POST, "/v1/observe", Some(&body))) {
                    failed += 1;
                    if failed == 1 || failed % 1000 == 0 {
                        eprintln!(
                            "warden watch: the daemon did not take an event ({failed} so far): {err}"
                        );
                    }
                }
            }
            seen += 1;
            if a.max_events.is_some_and(|m| seen >= m) {
                return Ok(0);
            }
        }
        let dropped = observer.dropped();
        if dropped > reported_drops {
            eprintln!(
                "warden watch: the kernel dropped {} events (ring buffer full)",
                dropped - reported_drops
            );
            reported_drops = dropped;
        }
        if batch.is_empty() {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}
