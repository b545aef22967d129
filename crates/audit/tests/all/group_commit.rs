//! Announced appends: a commit waits for the appends announced before it, so
//! concurrent decisions share one commit, and never waits for nothing.

use std::sync::mpsc;
use std::time::Duration;

use warden_audit::{AuditLog, Options};

use crate::support::{Home, action, fast, verdict};

/// A long linger: if an announcement were not honoured or its withdrawal not
/// noticed, the tests below would see two commits or wait out the linger.
fn lingering(home: &Home) -> AuditLog {
    AuditLog::open(
        &home.path,
        Options {
            max_linger: Duration::from_secs(30),
            ..fast()
        },
    )
    .unwrap()
}

fn submit(
    log: &AuditLog,
    a: warden_audit::Announcement,
    i: u64,
) -> mpsc::Receiver<Result<warden_audit::Receipt, warden_audit::AuditError>> {
    let (tx, rx) = mpsc::channel();
    log.submit_announced(a, &action(i), &verdict(i), move |r| {
        let _ = tx.send(r);
    })
    .unwrap();
    rx
}

#[test]
fn appends_announced_together_are_committed_together() {
    let home = Home::new();
    let log = lingering(&home);
    let first = log.announce();
    let second = log.announce();
    let r0 = submit(&log, first, 0);
    // The first is queued but waits for the second, which was announced.
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(
        log.commits(),
        0,
        "the commit must wait for the announced append"
    );
    let r1 = submit(&log, second, 1);
    let wait = Duration::from_secs(10);
    assert_eq!(r0.recv_timeout(wait).unwrap().unwrap().seq, 0);
    assert_eq!(r1.recv_timeout(wait).unwrap().unwrap().seq, 1);
    assert_eq!(log.commits(), 1, "one commit for both");
}

#[test]
fn a_withdrawn_announcement_releases_the_commit_at_once() {
    let home = Home::new();
    let log = lingering(&home);
    let first = log.announce();
    let never = log.announce();
    let r0 = submit(&log, first, 0);
    drop(never);
    let receipt = r0
        .recv_timeout(Duration::from_secs(10))
        .expect("the withdrawal must wake the commit, not the 30 s linger")
        .unwrap();
    assert_eq!(receipt.seq, 0);
}

#[test]
fn nothing_announced_nothing_waits() {
    let home = Home::new();
    let log = lingering(&home);
    let (tx, rx) = mpsc::channel();
    log.submit(&action(0), &verdict(0), move |r| {
        let _ = tx.send(r);
    })
    .unwrap();
    assert!(rx.recv_timeout(Duration::from_secs(10)).unwrap().is_ok());
    // Blocking appends never announce either.
    assert_eq!(log.append(&action(1), &verdict(1)).unwrap().seq, 1);
    assert_eq!(log.commits(), 2);
}

#[test]
fn a_lone_announced_append_is_committed_by_the_thread_that_submits_it() {
    let home = Home::new();
    let log = lingering(&home);
    for i in 0..3 {
        let a = log.announce();
        let (tx, rx) = mpsc::channel();
        log.submit_announced(a, &action(i), &verdict(i), move |r| {
            let _ = tx.send((std::thread::current().id(), r));
        })
        .unwrap();
        // Already done when submit returns: no hand-off to the committer.
        let (thread, receipt) = rx.try_recv().expect("a lone append is committed at once");
        assert_eq!(thread, std::thread::current().id());
        assert_eq!(receipt.unwrap().seq, i);
    }
    assert_eq!(log.commits(), 3);
}
