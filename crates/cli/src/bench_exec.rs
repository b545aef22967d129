//! `warden bench exec`: what the sandbox's exec supervision adds to each
//! exec. The same loop of N execs of /bin/true runs bare and inside
//! `warden run` (against a scratch daemon, every exec decided and audited),
//! alternately, in one run; the sandbox's start-up (timed separately with a
//! single exec) is taken out of the per-exec figure.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use serde_json::json;

use crate::bench_decide::{Scratch, start_scratch_daemon};

/// Arguments of `warden bench exec`.
#[derive(Debug, Args)]
pub struct BenchExecArgs {
    /// Execs per loop.
    #[arg(long, default_value_t = 2000)]
    execs: u32,
    /// Loops of each kind (bare, sandboxed), alternated; the median is kept.
    #[arg(long, default_value_t = 3)]
    rounds: u32,
    /// The daemon's audit mode: strict (fsync per decision) or fast.
    #[arg(long, default_value = "strict", value_parser = ["strict", "fast"])]
    mode: String,
    /// Print the figures as JSON.
    #[arg(long)]
    json: bool,
}

pub(crate) fn timed(mut c: Command) -> Result<Duration> {
    let started = Instant::now();
    let out = c
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .context("running the loop")?;
    let took = started.elapsed();
    if !out.status.success() {
        bail!(
            "the loop failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(took)
}

pub(crate) fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

pub fn run(a: BenchExecArgs) -> Result<u8> {
    let execs = a.execs.max(1);
    let scratch = Scratch::create("exec")?;
    let base = scratch.0.clone();
    let ws = base.join("ws");
    std::fs::create_dir_all(&ws).with_context(|| format!("creating {}", ws.display()))?;
    let home = base.join("state");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let _daemon = start_scratch_daemon(&base, &home, &["--no-tcp", "--mode", &a.mode], &rt)?;
    drop(rt);
    let script = format!("i=0; while [ $i -lt {execs} ]; do /bin/true; i=$((i+1)); done");
    let warden = std::env::current_exe()?;
    let sandboxed = |command: &[&str]| {
        let mut c = Command::new(&warden);
        c.arg("--home")
            .arg(&home)
            .args(["run", "--workspace"])
            .arg(&ws)
            .arg("--")
            .args(command)
            .current_dir(&ws)
            .env("HOME", &base)
            .env("XDG_CONFIG_HOME", base.join("config"))
            .env("WARDEN_SYSTEM_POLICY", base.join("etc/warden/policy.toml"));
        c
    };
    let (mut bare, mut inside, mut startup) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..a.rounds.max(1) {
        if !a.json {
            eprintln!("round {}/{}…", round + 1, a.rounds.max(1));
        }
        let mut c = Command::new("/bin/sh");
        c.args(["-c", &script]);
        bare.push(timed(c)?);
        inside.push(timed(sandboxed(&["/bin/sh", "-c", &script]))?);
        startup.push(timed(sandboxed(&["/bin/true"]))?);
    }
    let (bare, inside, startup) = (median(bare), median(inside), median(startup));
    let per = |d: Duration| d.as_secs_f64() * 1e6 / f64::from(execs);
    let added = (inside.saturating_sub(startup).as_secs_f64() - bare.as_secs_f64()) * 1e6
        / f64::from(execs);
    let figures = json!({
        "execs": execs,
        "daemon_mode": a.mode,
        "bare_us_per_exec": per(bare),
        "sandboxed_us_per_exec": per(inside.saturating_sub(startup)),
        "added_us_per_exec": added,
        "sandbox_startup_ms": startup.as_secs_f64() * 1e3,
        "target_added_us": 150,
    });
    if a.json {
        println!("{figures}");
    } else {
        println!(
            "{execs} execs of /bin/true ({} daemon):\n  bare        {:>8.1} µs per exec\n  sandboxed   {:>8.1} µs per exec (each decided by the daemon and audited)\n  added       {:>8.1} µs per exec (target ≤ 150)\n  start-up    {:>8.1} ms (namespaces, mount view, Landlock, seccomp, session)",
            a.mode,
            per(bare),
            per(inside.saturating_sub(startup)),
            added,
            startup.as_secs_f64() * 1e3
        );
    }
    Ok(0)
}
