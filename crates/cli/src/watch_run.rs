//! The loop of `warden watch` (built with `--features ebpf` only).

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use hyper::Method;
use serde_json::{Value, json};
use warden_daemon::client::Client;
use warden_ebpf::{Event, Observer};

use crate::llm_hosts::{DEFAULT_LLM_HOSTS, LlmAddresses, LlmHost, parse_llm_host};
use crate::watch_cmd::{Guarded, WatchArgs};
use warden_sandbox::cgroup;

/// Observations per request to the daemon (it takes up to 1,024, and a
/// body as large as 128 of the largest there can be).
const BATCH: usize = 128;

/// How often the LLM API hosts' names are resolved again.
const RESOLVE_EVERY: Duration = Duration::from_secs(300);

/// Resolves `hosts` now and every [`RESOLVE_EVERY`] on a thread of its own
/// (a slow resolver never holds up the events); the addresses, as they are.
fn watch_llm_hosts(hosts: Vec<LlmHost>) -> Arc<RwLock<LlmAddresses>> {
    let known = Arc::new(RwLock::new(LlmAddresses::default()));
    let shared = known.clone();
    std::thread::spawn(move || {
        let mut first = true;
        loop {
            let (addrs, failed) = LlmAddresses::resolve(&hosts);
            let failed_names: Vec<&str> = failed.iter().map(|(name, _)| name.as_str()).collect();
            if first {
                eprintln!(
                    "warden watch: LLM API hosts: {} of {} resolved ({} addresses){}",
                    hosts.len() - failed.len(),
                    hosts.len(),
                    addrs.len(),
                    match failed.first() {
                        None => String::new(),
                        // The names, and the first reason (usually the same
                        // for all: no DNS).
                        Some((name, why)) => format!(
                            "; not resolved: {} ({name}: {why})",
                            failed_names.join(", ")
                        ),
                    }
                );
                first = false;
            }
            // A host that did not resolve this round keeps what the last
            // round knew of it (a passing DNS failure must not blind us).
            if let Ok(mut k) = shared.write() {
                *k = addrs.keeping(&k, &failed_names);
            }
            std::thread::sleep(RESOLVE_EVERY);
        }
    });
    known
}

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

/// What the daemon is told of one event (and what --print prints).
fn observation(e: &Event, llm: &LlmAddresses) -> Value {
    let p = e.process();
    let mut o = json!({
        "pid": p.pid, "ppid": p.ppid, "uid": p.uid, "comm": p.comm, "action": action_of(e),
    });
    if let Event::Connect { addr, port, .. } = e
        && let Some(host) = llm.host_of(*addr, *port)
    {
        o["llm_host"] = json!(host);
    }
    o
}

