//! `warden bench decide`: the decide round trip as an interceptor sees it — a
//! real daemon process (`warden up`) in a scratch home, clients over its Unix
//! socket, every verdict durably recorded — with 1 and with N concurrent
//! clients, and the daemon's idle memory.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use clap::Args;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

use crate::audit::Mode;

/// Arguments of `warden bench decide`.
#[derive(Debug, Args)]
#[command(after_help = "\
Starts `warden up` in a temporary home (removed afterwards), registers a session,
and sends decisions for everyday commands over the Unix socket, each client on
its own keep-alive connection. Figures: p50/p99 round trip with one client,
throughput and p50/p99 with --clients, and the daemon's resident memory while idle.

The same clients then run against a baseline process: the daemon's own HTTP
stack and JSON parsing with a fixed answer (no identity, policy or audit). Its
throughput, measured in the same run, is the transport's ceiling on this
machine; `vs_baseline` is the daemon's share of it.

Example: warden bench decide --requests 5000 --clients 16 --json")]
pub struct BenchDecideArgs {
    /// Decisions per run.
    #[arg(long, default_value_t = 5000, value_name = "N")]
    requests: usize,
    /// Concurrent clients for the throughput run.
    #[arg(long, default_value_t = 16, value_name = "N")]
    clients: usize,
    /// Audit durability of the daemon.
    #[arg(long, value_enum, default_value_t = Mode::Strict)]
    mode: Mode,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
    /// Internal: serve the transport-only baseline on this socket.
    #[arg(long, hide = true, value_name = "SOCKET")]
    serve_baseline: Option<PathBuf>,
}

pub(crate) struct Scratch(pub(crate) PathBuf);

