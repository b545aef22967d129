//! `warden audit bench`: synthetic appends through the real writer (SQLite file,
//! fsync, signing), then a full verification of the log.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use serde_json::json;
use warden_audit::verify::verify_log;
use warden_audit::{AuditLog, AuditReader, Options};
use warden_types::{Action, ActionKind, Decision, NetRequest, Origin, Threat, Verdict};

use super::Mode;

/// Arguments of `warden audit bench`.
#[derive(Debug, Args)]
#[command(after_help = "\
Appends go into --home (or $WARDEN_HOME) when one is given explicitly, else into a
temporary directory that is removed afterwards. --batch 1 measures durable
single-event appends (one commit, one fsync each, the caller waiting for each); a
larger batch is the group-commit limit, with four batches' worth of appends kept in
flight so a full batch is always queued.

Examples:
  warden audit bench --events 20000 --batch 1 --json
  warden audit bench --events 1000000 --batch 1000 --mode fast --json")]
pub struct BenchArgs {
    /// How many events to append.
    #[arg(long, default_value_t = 100_000, value_name = "N")]
    events: u64,
    /// Most events per commit, and appends kept in flight.
    #[arg(long, default_value_t = 1000, value_name = "B")]
    batch: usize,
    /// Durability mode.
    #[arg(long, value_enum, default_value_t = Mode::Strict)]
    mode: Mode,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

fn synthetic(i: u64) -> (Action, Verdict) {
    let kind = match i % 4 {
        0 => ActionKind::Shell {
            command: format!("cargo test -p crate{} -- --nocapture", i % 97),
        },
        1 => ActionKind::FileWrite {
            path: format!("src/module{}/mod.rs", i % 31),
        },
        2 => ActionKind::Net(NetRequest {
            url: Some(format!("https://api.github.com/repos/o/r/issues/{i}")),
            method: Some("GET".into()),
            ..NetRequest::default()
        }),
        _ => ActionKind::ToolCall {
            server: "github".into(),
            tool: "create_issue".into(),
            arguments: json!({ "title": format!("bench {i}"), "labels": ["bench"] }),
        },
    };
    let mut a = Action::new("/work/project", kind);
    a.id = format!("bench-{i}");
    a.session = format!("session-{}", i / 1000);
    a.agent.name = "bench-agent".into();
    a.origin = Origin::HookClaudeCode;
    let mut v = Verdict::malformed("");
    v.decision = Decision::Allow;
    v.rules = vec!["default:autonomy".into()];
    v.reason = "allowed at autonomy delegated".into();
    v.threat = Threat::Benign;
    (a, v)
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(idx).copied().unwrap_or(0) as f64
}

/// p50 of 20 fsyncs of a 4 KiB write in `dir`: the disk regime of this run.
fn fsync_probe(dir: &Path) -> Result<f64> {
    let path = dir.join(".fsync-probe");
    let mut f = std::fs::File::create(&path).context("fsync probe")?;
    let mut t = Vec::new();
    for _ in 0..20 {
        f.write_all(&[0u8; 4096])?;
        let s = Instant::now();
        f.sync_data()?;
        t.push(s.elapsed().as_micros() as u32);
    }
    let _ = std::fs::remove_file(&path);
    t.sort_unstable();
    Ok(percentile(&t, 0.5))
}

pub fn run(a: BenchArgs, explicit_home: Option<&Path>) -> Result<u8> {
    if a.events == 0 || a.batch == 0 {
        bail!("--events and --batch must be at least 1");
    }
    let _temp;
    let home: PathBuf = match explicit_home {
        Some(h) => h.to_path_buf(),
        None => {
            let t = tempfile_dir()?;
            let p = t.join("state");
            _temp = TempDir(t);
            p
        }
    };
    let options = Options {
        durability: a.mode.into(),
        max_batch: a.batch,
        ..Options::default()
    };
    let log = AuditLog::open(&home, options)
        .with_context(|| format!("opening the log in {}", home.display()))?;
    let fsync_us = fsync_probe(&home)?;
    let work: Vec<(Action, Verdict)> = (0..a.events.min(4096)).map(synthetic).collect();
    let (tx, rx) = mpsc::channel::<Result<u32, String>>();
    let mut latencies: Vec<u32> = Vec::with_capacity(a.events as usize);
    let started = Instant::now();
    let mut last_progress = Instant::now();
    let mut in_flight = 0usize;
    let take = |latencies: &mut Vec<u32>, r: Result<u32, String>| -> Result<()> {
        latencies.push(r.map_err(anyhow::Error::msg)?);
        Ok(())
    };
    for i in 0..a.events {
        if a.batch == 1 {
            // One event per commit, the caller waiting for each: what an
            // interceptor that records one decision at a time sees.
            let (action, verdict) = &work[(i % work.len() as u64) as usize];
            let submitted = Instant::now();
            log.append(action, verdict)?;
            latencies.push(submitted.elapsed().as_micros() as u32);
            if last_progress.elapsed() >= Duration::from_secs(2) {
                eprintln!("appended {} of {} events…", latencies.len(), a.events);
                last_progress = Instant::now();
            }
            continue;
        }
        // Four batches in flight: the next batch is encoded and queued while the
        // current one commits, as with many concurrent interceptors.
        while in_flight >= a.batch * 4 {
            take(&mut latencies, rx.recv().context("the writer stopped")?)?;
            in_flight -= 1;
        }
        let (action, verdict) = &work[(i % work.len() as u64) as usize];
        let tx = tx.clone();
        let submitted = Instant::now();
        log.submit(action, verdict, move |r| {
            let _ = tx.send(
                r.map(|_| submitted.elapsed().as_micros() as u32)
                    .map_err(|e| e.to_string()),
            );
        })?;
        in_flight += 1;
        if last_progress.elapsed() >= Duration::from_secs(2) {
            eprintln!("appended {} of {} events…", latencies.len(), a.events);
            last_progress = Instant::now();
        }
    }
    drop(tx);
    while let Ok(r) = rx.recv() {
        take(&mut latencies, r)?;
    }
    let append_s = started.elapsed().as_secs_f64();
    log.close()?;
    let events_per_s = a.events as f64 / append_s;
    latencies.sort_unstable();

    // The same SQLite writes without warden's work, in this run, on this disk.
    let envelope_len = AuditReader::open(&home)?.store().mean_envelope_len()?;
    let bare_events = a.events.min(200_000);
    let bare = warden_audit::baseline::bare_sqlite_rate(
        &home.join("bench-baseline.db"),
        bare_events,
        a.batch,
        envelope_len,
        a.mode.into(),
    )?;

    let mut reader = AuditReader::open(&home)?;
    let report = verify_log(&mut reader)?;
    if !report.intact() {
        bail!(
            "the log did not verify after the bench: {}",
            report.problems[0]
        );
    }
    let out = json!({
        "events": a.events,
        "batch": a.batch,
        "mode": format!("{:?}", a.mode).to_lowercase(),
        "events_per_s": events_per_s.round(),
        "p50_append_us": percentile(&latencies, 0.5),
        "p99_append_us": percentile(&latencies, 0.99),
        "verify_s": (report.elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
        "entries_verified": report.entries,
        "fsync_p50_us": fsync_us,
        "bare_sqlite_events_per_s": bare.round(),
        "vs_bare_sqlite": (events_per_s / bare * 100.0).round() / 100.0,
    });
    if a.json {
        println!("{out}");
    } else {
        println!(
            "{} events, batch {}, {:?}: {:.0} events/s; append latency p50 {} µs, p99 {} µs",
            a.events, a.batch, a.mode, events_per_s, out["p50_append_us"], out["p99_append_us"]
        );
        println!(
            "full verify of {} entries: {:.3} s; disk fsync p50 {} µs",
            report.entries,
            report.elapsed.as_secs_f64(),
            fsync_us
        );
        println!(
            "bare SQLite, same writes without sealing, hashing or signing: {:.0} rows/s (warden at {:.0}% of it)",
            bare,
            events_per_s / bare * 100.0
        );
    }
    Ok(0)
}

/// A private temporary directory, removed on drop.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tempfile_dir() -> Result<PathBuf> {
    let base = std::env::temp_dir();
    for n in 0..100u32 {
        let p = base.join(format!("warden-audit-bench-{}-{n}", std::process::id()));
        match std::fs::create_dir(&p) {
            Ok(()) => return Ok(p),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e).with_context(|| format!("creating {}", p.display())),
        }
    }
    bail!(
        "could not create a temporary directory in {}",
        base.display()
    )
}