pub fn run(a: WatchArgs, home: &Path) -> Result<u8> {
    let root = cgroup::cgroup2_mount().context(
        "warden watch sees connects through the cgroup v2 root's hooks, and no cgroup v2 hierarchy is mounted (mount -t cgroup2 none /sys/fs/cgroup)",
    )?;
    let mut observer = Observer::load(&root).map_err(|e| {
        anyhow::anyhow!(
            "{e}\n(warden watch needs root, and a kernel with BPF ring buffers and BTF: Linux 5.8 or later)"
        )
    })?;
    let mut pending = Vec::new();
    for (guarded, port) in &a.deny {
        match guarded {
            Guarded::Cgroup(cgroup) => {
                observer
                    .deny_port(cgroup, *port)
                    .with_context(|| format!("denying port {port} to {}", cgroup.display()))?;
                eprintln!(
                    "warden watch: connects to port {port} refused in {}",
                    cgroup.display()
                );
            }
            Guarded::Session(id) => {
                let mount = cgroup::cgroup2_mount().context(
                    "--deny-port SESSION:PORT needs a cgroup v2 hierarchy, and none is mounted",
                )?;
                pending.push(SessionPort {
                    id: id.clone(),
                    dir: cgroup::session_dir(&mount, id)?,
                    port: *port,
                });
            }
        }
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
    let hosts = if a.llm_hosts.is_empty() {
        DEFAULT_LLM_HOSTS
            .iter()
            .map(|h| parse_llm_host(h))
            .collect::<Result<Vec<_>, _>>()
            .map_err(anyhow::Error::msg)?
    } else {
        a.llm_hosts.clone()
    };
    let llm = watch_llm_hosts(hosts);
    let (guard, guards) = std::sync::mpsc::channel();
    let queue = drain_on_a_thread(observer, llm, pending, guards);
    let mount = cgroup::cgroup2_mount();
    let mut policy_guards = PolicyGuards::default();
    let mut seen = 0u64;
    let mut failed = 0u64;
    let mut refused = Every::new(SAY_EVERY);
    loop {
        if !a.print
            && let Some(mount) = &mount
        {
            policy_guards.poll(&rt, &api, mount, &guard);
        }
        // Wait for the first event, then take what else is waiting.
        let first = match queue.recv_timeout(Duration::from_millis(250)) {
            Ok(o) => o,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => continue,
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                anyhow::bail!("the thread reading the ring buffer stopped")
            }
        };
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match queue.try_recv() {
                Ok(o) => batch.push(o),
                Err(_) => break,
            }
        }
        if let Some(m) = a.max_events {
            batch.truncate(usize::try_from(m.saturating_sub(seen)).unwrap_or(usize::MAX));
        }
        if batch.is_empty() {
            return Ok(0);
        }
        if a.print {
            for o in &batch {
                println!("{o}");
            }
        } else {
            // A batch the daemon did not take is sent again (the queue holds
            // what comes meanwhile): a daemon restarting loses nothing. One
            // that timed out may have been recorded after all, and is then
            // recorded twice — a duplicate, never a gap.
            let body = json!({ "observations": batch });
            let mut wait = Duration::from_millis(100);
            while let Err(err) = rt.block_on(api.ok(Method::POST, "/v1/observe", Some(&body))) {
                failed += 1;
                if refused.due() {
                    eprintln!(
                        "warden watch: the daemon did not take a batch of {} events ({failed} tries failed so far), trying again: {err}",
                        batch.len()
                    );
                }
                std::thread::sleep(wait);
                wait = (wait * 2).min(Duration::from_secs(2));
            }
        }
        seen += batch.len() as u64;
        if a.max_events.is_some_and(|m| seen >= m) {
            return Ok(0);
        }
    }
}

/// How often a repeated complaint is said (with its running count).
const SAY_EVERY: Duration = Duration::from_secs(5);

/// Due the first time, then once per period.
struct Every {
    period: Duration,
    last: Option<Instant>,
}

impl Every {
    fn new(period: Duration) -> Every {
        Every { period, last: None }
    }

    fn due(&mut self) -> bool {
        let due = self.last.is_none_or(|t| t.elapsed() >= self.period);
        if due {
            self.last = Some(Instant::now());
        }
        due
    }
}

/// The ports the daemon's policy denies sessions for every host
/// (`GET /v1/denied-ports`, asked every second), handed to the draining
/// thread for each session with a cgroup of its own; once each.
#[derive(Default)]
struct PolicyGuards {
    asked: Option<Instant>,
    sent: std::collections::HashSet<(String, u16)>,
}

impl PolicyGuards {
    fn poll(
        &mut self,
        rt: &tokio::runtime::Runtime,
        api: &Client,
        mount: &Path,
        guard: &std::sync::mpsc::Sender<SessionPort>,
    ) {
        if self
            .asked
            .is_some_and(|t| t.elapsed() < Duration::from_secs(1))
        {
            return;
        }
        self.asked = Some(Instant::now());
        let list = match rt.block_on(api.ok(Method::GET, "/v1/denied-ports", None)) {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!("asking the daemon for the sessions' denied ports: {e}");
                return;
            }
        };
        for entry in list.as_array().into_iter().flatten() {
            let Some(id) = entry["session"].as_str() else {
                continue;
            };
            let Ok(dir) = cgroup::session_dir(mount, id) else {
                continue;
            };
            // A session without a cgroup (hooks, warden shell) is left to
            // the proxy and the policy; asked again while it lives.
            if !dir.is_dir() {
                continue;
            }
            for port in entry["ports"].as_array().into_iter().flatten() {
                let Some(port) = port.as_u64().and_then(|p| u16::try_from(p).ok()) else {
                    continue;
                };
                if self.sent.insert((id.to_string(), port)) {
                    let _ = guard.send(SessionPort {
                        id: id.to_string(),
                        dir: dir.clone(),
                        port,
                    });
                }
            }
        }
    }
}

/// A port to refuse a session as soon as its cgroup exists.
struct SessionPort {
    id: String,
    dir: PathBuf,
    port: u16,
}

