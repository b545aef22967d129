//! Asks: held open until a person answers, denied on timeout or shutdown, and
//! never answerable by the agent that asked.

use std::time::Duration;

use hyper::{Method, StatusCode};

use crate::support::{
    Home, caller_output, client, decide, pending_ask, register, spawn_caller, start,
};

const PUSH: &str = "git push origin main";

#[tokio::test(flavor = "multi_thread")]
async fn an_ask_approved_by_a_person_is_allowed_and_recorded_as_such() {
    let home = Home::new();
    let mut cfg = home.config();
    // This test process holds no terminal; the terminal rule has its own test
    // (the CLI's, under a real pty).
    cfg.approvals_need_tty = false;
    let daemon = start(cfg).await;
    let c = client(&home.socket());
    let (_, secret) = register(&c, "claude-code", "executor", &home.workspace, None).await;
    let ws = home.workspace.clone();
    let asker = tokio::spawn({
        let c = client(&home.socket());
        async move { decide(&c, &ws, PUSH, Some(&secret)).await }
    });
    let ask = pending_ask(&c).await;
    assert_eq!(ask["action"]["kind"]["shell"]["command"], PUSH);
    assert_eq!(ask["agent"], "claude-code");
    let id = ask["id"].as_str().unwrap();
    let answer = c
        .ok(Method::POST, &format!("/v1/asks/{id}/approve"), None)
        .await
        .unwrap();
    assert!(answer["by"].as_str().unwrap().starts_with("cli:uid="));
    let (_, v) = asker.await.unwrap();
    assert_eq!(v["decision"], "allow", "{v}");
    assert_eq!(v["answered"]["decision"], "allow");
    // Answered once: a second answer finds nothing.
    let (status, _) = c
        .call(Method::POST, &format!("/v1/asks/{id}/deny"), None, &[])
        .await
        .unwrap();
    assert_eq!(status, StatusCode::NOT_FOUND);
    let rows = c
        .ok(Method::GET, "/v1/audit/entries?limit=1", None)
        .await
        .unwrap();
    assert_eq!(rows[0]["verdict"]["answered"]["decision"], "allow");
    daemon.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unanswered_ask_times_out_to_deny_and_a_process_without_a_terminal_cannot_answer() {
    let home = Home::new();
    let mut cfg = home.config();
    cfg.ask_timeout = Duration::from_secs(1);
    let daemon = start(cfg).await;
    let c = client(&home.socket());
    let (_, secret) = register(&c, "codex", "executor", &home.workspace, None).await;
    let ws = home.workspace.clone();
    let asker = tokio::spawn({
        let c = client(&home.socket());
        async move { decide(&c, &ws, PUSH, Some(&secret)).await }
    });
    let ask = pending_ask(&c).await;
    let id = ask["id"].as_str().unwrap();
    let (status, v) = c
        .call(Method::POST, &format!("/v1/asks/{id}/approve"), None, &[])
        .await
        .unwrap();
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
    let (_, v) = asker.await.unwrap();
    assert_eq!(v["decision"], "deny", "{v}");
    assert_eq!(v["answered"]["by"], "timeout");
    daemon.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_agent_cannot_approve_its_own_ask() {
    let home = Home::new();
    let mut cfg = home.config();
    cfg.approvals_need_tty = false;
    cfg.ask_timeout = Duration::from_secs(20);
    let daemon = start(cfg).await;
    let c = client(&home.socket());
    let (_, secret) = register(&c, "codex", "executor", &home.workspace, None).await;
    let ws = home.workspace.clone();
    let asker = tokio::spawn({
        let c = client(&home.socket());
        async move { decide(&c, &ws, PUSH, Some(&secret)).await }
    });
    let id = pending_ask(&c).await["id"].as_str().unwrap().to_string();
    // A process of the agent's session, even one that learnt the id.
    let child = spawn_caller(
        &home.socket(),
        0.5,
        "POST",
        &format!("/v1/asks/{id}/approve"),
        "",
    );
    register(&c, "codex", "executor", &home.workspace, Some(child.id())).await;
    let (status, v) = caller_output(child);
    assert_eq!(status, 403, "{v}");
    // Still pending; a person denies it.
    c.ok(Method::POST, &format!("/v1/asks/{id}/deny"), None)
        .await
        .unwrap();
    let (_, v) = asker.await.unwrap();
    assert_eq!(v["decision"], "deny");
    assert!(v["answered"]["by"].as_str().unwrap().starts_with("cli:"));
    daemon.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn shutdown_denies_and_records_pending_asks() {
    let home = Home::new();
    let daemon = start(home.config()).await;
    let c = client(&home.socket());
    let (_, secret) = register(&c, "codex", "executor", &home.workspace, None).await;
    let ws = home.workspace.clone();
    let asker = tokio::spawn({
        let c = client(&home.socket());
        async move { decide(&c, &ws, PUSH, Some(&secret)).await }
    });
    pending_ask(&c).await;
    daemon.shutdown().await;
    let (_, v) = asker.await.unwrap();
    assert_eq!(v["decision"], "deny", "{v}");
    assert_eq!(v["answered"]["by"], "shutdown");
    let reader = warden_audit::AuditReader::open(&home.state).unwrap();
    let mut dec = reader.decryptor().unwrap();
    let mut last = None;
    reader
        .for_each_back(u64::MAX, &mut dec, |e| {
            last = Some(e);
            false
        })
        .unwrap();
    let rec = last.unwrap();
    assert_eq!(
        rec.record().unwrap().verdict.answered.as_ref().unwrap().by,
        "shutdown"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_live_feed_streams_decisions_and_asks() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let home = Home::new();
    let daemon = start(home.config()).await;
    let mut s = tokio::net::UnixStream::connect(home.socket())
        .await
        .unwrap();
    s.write_all(b"GET /v1/events HTTP/1.1\r\nhost: warden\r\n\r\n")
        .await
        .unwrap();
    let c = client(&home.socket());
    tokio::time::sleep(Duration::from_millis(100)).await;
    decide(&c, &home.workspace, "git status", None).await;
    let mut seen = String::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !seen.contains("event: decision") {
        let n = tokio::time::timeout_at(deadline, s.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "the feed closed: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(seen.contains("text/event-stream"), "{seen}");
    assert!(seen.contains("git status"), "{seen}");
    daemon.shutdown().await;
}
