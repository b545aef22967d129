//! `warden bench watch`: what the eBPF observer adds to each exec. The same
//! loop of execs of /bin/true runs with the observer detached and attached
//! (its tracepoints loaded, a thread draining and decoding the ring buffer),
//! alternately, in one run; the median of each is kept.

#[cfg(feature = "ebpf")]
use std::sync::Arc;
#[cfg(feature = "ebpf")]
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
#[cfg(feature = "ebpf")]
use std::time::Duration;

#[cfg(feature = "ebpf")]
use anyhow::Context;
use anyhow::Result;
use clap::Args;

/// Arguments of `warden bench watch`.
#[derive(Debug, Args)]
pub struct BenchWatchArgs {
    /// Execs per loop.
    #[arg(long, default_value_t = 2000)]
    execs: u32,
    /// Loops of each kind (detached, attached), alternated.
    #[arg(long, default_value_t = 3)]
    rounds: u32,
    /// Print the figures as JSON.
    #[arg(long)]
    json: bool,
}

#[cfg(not(feature = "ebpf"))]
pub fn run(_a: BenchWatchArgs) -> Result<u8> {
    anyhow::bail!(
        "this warden was built without the eBPF observer (cargo build --release --features ebpf)"
    )
}

#[cfg(feature = "ebpf")]
pub fn run(a: BenchWatchArgs) -> Result<u8> {
    use crate::bench_exec::{median, timed};
    use std::process::Command;
    let execs = a.execs.max(1);
    let script = format!("i=0; while [ $i -lt {execs} ]; do /bin/true; i=$((i+1)); done");
    let exec_loop = || {
        let mut c = Command::new("/bin/sh");
        c.args(["-c", &script]);
        timed(c)
    };
    let (mut detached, mut attached) = (Vec::new(), Vec::new());
    let seen = Arc::new(AtomicU64::new(0));
    for round in 0..a.rounds.max(1) {
        if !a.json {
            eprintln!("round {}/{}…", round + 1, a.rounds.max(1));
        }
        detached.push(exec_loop()?);
        let mut observer = warden_ebpf::Observer::load()
            .context("loading the observer (needs root and tracefs at /sys/kernel/tracing)")?;
        let stop = Arc::new(AtomicBool::new(false));
        let drainer = {
            let (stop, seen) = (stop.clone(), seen.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Acquire) {
                    let n = observer.drain(|e| {
                        let _ = e;
                    });
                    seen.fetch_add(n as u64, Ordering::Relaxed);
                    if n == 0 {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                }
                observer.dropped()
            })
        };
        attached.push(exec_loop()?);
        stop.store(true, Ordering::Release);
        let dropped = drainer.join().unwrap_or(0);
        if dropped > 0 {
            eprintln!("the ring buffer dropped {dropped} events this round");
        }
    }
    let (detached, attached) = (median(detached), median(attached));
    let per = |d: Duration| d.as_secs_f64() * 1e6 / f64::from(execs);
    let added = per(attached) - per(detached);
    let figures = serde_json::json!({
        "execs": execs,
        "detached_us_per_exec": per(detached),
        "attached_us_per_exec": per(attached),
        "added_us_per_exec": added,
        "events_read": seen.load(Ordering::Relaxed),
        "target_added_us": 10,
    });
    if a.json {
        println!("{figures}");
    } else {
        println!(
            "{execs} execs of /bin/true:\n  observer detached {:>8.1} µs per exec\n  observer attached {:>8.1} µs per exec (exec and connect tracepoints, ring buffer drained)\n  added             {added:>8.1} µs per exec (target ≤ 10)",
            per(detached),
            per(attached)
        );
    }
    Ok(0)
}