/// Guards the sessions of `pending` whose cgroups now exist (a session not
/// started yet waits; one that cannot be guarded is said and dropped).
fn guard_sessions(observer: &mut Observer, pending: &mut Vec<SessionPort>) {
    pending.retain(|p| {
        if !p.dir.is_dir() {
            return true;
        }
        match observer.deny_port(&p.dir, p.port) {
            Ok(()) => eprintln!(
                "warden watch: connects to port {} refused for session {}",
                p.port, p.id
            ),
            Err(e) => eprintln!(
                "warden watch: cannot refuse port {} to session {}: {e}",
                p.port, p.id
            ),
        }
        false
    });
}

/// The sessions' cgroups (`<cgroup2>/warden/<session id>`, made by
/// `warden run`) by cgroup id, read again when an event names one not known
/// (at most every 50 ms).
struct SessionCgroups {
    dir: Option<PathBuf>,
    ids: HashMap<u64, String>,
    read: Option<Instant>,
}

impl SessionCgroups {
    fn new() -> SessionCgroups {
        SessionCgroups {
            dir: cgroup::cgroup2_mount().map(|m| m.join("warden")),
            ids: HashMap::new(),
            read: None,
        }
    }

    fn session_of(&mut self, cgroup: u64) -> Option<String> {
        if let Some(id) = self.ids.get(&cgroup) {
            return Some(id.clone());
        }
        let dir = self.dir.as_ref()?;
        if self
            .read
            .is_some_and(|t| t.elapsed() < Duration::from_millis(50))
        {
            return None;
        }
        self.read = Some(Instant::now());
        self.ids = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let m = e.metadata().ok()?;
                m.is_dir()
                    .then(|| (m.ino(), e.file_name().to_string_lossy().into_owned()))
            })
            .collect();
        self.ids.get(&cgroup).cloned()
    }
}

/// Events waiting to be sent, at most: the kernel's ring buffer holds under
/// two thousand, which an exec storm fills in a second while the daemon is
/// busy with the last batch; this holds half a minute of such a storm (some
/// 30 MiB of typical observations; a few hundred MiB at worst, every record
/// full of escaped bytes).
const QUEUE: usize = 65_536;

/// Reads the ring buffer on a thread of its own, so that it is emptied
/// while the daemon takes a batch: each event becomes its observation at
/// once (the process's working directory is read while it still runs) and
/// is queued for sending. What neither the ring buffer nor the queue had
/// room for is counted and said.
fn drain_on_a_thread(
    mut observer: Observer,
    llm: Arc<RwLock<LlmAddresses>>,
    mut pending: Vec<SessionPort>,
    guards: std::sync::mpsc::Receiver<SessionPort>,
) -> std::sync::mpsc::Receiver<Value> {
    let (tx, rx) = std::sync::mpsc::sync_channel(QUEUE);
    let me = std::process::id();
    std::thread::spawn(move || {
        let (mut kernel_drops, mut queue_drops) = (0u64, 0u64);
        let mut sessions = SessionCgroups::new();
        let mut behind = Every::new(SAY_EVERY);
        let mut guarded_at = Instant::now();
        guard_sessions(&mut observer, &mut pending);
        loop {
            pending.extend(guards.try_iter());
            if !pending.is_empty() && guarded_at.elapsed() >= Duration::from_millis(100) {
                guard_sessions(&mut observer, &mut pending);
                guarded_at = Instant::now();
            }
            let mut got = 0usize;
            let mut full = 0u64;
            {
                let known = llm.read();
                let none = LlmAddresses::default();
                let known = known.as_deref().unwrap_or(&none);
                let mut gone = false;
                observer.drain(|e| match e {
                    Ok(e) if e.process().pid != me => {
                        got += 1;
                        let mut o = observation(&e, known);
                        if let Some(id) = sessions.session_of(e.process().cgroup) {
                            o["session_cgroup"] = json!(id);
                        }
                        match tx.try_send(o) {
                            Ok(()) => {}
                            Err(std::sync::mpsc::TrySendError::Full(_)) => full += 1,
                            Err(std::sync::mpsc::TrySendError::Disconnected(_)) => gone = true,
                        }
                    }
                    Ok(_) => {}
                    Err(err) => tracing::warn!("an unreadable event: {err}"),
                });
                if gone {
                    return;
                }
            }
            if full > 0 {
                queue_drops += full;
                if behind.due() {
                    eprintln!(
                        "warden watch: {queue_drops} events dropped so far: {QUEUE} were already waiting to be sent or printed"
                    );
                }
            }
            let dropped = observer.dropped();
            if dropped > kernel_drops {
                eprintln!(
                    "warden watch: the kernel dropped {} events (ring buffer full)",
                    dropped - kernel_drops
                );
                kernel_drops = dropped;
            }
            if got == 0 {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    });
    rx
}
