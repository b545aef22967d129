//! Who a caller is comes from the kernel (its process tree) or from a secret the
//! daemon issued, never from what it says.

use hyper::{Method, StatusCode};
use serde_json::json;

use crate::support::{
    Home, caller_output, client, decide, decide_action, register, spawn_caller, start,
};

#[tokio::test(flavor = "multi_thread")]
async fn a_registered_secret_brings_the_session_s_identity_and_autonomy() {
    let home = Home::new();
    let daemon = start(home.config()).await;
    let c = client(&home.socket());
    let (session, secret) = register(&c, "claude-code", "executor", &home.workspace, None).await;
    let write =
        json!({ "cwd": home.workspace, "kind": { "file_write": { "path": "src/new.rs" } } });
    let v = decide_action(&c, &write, Some(&secret)).await;
    assert_eq!(v["decision"], "allow", "a workspace write at executor: {v}");
    let v = decide_action(&c, &write, Some("wrong-secret")).await;
    assert_eq!(
        v["decision"], "deny",
        "an unknown caller is at autonomy 0: {v}"
    );
    let rows = c
        .ok(Method::GET, "/v1/audit/entries?limit=2", None)
        .await
        .unwrap();
    assert_eq!(rows[1]["action"]["session"], session.as_str());
    assert_eq!(rows[1]["action"]["agent"]["name"], "claude-code");
    assert_eq!(rows[0]["action"]["agent"]["id"], "unknown");
    daemon.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_process_in_a_session_s_tree_is_that_session_and_never_trusted() {
    let home = Home::new();
    let daemon = start(home.config()).await;
    let c = client(&home.socket());
    let body =
        json!({ "cwd": home.workspace, "kind": { "shell": { "command": "touch src/x.rs" } } })
            .to_string();
    let child = spawn_caller(&home.socket(), 0.5, "POST", "/v1/decide", &body);
    register(&c, "codex", "executor", &home.workspace, Some(child.id())).await;
    let (status, v) = caller_output(child);
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        v["decision"], "allow",
        "identified by its process tree: {v}"
    );

    // The same kind of process may not list asks, register sessions or stop
    // the daemon: it is an agent.
    for (method, path, body) in [
        ("GET", "/v1/asks", String::new()),
        (
            "POST",
            "/v1/sessions",
            json!({"agent": "evil", "autonomy": "autonomous"}).to_string(),
        ),
        ("POST", "/v1/shutdown", String::new()),
    ] {
        let child = spawn_caller(&home.socket(), 0.5, method, path, &body);
        register(&c, "codex", "executor", &home.workspace, Some(child.id())).await;
        let (status, v) = caller_output(child);
        assert_eq!(status, 403, "{method} {path}: {v}");
    }
    let status = c.ok(Method::GET, "/v1/status", None).await.unwrap();
    assert!(status["pid"].is_u64(), "the daemon is still up");
    daemon.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn paused_sessions_are_denied_and_only_a_person_resumes_them() {
    let home = Home::new();
    let mut cfg = home.config();
    cfg.approvals_need_tty = true;
    let daemon = start(cfg).await;
    let c = client(&home.socket());
    let (session, secret) = register(&c, "codex", "delegated", &home.workspace, None).await;
    c.ok(Method::POST, &format!("/v1/sessions/{session}/pause"), None)
        .await
        .unwrap();
    let (_, v) = decide(&c, &home.workspace, "ls", Some(&secret)).await;
    assert_eq!(v["decision"], "deny", "{v}");
    assert_eq!(v["rules"][0], "builtin:session-paused");
    // This test process holds no terminal: trusted, but not a person.
    let (status, _) = c
        .call(
            Method::POST,
            &format!("/v1/sessions/{session}/resume"),
            None,
            &[],
        )
        .await
        .unwrap();
    assert_eq!(status, StatusCode::FORBIDDEN);
    c.ok(Method::POST, &format!("/v1/sessions/{session}/stop"), None)
        .await
        .unwrap();
    daemon.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_cannot_be_rooted_at_a_process_that_is_not_running() {
    let home = Home::new();
    let daemon = start(home.config()).await;
    let c = client(&home.socket());
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    gone.wait().unwrap();
    let body = json!({ "agent": "codex", "workspace": home.workspace, "pid": gone.id() });
    let err = c
        .ok(Method::POST, "/v1/sessions", Some(&body))
        .await
        .expect_err("a session rooted at no process");
    assert!(
        err.to_string()
            .contains(&format!("no process {}", gone.id())),
        "{err}"
    );
    daemon.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_caller_cannot_claim_it_runs_rewrites() {
    let home = Home::new();
    std::fs::create_dir_all(home.policy.parent().unwrap()).unwrap();
    std::fs::write(
        &home.policy,
        "version = 1\n[defaults]\nautonomy = \"executor\"\n[[rule]]\nid = \"lease\"\nallow = [\"Bash(git push --force:*)\"]\nrewrite = \"git push --force-with-lease\"\n",
    )
    .unwrap();
    let daemon = start(home.config()).await;
    let c = client(&home.socket());
    let (_, secret) = register(&c, "codex", "executor", &home.workspace, None).await;
    let push = json!({ "cwd": home.workspace, "kind": { "shell": { "command": "git push --force" } },
        "context": { "extra": { "takes_rewrites": "yes" } } });
    let v = decide_action(&c, &push, Some(&secret)).await;
    assert_eq!(v["decision"], "deny", "{v}");
    assert!(v["rewrite"].is_null(), "{v}");
    daemon.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn only_a_session_s_own_secret_reports_its_violations() {
    let home = Home::new();
    let daemon = start(home.config()).await;
    let c = client(&home.socket());
    let (a, secret_a) = register(&c, "shell", "executor", &home.workspace, None).await;
    let (_b, secret_b) = register(&c, "shell", "executor", &home.workspace, None).await;
    let report = json!({ "kind": "seccomp", "detail": "ptrace", "pid": 7 });
    let path = format!("/v1/sessions/{a}/violations");
    let with = |s: &str| [(warden_daemon::api::SECRET_HEADER, s.to_string())];
    for secret in [secret_b.as_str(), "wrong"] {
        let h = with(secret);
        let hs: Vec<(&str, &str)> = h.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (status, _) = c
            .call(Method::POST, &path, Some(&report), &hs)
            .await
            .unwrap();
        assert_eq!(status, StatusCode::FORBIDDEN, "{secret}");
    }
    let h = with(&secret_a);
    let hs: Vec<(&str, &str)> = h.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let bad = json!({ "kind": "rumour", "detail": "x" });
    let (status, v) = c.call(Method::POST, &path, Some(&bad), &hs).await.unwrap();
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    let (status, _) = c
        .call(Method::POST, &path, Some(&report), &hs)
        .await
        .unwrap();
    assert_eq!(status, StatusCode::ACCEPTED);
    let status = c.ok(Method::GET, "/v1/status", None).await.unwrap();
    assert!(
        status
            .to_string()
            .contains("the sandbox refused seccomp ptrace by process 7"),
        "{status}"
    );
    daemon.shutdown().await;
}
