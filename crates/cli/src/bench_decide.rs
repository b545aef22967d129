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
}

struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn rss_kib(pid: u32) -> Option<u64> {
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

fn percentile(sorted: &[f64], p: f64) -> f64 {
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
async fn client(socket: PathBuf, secret: String, cwd: String, n: usize) -> Result<Vec<f64>> {
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
        if v["audit"]["seq"].as_u64().is_none() || v["decision"] != "allow" {
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

pub fn run(a: BenchDecideArgs) -> Result<u8> {
    let base = std::env::temp_dir().join(format!("warden-bench-decide-{}", std::process::id()));
    std::fs::create_dir_all(&base).with_context(|| format!("creating {}", base.display()))?;
    let _scratch = Scratch(base.clone());
    let home = base.join("state");
    let exe = std::env::current_exe()?;
    let mode = format!("{:?}", a.mode).to_lowercase();
    let daemon = std::process::Command::new(exe)
        .args(["--home"])
        .arg(&home)
        .args(["up", "--no-tcp", "--mode", &mode])
        .env("HOME", &base)
        .env("XDG_CONFIG_HOME", base.join("config"))
        .env("WARDEN_SYSTEM_POLICY", base.join("etc/warden/policy.toml"))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .context("starting warden up")?;
    let daemon = Child(daemon);
    let socket = home.join("warden.sock");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let api = warden_daemon::client::Client::new(&socket, Duration::from_secs(10));
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
    rt.block_on(run_clients(&socket, &secret, &cwd, 1, 200))?;
    let single_n = a.requests.min(5000);
    let (one, one_rate) = rt.block_on(run_clients(&socket, &secret, &cwd, 1, single_n))?;
    let cpu_before = cpu_ns(daemon.0.id()).unwrap_or(0);
    let (many, many_rate) =
        rt.block_on(run_clients(&socket, &secret, &cwd, a.clients, a.requests))?;
    let daemon_cpu_us = cpu_ns(daemon.0.id())
        .unwrap_or(0)
        .saturating_sub(cpu_before) as f64
        / 1000.0
        / many.len().max(1) as f64;
    let busy_rss = rss_kib(daemon.0.id()).unwrap_or(0);
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
            "daemon CPU per decision: {} µs (the clients run on the same cores)",
            out["concurrent"]["daemon_cpu_us_per_decision"]
        );
        println!(
            "daemon RSS: {} MiB idle, {} MiB after the runs",
            out["idle_rss_mib"], out["rss_after_mib"]
        );
    }
    Ok(0)
}
