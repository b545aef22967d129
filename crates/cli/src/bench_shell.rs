//! `warden bench shell`: what `warden shell` adds to interactive typing.
//! This process plays the terminal: bash runs on a PTY bare, and bash runs
//! under `warden shell` on a PTY (against a scratch daemon), side by side in
//! one run. Keys are typed one at a time and each is timed until the shell's
//! echo of it comes back; a benign line's Enter is timed until the next prompt.

use std::io::{Read, Write};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use serde_json::json;
use warden_sandbox::pty::{Pty, WinSize};

use crate::bench_decide::{Scratch, start_scratch_daemon};

/// Arguments of `warden bench shell`.
#[derive(Debug, Args)]
pub struct BenchShellArgs {
    /// Keys typed in each configuration.
    #[arg(long, default_value_t = 2000)]
    keys: u32,
    /// Benign lines entered in each configuration.
    #[arg(long, default_value_t = 200)]
    lines: u32,
    /// Print the figures as JSON.
    #[arg(long)]
    json: bool,
}

const PROMPT: &[u8] = b"bench$ ";

/// A terminal: a PTY with a reader that keeps what it has read.
struct Terminal {
    pty: Pty,
    out: std::fs::File,
    input: std::fs::File,
    seen: Vec<u8>,
}

impl Terminal {
    fn start(cmd: Command) -> Result<Terminal> {
        let pty = Pty::spawn(
            cmd,
            WinSize {
                rows: 40,
                cols: 200,
            },
        )?;
        let out = pty.master_clone()?;
        let input = pty.master_clone()?;
        let mut t = Terminal {
            pty,
            out,
            input,
            seen: Vec::new(),
        };
        t.until(PROMPT, Duration::from_secs(20))
            .context("waiting for the first prompt")?;
        Ok(t)
    }

    /// Reads until `what` has arrived since the last call.
    fn until(&mut self, what: &[u8], limit: Duration) -> Result<()> {
        let deadline = Instant::now() + limit;
        let mut buf = [0u8; 4096];
        loop {
            if let Some(i) = find(&self.seen, what) {
                self.seen.drain(..i + what.len());
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "no {:?} from the shell; it printed {:?}",
                    String::from_utf8_lossy(what),
                    String::from_utf8_lossy(&self.seen)
                );
            }
            let n = self.out.read(&mut buf).context("reading the terminal")?;
            if n == 0 {
                bail!("the shell exited");
            }
            self.seen.extend_from_slice(&buf[..n]);
        }
    }

    fn send(&mut self, bytes: &[u8]) -> Result<()> {
        self.input.write_all(bytes).context("typing")
    }

    /// Typing `keys` keys, each timed to its echo (the line is cleared with
    /// ^U every 40 keys, untimed).
    fn type_keys(&mut self, keys: u32) -> Result<Vec<f64>> {
        let mut times = Vec::with_capacity(keys as usize);
        for i in 0..keys {
            if i % 40 == 39 {
                self.send(b"\x15")?;
                std::thread::sleep(Duration::from_millis(5));
                self.seen.clear();
            }
            let key = b'a' + (i % 26) as u8;
            let t = Instant::now();
            self.send(&[key])?;
            self.until(&[key], Duration::from_secs(10))?;
            times.push(t.elapsed().as_secs_f64() * 1e6);
        }
        self.send(b"\x15")?;
        Ok(times)
    }

    /// Entering `lines` benign lines, each timed to the next prompt.
    fn enter_lines(&mut self, lines: u32) -> Result<Vec<f64>> {
        let mut times = Vec::with_capacity(lines as usize);
        for i in 0..lines {
            self.send(format!("echo line{i}").as_bytes())?;
            self.until(format!("line{i}").as_bytes(), Duration::from_secs(10))?;
            let t = Instant::now();
            self.send(b"\r")?;
            self.until(PROMPT, Duration::from_secs(10))?;
            times.push(t.elapsed().as_secs_f64() * 1e6);
        }
        Ok(times)
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        self.pty.hang_up();
        let _ = self.pty.wait();
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v.get(i).copied().unwrap_or(0.0)
}

