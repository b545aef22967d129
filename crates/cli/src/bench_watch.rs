//! `warden bench watch`: what the eBPF observer adds to each exec. The same
//! loop of execs of /bin/true runs with the observer detached and attached
//! (its exec and connect programs attached, a thread draining and decoding
//! the ring buffer), alternately, in one run; the median of the rounds'
//! differences is the figure. Beside it, a loop of a syscall the observer does
//! not watch (getppid) shows what it costs the rest of the machine.

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
    /// Rounds; each runs the loop once detached and once attached, in
    /// alternating order.
    #[arg(long, default_value_t = 5)]
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
    use std::process::Command;
    use std::sync::Mutex;
    let execs = a.execs.max(1);
    let rounds = a.rounds.max(1);
    let script = format!("i=0; while [ $i -lt {execs} ]; do /bin/true; i=$((i+1)); done");
    let exec_loop = || {
        let mut c = Command::new("/bin/sh");
        c.args(["-c", &script]);
        crate::bench_exec::timed(c)
    };
    // One observer, its ring buffer drained all along by a thread as
    // `warden watch` drains it; only its programs' links come and go between
    // loops, so loading it (BTF, verifier) is never timed.
    let root = warden_sandbox::cgroup::cgroup2_mount()
        .context("the observer's connect hooks need a cgroup v2 hierarchy, and none is mounted")?;
    let mut observer = warden_ebpf::Observer::load(&root)
        .context("loading the observer (needs root and a kernel with BPF ring buffers and BTF)")?;
    // The kernel's own count of the programs' runs and their time: the
    // in-kernel cost, free of the machine's noise that the loops carry.
    let counted = observer.count_runs();
    let observer = Arc::new(Mutex::new(observer));
    let (stop, seen) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicU64::new(0)),
    );
    let drainer = {
        let (observer, stop, seen) = (observer.clone(), stop.clone(), seen.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Acquire) {
                let n = match observer.lock() {
                    Ok(mut o) => o.drain(drop),
                    Err(_) => break,
                };
                seen.fetch_add(n as u64, Ordering::Relaxed);
                if n == 0 {
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        })
    };
    let set_attached = |on: bool| -> Result<()> {
        let mut o = observer
            .lock()
            .map_err(|_| anyhow::anyhow!("the drain thread panicked"))?;
        if on {
            o.attach().context("attaching the observer")?;
        } else {
            o.detach();
        }
        Ok(())
    };
    // Each round runs both loops, in the order detached-attached then
    // attached-detached, so a machine that slows down or speeds up during
    // the run weighs on both alike; a round's difference is one sample.
    let (mut detached, mut attached, mut added) = (Vec::new(), Vec::new(), Vec::new());
    let mut syscall_added = Vec::new();
    let per = |d: Duration| d.as_secs_f64() * 1e6 / f64::from(execs);
    for round in 0..rounds {
        let mut took = [Duration::ZERO; 2];
        let mut syscall = [0f64; 2];
        let order = if round % 2 == 0 {
            [false, true]
        } else {
            [true, false]
        };
        for on in order {
            set_attached(on)?;
            took[usize::from(on)] = exec_loop()?;
            syscall[usize::from(on)] = unwatched_syscall_ns();
        }
        syscall_added.push(syscall[1] - syscall[0]);
        set_attached(false)?;
        let (off, on) = (per(took[0]), per(took[1]));
        if !a.json {
            eprintln!(
                "round {}/{rounds}: detached {off:.1} µs, attached {on:.1} µs per exec",
                round + 1
            );
        }
        detached.push(off);
        attached.push(on);
        added.push(on - off);
    }
    stop.store(true, Ordering::Release);
    let _ = drainer.join();
    let (dropped, runs) = observer
        .lock()
        .map(|o| (o.dropped(), o.runs()))
        .unwrap_or_default();
    let in_program = |name: &str| {
        runs.iter()
            .find(|r| r.name == name && r.count > 0)
            .map(|r| r.time.as_secs_f64() * 1e9 / r.count as f64)
    };
    let exec_ns = counted
        .is_ok()
        .then(|| in_program(warden_ebpf::EXEC_PROGRAM))
        .flatten();
    let (detached, attached, added) = (middle(detached), middle(attached), middle(added));
    let syscall_added = middle(syscall_added);
    let figures = serde_json::json!({
        "execs": execs,
        "rounds": rounds,
        "detached_us_per_exec": detached,
        "attached_us_per_exec": attached,
        "added_us_per_exec": added,
        "events_read": seen.load(Ordering::Relaxed),
        "events_dropped": dropped,
        "exec_program_ns_per_run": exec_ns,
        "unwatched_syscall_added_ns": syscall_added,
        "program_runs": runs.iter().map(|r| serde_json::json!({
            "program": r.name, "runs": r.count, "ns": r.time.as_nanos() as u64,
        })).collect::<Vec<_>>(),
        "target_added_us": 10,
    });
    if a.json {
        println!("{figures}");
    } else {
        println!(
            "{execs} execs of /bin/true, {rounds} rounds (medians):\n  observer detached {detached:>8.1} µs per exec\n  observer attached {attached:>8.1} µs per exec (exec and connect programs, ring buffer drained)\n  added             {added:>8.1} µs per exec (median of the rounds' differences; target ≤ 10)\n  added to getppid  {syscall_added:>8.1} ns per call (a syscall the observer does not watch)"
        );
        match (&counted, exec_ns) {
            (Ok(()), Some(ns)) => println!(
                "  in the exec program {ns:>8.0} ns per exec (the kernel's count over {} runs)",
                runs.iter()
                    .find(|r| r.name == warden_ebpf::EXEC_PROGRAM)
                    .map_or(0, |r| r.count)
            ),
            (Ok(()), None) => println!("  the kernel counted no runs of the exec program"),
            (Err(e), _) => println!("  the kernel would not count program runs: {e}"),
        }
        if dropped > 0 {
            println!("  the ring buffer dropped {dropped} events");
        }
    }
    Ok(0)
}

/// Nanoseconds per call of a syscall the observer has no program on
/// (getppid, by `parent_id`), over a loop long enough to time.
#[cfg(feature = "ebpf")]
fn unwatched_syscall_ns() -> f64 {
    const CALLS: u32 = 200_000;
    let began = std::time::Instant::now();
    let mut sum = 0u64;
    for _ in 0..CALLS {
        sum = sum.wrapping_add(u64::from(std::os::unix::process::parent_id()));
    }
    std::hint::black_box(sum);
    began.elapsed().as_secs_f64() * 1e9 / f64::from(CALLS)
}

/// The median of `v` (the mean of the two middle values for an even count).
#[cfg(feature = "ebpf")]
fn middle(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}
