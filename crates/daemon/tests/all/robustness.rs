//! Bad input, hostile clients, load, and policy edits: clear errors, and the
//! daemon keeps serving.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use hyper::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{Home, client, decide, start};

async fn raw(socket: &std::path::Path, request: &[u8]) -> String {
    let mut s = tokio::net::UnixStream::connect(socket).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_and_oversized_requests_get_clear_errors() {
    let home = Home::new();
    let daemon = start(home.config()).await;
    let c = client(&home.socket());
    for (body, what) in [
        ("{not json", "not an Action"),
        (
            r#"{"kind":{"shell":{"command":"ls"}},"admin":true}"#,
            "unknown field",
        ),
        (r#"{"v":2,"kind":{"shell":{"command":"ls"}}}"#, "version 2"),
    ] {
        let req = format!(
            "POST /v1/decide HTTP/1.1\r\nhost: warden\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        let out = raw(&home.socket(), req.as_bytes()).await;
        assert!(out.starts_with("HTTP/1.1 400"), "{out}");
        assert!(
            out.contains("\"decision\":\"deny\"") && out.contains(what),
            "{what}: {out}"
        );
    }
    let big = vec![b'x'; (1 << 20) + 10];
    let mut req = format!(
        "POST /v1/decide HTTP/1.1\r\nhost: warden\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        big.len()
    )
    .into_bytes();
    req.extend_from_slice(&big);
    let out = raw(&home.socket(), &req).await;
    assert!(
        out.starts_with("HTTP/1.1 413"),
        "{}",
        &out[..out.len().min(200)]
    );
    let (status, v) = c
        .call(Method::GET, "/v1/no-such-thing", None, &[])
        .await
        .unwrap();
    assert_eq!(status, StatusCode::NOT_FOUND, "{v}");
    let (status, _) = decide(&c, &home.workspace, "ls", None).await;
    assert_eq!(status, StatusCode::OK, "still serving");
    daemon.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slowloris_client_is_cut_off_and_others_are_served_meanwhile() {
    let home = Home::new();
    let mut cfg = home.config();
    cfg.header_timeout = Duration::from_millis(500);
    let daemon = start(cfg).await;
    let mut slow = tokio::net::UnixStream::connect(home.socket())
        .await
        .unwrap();
    slow.write_all(b"GET /v1/status HTTP/1.1\r\nhost: warden\r\n")
        .await
        .unwrap();
    let c = client(&home.socket());
    let (status, _) = decide(&c, &home.workspace, "ls", None).await;
    assert_eq!(status, StatusCode::OK);
    let started = Instant::now();
    let mut buf = Vec::new();
    let n = tokio::time::timeout(Duration::from_secs(10), slow.read_to_end(&mut buf)).await;
    assert!(n.is_ok(), "the slow client was never cut off");
    assert!(started.elapsed() < Duration::from_secs(5));
    let text = String::from_utf8_lossy(&buf);
    assert!(
        text.is_empty() || text.starts_with("HTTP/1.1 408"),
        "{text}"
    );
    daemon.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn fifty_concurrent_clients_each_get_a_recorded_verdict() {
    let home = Home::new();
    let daemon = start(home.config()).await;
    let mut tasks = Vec::new();
    for i in 0..50 {
        let socket = home.socket();
        let ws = home.workspace.clone();
        tasks.push(tokio::spawn(async move {
            let c = client(&socket);
            let mut seqs = Vec::new();
            for j in 0..20 {
                let (status, v) = decide(&c, &ws, &format!("echo client {i} call {j}"), None).await;
                assert_eq!(status, StatusCode::OK, "{v}");
                seqs.push(v["audit"]["seq"].as_u64().unwrap());
            }
            seqs
        }));
    }
    let mut all = HashSet::new();
    for t in tasks {
        for s in t.await.unwrap() {
            assert!(all.insert(s), "seq {s} handed out twice");
        }
    }
    assert_eq!(all.len(), 1000);
    let c = client(&home.socket());
    let report = c.ok(Method::POST, "/v1/audit/verify", None).await.unwrap();
    assert_eq!(report["entries"], 1000);
    assert_eq!(report["problems"], json!([]));
    daemon.shutdown().await;
}

async fn decision_of(c: &warden_daemon::client::Client, home: &Home, command: &str) -> Value {
    decide(c, &home.workspace, command, None).await.1
}

#[tokio::test(flavor = "multi_thread")]
async fn policy_edits_apply_within_seconds_and_a_broken_edit_keeps_the_old_policy() {
    let home = Home::new();
    let daemon = start(home.config()).await;
    let c = client(&home.socket());
    assert_eq!(
        decision_of(&c, &home, "git status").await["decision"],
        "allow"
    );
    let mut text = std::fs::read_to_string(&home.policy).unwrap();
    text.push_str(
        "\n[[rule]]\nid = \"no-git-status\"\ndeny = [\"Bash(git status:*)\"]\nreason = \"test\"\n",
    );
    std::fs::write(&home.policy, &text).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let v = decision_of(&c, &home, "git status").await;
        if v["decision"] == "deny" {
            assert_eq!(v["rules"][0], "no-git-status");
            break;
        }
        assert!(Instant::now() < deadline, "the edit was not picked up: {v}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    std::fs::write(&home.policy, "this is [not toml").unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let v = decision_of(&c, &home, "git status").await;
    assert_eq!(
        v["rules"][0], "no-git-status",
        "the previous policy stays in force: {v}"
    );
    let status = c.ok(Method::GET, "/v1/status", None).await.unwrap();
    let alerts = status["alerts"].to_string();
    assert!(alerts.contains("does not load"), "{alerts}");
    daemon.shutdown().await;
}