impl Scratch {
    /// `$TMPDIR/warden-bench-KIND-PID`, created now and removed when dropped.
    pub(crate) fn create(kind: &str) -> Result<Scratch> {
        let base = std::env::temp_dir().join(format!("warden-bench-{kind}-{}", std::process::id()));
        std::fs::create_dir_all(&base).with_context(|| format!("creating {}", base.display()))?;
        Ok(Scratch(base))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub(crate) struct Child(pub(crate) std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// Nanoseconds all threads of the process have run on a CPU
/// (`/proc/<pid>/task/*/schedstat`).
fn cpu_ns(pid: u32) -> Option<u64> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    Some(
        tasks
            .flatten()
            .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
            .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
            .sum(),
    )
}

/// A counter from the daemon's `/metrics`.
fn metric(rt: &tokio::runtime::Runtime, api: &warden_daemon::client::Client, name: &str) -> u64 {
    let text = rt
        .block_on(api.ok(hyper::Method::GET, "/metrics", None))
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or(0)
}

pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(idx).copied().unwrap_or(0.0)
}

const COMMANDS: &[&str] = &[
    "git status",
    "cargo test --workspace",
    "ls -la src",
    "git diff HEAD~1 -- src/main.rs",
    "grep -rn TODO src",
    "npm run build",
];

/// One client: a keep-alive connection sending `n` decisions; returns the
/// round-trip times in microseconds.
async fn client(
    socket: PathBuf,
    secret: String,
    cwd: String,
    n: usize,
    recorded: bool,
) -> Result<Vec<f64>> {
    let stream = tokio::net::UnixStream::connect(&socket).await?;
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let mut times = Vec::with_capacity(n);
    for i in 0..n {
        let body =
            json!({ "cwd": cwd, "kind": { "shell": { "command": COMMANDS[i % COMMANDS.len()] } } });
        let req = Request::post("/v1/decide")
            .header("host", "warden")
            .header("content-type", "application/json")
            .header(warden_daemon::api::SECRET_HEADER, &secret)
            .body(Full::new(Bytes::from(body.to_string())))?;
        let t = Instant::now();
        send.ready().await?;
        let resp = send.send_request(req).await?;
        let bytes = resp.into_body().collect().await?.to_bytes();
        times.push(t.elapsed().as_secs_f64() * 1e6);
        let v: Value = serde_json::from_slice(&bytes)?;
        if (recorded && v["audit"]["seq"].as_u64().is_none()) || v["decision"] != "allow" {
            bail!("the benchmark expects recorded allows; the daemon answered {v}");
        }
    }
    Ok(times)
}

async fn run_clients(
    socket: &Path,
    secret: &str,
    cwd: &str,
    clients: usize,
    total: usize,
    recorded: bool,
) -> Result<(Vec<f64>, f64)> {
    let per = total.div_ceil(clients.max(1));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients.max(1) {
        tasks.push(tokio::spawn(client(
            socket.to_path_buf(),
            secret.into(),
            cwd.into(),
            per,
            recorded,
        )));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    let secs = started.elapsed().as_secs_f64();
    all.sort_by(f64::total_cmp);
    let rate = all.len() as f64 / secs;
    Ok((all, rate))
}

/// Starts a process of this executable serving the baseline on `socket`.
fn start_baseline(socket: &Path, rt: &tokio::runtime::Runtime) -> Result<Child> {
    let child = std::process::Command::new(std::env::current_exe()?)
        .args(["bench", "decide", "--serve-baseline"])
        .arg(socket)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .spawn()
        .context("starting the baseline")?;
    let child = Child(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while rt
        .block_on(tokio::net::UnixStream::connect(socket))
        .is_err()
    {
        if Instant::now() > deadline {
            bail!("the baseline did not come up on {}", socket.display());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(child)
}

fn serve_baseline(socket: &Path) -> Result<u8> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let (_stop, stopped) = tokio::sync::watch::channel(false);
        warden_daemon::baseline::serve(socket, stopped).await
    })
    .with_context(|| format!("serving the baseline on {}", socket.display()))?;
    Ok(0)
}

/// Starts `warden up ARGS` with its state in `home` and everything else of
/// it (config, system policy) under the scratch `base`, and waits until it
/// answers.
pub(crate) fn start_scratch_daemon(
    base: &Path,
    home: &Path,
    args: &[&str],
    rt: &tokio::runtime::Runtime,
) -> Result<Child> {
    let daemon = std::process::Command::new(std::env::current_exe()?)
        .arg("--home")
        .arg(home)
        .arg("up")
        .args(args)
        .env("HOME", base)
        .env("XDG_CONFIG_HOME", base.join("config"))
        .env("WARDEN_SYSTEM_POLICY", base.join("etc/warden/policy.toml"))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .context("starting warden up")?;
    let daemon = Child(daemon);
    let api =
        warden_daemon::client::Client::new(&home.join("warden.sock"), Duration::from_secs(10));
    let deadline = Instant::now() + Duration::from_secs(15);
    while rt
        .block_on(api.ok(hyper::Method::GET, "/v1/status", None))
        .is_err()
    {
        if Instant::now() > deadline {
            bail!("the daemon did not come up");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(daemon)
}

pub fn run(a: BenchDecideArgs) -> Result<u8> {
    if let Some(socket) = &a.serve_baseline {
        return serve_baseline(socket);
    }
    let scratch = Scratch::create("decide")?;
    let base = scratch.0.clone();
    let home = base.join("state");
    let mode = format!("{:?}", a.mode).to_lowercase();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let daemon = start_scratch_daemon(&base, &home, &["--no-tcp", "--mode", &mode], &rt)?;
    let socket = home.join("warden.sock");
    let api = warden_daemon::client::Client::new(&socket, Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(300));
    let idle_rss = rss_kib(daemon.0.id()).unwrap_or(0);
    let cwd = base.join("workspace");
    std::fs::create_dir_all(&cwd)?;
    let cwd = cwd.to_string_lossy().into_owned();
    let reg = json!({ "agent": "bench", "autonomy": "delegated", "workspace": cwd });
    let secret = rt.block_on(api.ok(hyper::Method::POST, "/v1/sessions", Some(&reg)))?["secret"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    // Warm up, then one client, then many.
    rt.block_on(run_clients(&socket, &secret, &cwd, 1, 200, true))?;
    let single_n = a.requests.min(5000);
    let (one, one_rate) = rt.block_on(run_clients(&socket, &secret, &cwd, 1, single_n, true))?;
    let cpu_before = cpu_ns(daemon.0.id()).unwrap_or(0);
    let commits_before = metric(&rt, &api, "warden_audit_commits_total");
    let (many, many_rate) = rt.block_on(run_clients(
        &socket, &secret, &cwd, a.clients, a.requests, true,
    ))?;
    let daemon_cpu_us = cpu_ns(daemon.0.id())
        .unwrap_or(0)
        .saturating_sub(cpu_before) as f64
        / 1000.0
        / many.len().max(1) as f64;
    let commits = metric(&rt, &api, "warden_audit_commits_total").saturating_sub(commits_before);
    let busy_rss = rss_kib(daemon.0.id()).unwrap_or(0);
    drop(daemon);
    let bare_socket = base.join("baseline.sock");
    let baseline = start_baseline(&bare_socket, &rt)?;
    rt.block_on(run_clients(&bare_socket, &secret, &cwd, 1, 200, false))?;
    let (bare_one, bare_one_rate) =
        rt.block_on(run_clients(&bare_socket, &secret, &cwd, 1, single_n, false))?;
    let (bare_many, bare_rate) = rt.block_on(run_clients(
        &bare_socket,
        &secret,
        &cwd,
        a.clients,
        a.requests,
        false,
    ))?;
    drop(baseline);
    let out = json!({
        "mode": mode,
        "single_client": {
            "requests": one.len(),
            "p50_us": percentile(&one, 0.5).round(),
            "p99_us": percentile(&one, 0.99).round(),
            "decisions_per_s": one_rate.round(),
        },
        "concurrent": {
            "clients": a.clients,
            "requests": many.len(),
            "p50_us": percentile(&many, 0.5).round(),
            "p99_us": percentile(&many, 0.99).round(),
            "decisions_per_s": many_rate.round(),
            "daemon_cpu_us_per_decision": daemon_cpu_us.round(),
            "audit_commits": commits,
            "decisions_per_commit": (many.len() as f64 / commits.max(1) as f64 * 10.0).round() / 10.0,
        },
        "baseline": {
            "single_client_p50_us": percentile(&bare_one, 0.5).round(),
            "single_client_decisions_per_s": bare_one_rate.round(),
            "concurrent_p50_us": percentile(&bare_many, 0.5).round(),
            "concurrent_decisions_per_s": bare_rate.round(),
        },
        "vs_baseline": {
            "single_client": (one_rate / bare_one_rate.max(1.0) * 100.0).round() / 100.0,
            "concurrent": (many_rate / bare_rate.max(1.0) * 100.0).round() / 100.0,
        },
        "idle_rss_mib": (idle_rss as f64 / 1024.0 * 10.0).round() / 10.0,
        "rss_after_mib": (busy_rss as f64 / 1024.0 * 10.0).round() / 10.0,
    });
    if a.json {
        println!("{out}");
    } else {
        println!(
            "1 client: p50 {} µs, p99 {} µs, {} decisions/s",
            out["single_client"]["p50_us"],
            out["single_client"]["p99_us"],
            out["single_client"]["decisions_per_s"]
        );
        println!(
            "{} clients: p50 {} µs, p99 {} µs, {} decisions/s",
            a.clients,
            out["concurrent"]["p50_us"],
            out["concurrent"]["p99_us"],
            out["concurrent"]["decisions_per_s"]
        );
        println!(
            "baseline (transport only): 1 client {} decisions/s, {} clients {} decisions/s",
            out["baseline"]["single_client_decisions_per_s"],
            a.clients,
            out["baseline"]["concurrent_decisions_per_s"]
        );
        println!(
            "daemon vs baseline: {}× with 1 client, {}× with {}",
            out["vs_baseline"]["single_client"], out["vs_baseline"]["concurrent"], a.clients
        );
        println!(
            "daemon CPU per decision: {} µs (the clients run on the same cores); {} decisions per audit commit",
            out["concurrent"]["daemon_cpu_us_per_decision"],
            out["concurrent"]["decisions_per_commit"]
        );
        println!(
            "daemon RSS: {} MiB idle, {} MiB after the runs",
            out["idle_rss_mib"], out["rss_after_mib"]
        );
    }
    Ok(0)
}
