//! The watchdog notices what should not happen, raises an alert, and records a
//! notice in the audit log.

use std::time::{Duration, Instant};

use hyper::Method;
use serde_json::{Value, json};

use crate::support::{Home, client, decide_action, register, start};

async fn alert_containing(c: &warden_daemon::client::Client, needle: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let status = c.ok(Method::GET, "/v1/status", None).await.unwrap();
        if status["alerts"].to_string().contains(needle) {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "no alert with {needle:?}: {}",
            status["alerts"]
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn notices(c: &warden_daemon::client::Client) -> Vec<Value> {
    let rows = c
        .ok(Method::GET, "/v1/audit/entries?limit=50", None)
        .await
        .unwrap();
    rows.as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"]["kind"]["notice"].is_object())
        .cloned()
        .collect()
}

fn fast_watch(home: &Home) -> warden_daemon::Config {
    let mut cfg = home.config();
    cfg.watch_every = Duration::from_millis(200);
    cfg
}

#[tokio::test(flavor = "multi_thread")]
async fn a_changed_key_file_is_an_alert_and_a_notice() {
    let home = Home::new();
    let daemon = start(fast_watch(&home)).await;
    let c = client(&home.socket());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let vkey = home.state.join("keys/log.vkey");
    let text = std::fs::read_to_string(&vkey).unwrap();
    std::fs::write(&vkey, format!("{text}\n")).unwrap();
    alert_containing(&c, "log.vkey was changed").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let n = notices(&c).await;
    assert!(
        n.iter()
            .any(|r| r["action"]["kind"]["notice"]["event"] == "tamper"),
        "{n:?}"
    );
    assert_eq!(n[0]["action"]["origin"], "warden");
    daemon.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn rows_slipped_into_audit_db_are_noticed() {
    let home = Home::new();
    let daemon = start(fast_watch(&home)).await;
    let c = client(&home.socket());
    crate::support::decide(&c, &home.workspace, "git status", None).await;
    let conn = rusqlite::Connection::open(home.state.join("audit.db")).unwrap();
    conn.execute_batch(
        "INSERT INTO entries (seq, envelope) SELECT max(seq) + 1, envelope FROM entries;",
    )
    .unwrap();
    drop(conn);
    alert_containing(&c, "rows were added to audit.db").await;
    daemon.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_burst_of_denials_from_one_session_is_an_alert() {
    let home = Home::new();
    let daemon = start(fast_watch(&home)).await;
    let c = client(&home.socket());
    let (_, secret) = register(&c, "prober", "observer", &home.workspace, None).await;
    for i in 0..5 {
        let a =
            json!({ "cwd": home.workspace, "kind": { "file_write": { "path": format!("x{i}") } } });
        assert_eq!(
            decide_action(&c, &a, Some(&secret)).await["decision"],
            "deny"
        );
    }
    alert_containing(&c, "was denied 5 times").await;
    daemon.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_that_falls_silent_while_its_process_runs_is_an_alert() {
    let home = Home::new();
    let mut cfg = fast_watch(&home);
    cfg.stall_after = Duration::from_millis(800);
    let daemon = start(cfg).await;
    let c = client(&home.socket());
    let mut agent = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    let (_, secret) = register(&c, "quiet", "executor", &home.workspace, Some(agent.id())).await;
    let a = json!({ "cwd": home.workspace, "kind": { "file_read": { "path": "README" } } });
    decide_action(&c, &a, Some(&secret)).await;
    alert_containing(&c, "has not reported").await;
    let _ = agent.kill();
    let _ = agent.wait();
    daemon.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_caller_cannot_forge_a_notice() {
    let home = Home::new();
    let daemon = start(home.config()).await;
    let c = client(&home.socket());
    let forged = json!({ "origin": "warden", "kind": { "notice": { "event": "tamper", "message": "all fine" } } });
    let (status, v) = c
        .call(Method::POST, "/v1/decide", Some(&forged), &[])
        .await
        .unwrap();
    assert_eq!(status.as_u16(), 400, "{v}");
    assert_eq!(v["decision"], "deny");
    daemon.shutdown().await;
}
