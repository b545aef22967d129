//! The LLM API gateway at `/llm/{provider}/` on the proxy: a loopback server
//! plays the provider (the real ones are out of reach here) and speaks the
//! wire format, Server-Sent Events included.

use std::io::{Read, Write};

use crate::daemon::up;
use crate::proxy_support::{
    FIRST_EVENT, SECOND_EVENT, Upstream, connect, exchange, read_head, status,
};
use crate::support::{Env, write};

const POLICY: &str = r#"version = 1

[[rule]]
id = "no-blocked-models"
deny = ["Llm(anthropic:claude-blocked-*)"]
reason = "this model is not approved here"
"#;

const AWS_KEY: &str = "AKIAIOSFODNN7EXAMPLE";

fn gateway(extra: &[&str]) -> (Env, Upstream, crate::daemon::Up) {
    let env = Env::new();
    write(&env.user_policy(), POLICY);
    let upstream = Upstream::start();
    let anthropic = format!("anthropic=http://{}", upstream.addr);
    let openai = format!("openai=http://{}/", upstream.addr);
    let mut args = vec!["--llm-upstream", &anthropic, "--llm-upstream", &openai];
    args.extend_from_slice(extra);
    let daemon = up(&env, &args);
    (env, upstream, daemon)
}

fn post(path: &str, body: &str, extra_headers: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:7421\r\ncontent-type: application/json\r\n\
         x-api-key: sk-test-provider-key\r\n{extra_headers}content-length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

#[test]
fn a_streamed_response_arrives_unchanged_and_incrementally_and_its_tool_calls_are_audited() {
    let (env, upstream, _d) = gateway(&[]);
    let sock = env.state.join("proxy.sock");
    let body = r#"{"model":"claude-sonnet-4-5","stream":true,"tools":[{"name":"Bash"}],"messages":[{"role":"user","content":"list files"}]}"#;
    let mut c = connect(&sock);
    c.write_all(
        post(
            "/llm/anthropic/sse",
            body,
            "x-claude-code-session-id: sess-abc-123\r\nx-warden-secret: not-for-upstream\r\n",
        )
        .as_bytes(),
    )
    .unwrap();
    let head = read_head(&mut c);
    assert_eq!(status(&head), 200, "{head}");
    assert!(head.contains("text/event-stream"), "{head}");
    let mut got = Vec::new();
    let mut buf = [0u8; 512];
    while !String::from_utf8_lossy(&got).contains("\n\n") {
        let n = c.read(&mut buf).unwrap();
        assert!(n > 0, "ended early");
        got.extend_from_slice(&buf[..n]);
    }
    // The first event is here while the provider still holds the second.
    assert!(String::from_utf8_lossy(&got).contains("toolu_warden_test_01"));
    upstream.release();
    let _ = c.read_to_end(&mut got);
    let text = String::from_utf8_lossy(&got).into_owned();
    if !head.to_ascii_lowercase().contains("chunked") {
        assert_eq!(text, format!("{FIRST_EVENT}{SECOND_EVENT}"));
    }
    let seen = upstream.heads();
    assert_eq!(seen.len(), 1, "{seen:?}");
    let h = seen[0].to_ascii_lowercase();
    assert!(h.starts_with("post /sse http/1.1"), "{h}");
    assert!(h.contains(&format!("host: {}", upstream.addr)), "{h}");
    assert!(h.contains("x-api-key: sk-test-provider-key"), "{h}");
    assert!(!h.contains("x-warden-secret"), "{h}");
    assert!(seen[0].ends_with(body), "the body changed: {}", seen[0]);
    // Recorded: the request decision and, once the stream ended, the tool
    // call with its id (the id the agent's hook reports too) and the tokens.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        // Recorded as `name:id`, with the tokens the provider counted.
        let out = env.run(&["audit", "search", "Bash:toolu_warden_test_01"]);
        if out.stdout.contains("llm:response") {
            let tokens = env.run(&["audit", "search", "output_tokens"]);
            assert!(tokens.stdout.contains("llm:response"), "{}", tokens.stdout);
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not recorded: {}",
            out.stdout
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    env.run(&["audit", "search", "sess-abc-123"])
        .code(0)
        .stdout_has(&["claude-sonnet-4-5"]);
}

#[test]
fn a_secret_in_the_prompt_is_blocked_and_only_its_fingerprint_is_audited() {
    let (env, upstream, _d) = gateway(&[]);
    let sock = env.state.join("proxy.sock");
    let body = format!(
        r#"{{"model":"claude-sonnet-4-5","messages":[{{"role":"user","content":"deploy with key {AWS_KEY} please"}}]}}"#
    );
    let resp = exchange(&sock, &post("/llm/anthropic/v1/messages", &body, ""));
    assert_eq!(status(&resp), 403, "{resp}");
    let json = resp.split("\r\n\r\n").nth(1).unwrap_or_default();
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    assert_eq!(v["type"], "error", "{v}");
    assert_eq!(v["error"]["type"], "permission_error", "{v}");
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("aws-access-key-id sha256:") && msg.contains("dlp:secret-in-request"),
        "{msg}"
    );
    assert!(!msg.contains(AWS_KEY), "{msg}");
    assert!(
        upstream.heads().is_empty(),
        "the request reached the provider"
    );
    env.run(&["audit", "search", "dlp:secret-in-request"])
        .code(0)
        .stdout_has(&["deny"]);
    // The audit log holds the fingerprint, never the secret.
    let export = env.run(&["audit", "export", "--format", "jsonl"]);
    assert!(
        export.stdout.contains("aws-access-key-id sha256:"),
        "{}",
        export.stdout
    );
    assert!(
        !export.stdout.contains(AWS_KEY),
        "the secret is in the audit log"
    );
}

#[test]
fn in_redact_mode_the_provider_receives_the_request_without_the_secret() {
    let (env, upstream, _d) = gateway(&["--llm-dlp", "redact"]);
    let sock = env.state.join("proxy.sock");
    let body = format!(
        r#"{{"model":"claude-sonnet-4-5","messages":[{{"role":"user","content":"key {AWS_KEY}"}}]}}"#
    );
    let resp = exchange(&sock, &post("/llm/anthropic/v1/messages", &body, ""));
    assert_eq!(status(&resp), 200, "{resp}");
    let seen = upstream.heads();
    assert_eq!(seen.len(), 1);
    assert!(!seen[0].contains(AWS_KEY), "{}", seen[0]);
    assert!(
        seen[0].contains("[REDACTED aws-access-key-id sha256:"),
        "{}",
        seen[0]
    );
}

#[test]
fn a_secret_written_with_json_escapes_or_in_base64_is_found_as_well() {
    use base64::Engine;
    let (env, upstream, _d) = gateway(&[]);
    let sock = env.state.join("proxy.sock");
    // `\u0041KIA…` is the same key to the provider; the bytes never spell it.
    let escaped = AWS_KEY.replacen('A', "\\u0041", 1);
    let body = format!(
        r#"{{"model":"claude-sonnet-4-5","messages":[{{"role":"user","content":"key {escaped}"}}]}}"#
    );
    assert!(!body.contains(AWS_KEY));
    let resp = exchange(&sock, &post("/llm/anthropic/v1/messages", &body, ""));
    assert_eq!(status(&resp), 403, "{resp}");
    assert!(resp.contains("aws-access-key-id sha256:"), "{resp}");
    assert!(
        upstream.heads().is_empty(),
        "the request reached the provider"
    );
    // Redact mode: a base64-encoded key leaves as a marker, the JSON intact.
    let (env, upstream, _d) = gateway(&["--llm-dlp", "redact"]);
    let sock = env.state.join("proxy.sock");
    let hidden = base64::engine::general_purpose::STANDARD.encode(format!("AWS_KEY={AWS_KEY}\n"));
    let body = format!(
        r#"{{"model":"claude-sonnet-4-5","messages":[{{"role":"user","content":"env dump: {hidden}"}}]}}"#
    );
    let resp = exchange(&sock, &post("/llm/anthropic/v1/messages", &body, ""));
    assert_eq!(status(&resp), 200, "{resp}");
    let seen = upstream.heads();
    assert_eq!(seen.len(), 1);
    assert!(!seen[0].contains(&hidden), "{}", seen[0]);
    assert!(
        seen[0].contains("[REDACTED aws-access-key-id sha256:"),
        "{}",
        seen[0]
    );
    let sent = seen[0].split("\r\n\r\n").nth(1).unwrap_or_default();
    let v: serde_json::Value = serde_json::from_str(sent).unwrap_or_else(|e| panic!("{e}: {sent}"));
    assert_eq!(v["model"], "claude-sonnet-4-5", "{v}");
}

#[test]
fn the_policy_can_block_a_model_with_a_provider_shaped_403() {
    let (env, upstream, _d) = gateway(&[]);
    let sock = env.state.join("proxy.sock");
    let resp = exchange(
        &sock,
        &post(
            "/llm/anthropic/v1/messages",
            r#"{"model":"claude-blocked-9","messages":[]}"#,
            "",
        ),
    );
    assert_eq!(status(&resp), 403, "{resp}");
    assert!(
        resp.contains("this model is not approved here") && resp.contains("no-blocked-models"),
        "{resp}"
    );
    // OpenAI-compatible clients get OpenAI's error shape.
    let resp = exchange(&sock, &post("/llm/unknown/v1/chat", "{}", ""));
    assert_eq!(status(&resp), 404, "{resp}");
    assert!(
        resp.contains(r#""error":{"#) && resp.contains("no LLM provider"),
        "{resp}"
    );
    let resp = exchange(
        &sock,
        &post(
            "/llm/openai/v1/responses",
            r#"{"model":"gpt-5","input":"hi"}"#,
            "",
        ),
    );
    assert_eq!(status(&resp), 200, "{resp}");
    assert!(
        upstream
            .heads()
            .iter()
            .any(|h| h.starts_with("POST /v1/responses "))
    );
}

#[test]
fn the_gateway_answers_on_the_daemon_s_api_address_too() {
    let env = Env::new();
    write(&env.user_policy(), POLICY);
    let upstream = Upstream::start();
    let anthropic = format!("anthropic=http://{}", upstream.addr);
    let port = crate::support::free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut up = env.spawn(&[
        "up",
        "--listen",
        &listen,
        "--proxy-listen",
        "127.0.0.1:0",
        "--mode",
        "fast",
        "--llm-upstream",
        &anthropic,
    ]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let mut c = loop {
        if let Ok(c) = std::net::TcpStream::connect(&listen) {
            break c;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the daemon did not listen"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let body = r#"{"model":"claude-sonnet-4-5","messages":[]}"#;
    c.write_all(
        post("/llm/anthropic/v1/messages", body, "")
            .replace("127.0.0.1:7421", &listen)
            .as_bytes(),
    )
    .unwrap();
    let mut resp = String::new();
    let _ = c.read_to_string(&mut resp);
    let _ = up.kill();
    let _ = up.wait();
    assert_eq!(status(&resp), 200, "{resp}");
    assert!(resp.contains("hello from upstream"), "{resp}");
    assert!(
        upstream.heads()[0].starts_with("POST /v1/messages "),
        "{:?}",
        upstream.heads()
    );
}