pub fn run(a: BenchShellArgs) -> Result<u8> {
    let scratch = Scratch::create("shell")?;
    let base = scratch.0.clone();
    let home = base.join("state");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let _daemon = start_scratch_daemon(&base, &home, &["--no-tcp", "--mode", "fast"], &rt)?;
    drop(rt);
    let bash = |c: &mut Command| {
        c.env("PS1", String::from_utf8_lossy(PROMPT).as_ref())
            .env("HOME", &base)
            .env("HISTFILE", "/dev/null")
            .env("TERM", "xterm")
            .env("XDG_CONFIG_HOME", base.join("config"))
            .env("WARDEN_SYSTEM_POLICY", base.join("etc/warden/policy.toml"))
            .current_dir(&base);
    };
    let mut bare = Command::new("bash");
    bare.args(["--norc", "--noprofile", "-i"]);
    bash(&mut bare);
    let mut guarded = Command::new(std::env::current_exe()?);
    guarded
        .arg("--home")
        .arg(&home)
        .args(["shell", "--", "bash", "--norc", "--noprofile", "-i"]);
    bash(&mut guarded);
    if !a.json {
        eprintln!(
            "typing {} keys and {} lines into bash, bare and under warden shell…",
            a.keys, a.lines
        );
    }
    let mut t_bare = Terminal::start(bare).context("starting bare bash")?;
    let mut t_guard = Terminal::start(guarded).context("starting warden shell")?;
    // Alternate in halves, so drift on a noisy machine hits both alike.
    let half = a.keys.max(2) / 2;
    let (mut kb, mut kg) = (t_bare.type_keys(half)?, t_guard.type_keys(half)?);
    kg.extend(t_guard.type_keys(half)?);
    kb.extend(t_bare.type_keys(half)?);
    let lines = a.lines.max(2) / 2;
    let (mut lb, mut lg) = (t_bare.enter_lines(lines)?, t_guard.enter_lines(lines)?);
    lg.extend(t_guard.enter_lines(lines)?);
    lb.extend(t_bare.enter_lines(lines)?);
    let (kb50, kg50) = (percentile(&mut kb, 0.5), percentile(&mut kg, 0.5));
    let (kb99, kg99) = (percentile(&mut kb, 0.99), percentile(&mut kg, 0.99));
    let (lb50, lg50) = (percentile(&mut lb, 0.5), percentile(&mut lg, 0.5));
    let figures = json!({
        "keys": kb.len(),
        "lines": lb.len(),
        "echo_bare_p50_us": kb50,
        "echo_guarded_p50_us": kg50,
        "echo_bare_p99_us": kb99,
        "echo_guarded_p99_us": kg99,
        "echo_added_p50_us": kg50 - kb50,
        "enter_bare_p50_us": lb50,
        "enter_guarded_p50_us": lg50,
        "enter_added_p50_us": lg50 - lb50,
        "target_echo_added_us": 1000,
    });
    if a.json {
        println!("{figures}");
    } else {
        println!(
            "key to echo ({} keys):\n  bare bash       p50 {kb50:>8.1} µs   p99 {kb99:>8.1} µs\n  warden shell    p50 {kg50:>8.1} µs   p99 {kg99:>8.1} µs\n  added           p50 {:>8.1} µs (target ≤ 1000)\nbenign line, Enter to next prompt ({} lines; checked with the daemon, recorded in the background):\n  bare bash       p50 {lb50:>8.1} µs\n  warden shell    p50 {lg50:>8.1} µs\n  added           p50 {:>8.1} µs",
            kb.len(),
            kg50 - kb50,
            lb.len(),
            lg50 - lb50
        );
    }
    Ok(0)
}
