//! Crash safety: a process appending under load is killed with SIGKILL, again
//! and again. After each kill the log must reopen (its checks on open pass),
//! hold every sequence number that was acknowledged before the kill, and
//! verify intact: no acknowledged entry lost, no half-written entry.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use warden_audit::verify::verify_log;
use warden_audit::{AuditLog, AuditReader, Options};

use crate::support::{Home, action, verdict};

const CHILD_ENV: &str = "WARDEN_AUDIT_CRASH_HOME";

/// Appends with up to `window` appends in flight, printing `ack SEQ` on stdout
/// the moment each receipt arrives; stops after `limit` appends.
fn append_loop(home: &Path, window: usize, limit: u64) -> Vec<u64> {
    let log = AuditLog::open(home, Options::default()).unwrap();
    let (tx, rx) = mpsc::channel::<u64>();
    let mut in_flight = 0usize;
    let mut acked = Vec::new();
    let mut out = std::io::stdout();
    for i in 0..limit {
        while in_flight >= window {
            let seq = rx.recv().unwrap();
            in_flight -= 1;
            acked.push(seq);
        }
        let tx = tx.clone();
        log.submit(&action(i), &verdict(i), move |r| {
            let receipt = r.expect("append");
            // Written before anyone could count it as acknowledged.
            let mut o = std::io::stdout().lock();
            let _ = writeln!(o, "ack {}", receipt.seq);
            let _ = o.flush();
            let _ = tx.send(receipt.seq);
        })
        .unwrap();
        in_flight += 1;
    }
    drop(tx);
    while let Ok(seq) = rx.recv() {
        acked.push(seq);
    }
    let _ = out.flush();
    log.close().unwrap();
    acked
}

/// The child process of `kill_9_under_load_loses_no_acknowledged_entry` when
/// run with the environment variable set; otherwise a short run of the same
/// loop whose acknowledgements must be exactly the sequence numbers 0..n.
#[test]
fn append_loop_child() {
    if let Some(home) = std::env::var_os(CHILD_ENV) {
        append_loop(Path::new(&home), 512, u64::MAX);
        return;
    }
    let home = Home::new();
    let mut acked = append_loop(&home.path, 64, 500);
    acked.sort_unstable();
    assert_eq!(acked, (0..500).collect::<Vec<_>>());
}

#[test]
fn kill_9_under_load_loses_no_acknowledged_entry() {
    let home = Home::new();
    std::fs::create_dir_all(&home.path).unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut acked: BTreeSet<u64> = BTreeSet::new();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for round in 0..8 {
        // A different moment in each round: after 100 to ~3,000 acknowledgements.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let kill_after = 100 + (seed % 3000) as usize;
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "crash::append_loop_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, &home.path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel::<u64>();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(seq) = line.strip_prefix("ack ").and_then(|s| s.parse().ok()) {
                    let _ = tx.send(seq);
                }
            }
        });
        let mut this_round = 0usize;
        let deadline = Instant::now() + Duration::from_secs(60);
        while this_round < kill_after && Instant::now() < deadline {
            match rx.recv_timeout(Duration::from_secs(5)) {
                Ok(seq) => {
                    acked.insert(seq);
                    this_round += 1;
                }
                Err(_) => break,
            }
        }
        assert!(
            this_round > 0,
            "round {round}: the child acknowledged nothing"
        );
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        reader.join().unwrap();
        // Lines written before the kill but not read yet were acknowledged too.
        acked.extend(rx.try_iter());

        // The writer's own checks on open must pass after the crash.
        let log = AuditLog::open(&home.path, Options::default())
            .unwrap_or_else(|e| panic!("round {round}: reopen after SIGKILL: {e}"));
        log.close().unwrap();
        let mut reader = AuditReader::open(&home.path).unwrap();
        let size = reader.checkpoint().unwrap().checkpoint.size;
        let store = reader.store();
        for &seq in &acked {
            assert!(
                store.envelope(seq).unwrap().is_some(),
                "round {round}: acknowledged entry {seq} lost (log size {size})"
            );
        }
        let report = verify_log(&mut reader).unwrap();
        assert!(report.intact(), "round {round}: {:?}", report.problems);
        println!(
            "round {round}: killed after {this_round} acks; log holds {size}, {} acknowledged in all",
            acked.len()
        );
    }
    assert!(acked.len() >= 800);
}
