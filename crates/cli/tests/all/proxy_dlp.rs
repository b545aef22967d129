//! Secrets in plain-HTTP requests through the real daemon's proxy socket: in
//! a body (sent whole or in chunks, the secret cut across them), in a query
//! string, in a host name. None of the secret reaches the upstream; the
//! refusal is audited with the secret's fingerprint, never the secret; a
//! clean body arrives whole. An upstream that answers before the body is
//! read gets its answer to the client only after the scan.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::Duration;

use crate::daemon::up;
use crate::proxy_support::{Upstream, connect, status};
use crate::support::{Env, write};

const POLICY: &str = r#"version = 1

[defaults]
autonomy = "delegated"

[[rule]]
id = "upstream-named"
allow = ["Net(allowed.test)", "WebFetch(domain:allowed.test)", "Net(*.allowed.test)"]
reason = "the test upstream, named literally: may be on loopback"
"#;

/// An AWS key id (AWS's documentation example): no real credential.
const KEY: &str = "AKIAIOSFODNN7EXAMPLE";

struct Scene {
    env: Env,
    sock: PathBuf,
    upstream: Upstream,
    _daemon: crate::daemon::Up,
}

fn scene() -> Scene {
    let env = Env::new();
    write(&env.user_policy(), POLICY);
    let daemon = up(
        &env,
        &[
            "--proxy-resolve",
            "allowed.test=127.0.0.1",
            "--proxy-rate",
            "0",
        ],
    );
    let sock = env.state.join("proxy.sock");
    Scene {
        env,
        sock,
        upstream: Upstream::start(),
        _daemon: daemon,
    }
}

impl Scene {
    fn url(&self, path: &str) -> String {
        format!("http://allowed.test:{}{path}", self.upstream.addr.port())
    }

    /// Sends `head` then `body` (the proxy may stop reading and answer
    /// early, so a failed write is not an error), and reads the answer.
    fn send(&self, head: &str, body: &[u8]) -> String {
        self.send_after(head, body, Duration::ZERO)
    }

    /// [`Scene::send`], the body sent only once the upstream has the head
    /// (and `pause` more, for its answer to reach the proxy).
    fn send_after(&self, head: &str, body: &[u8], pause: Duration) -> String {
        let mut s = connect(&self.sock);
        let _ = s.write_all(head.as_bytes());
        if !pause.is_zero() {
            let heard = self.upstream.heads().len();
            for _ in 0..200 {
                if self.upstream.heads().len() > heard {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            std::thread::sleep(pause);
        }
        let _ = s.write_all(body);
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    fn post(&self, body: &[u8]) -> String {
        let head = format!(
            "POST {} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            self.url("/upload"),
            body.len()
        );
        self.send(&head, body)
    }

    /// The upstream never saw the key, and the audit holds the refusal with
    /// the key's fingerprint only.
    fn assert_refused_and_audited(&self, resp: &str) {
        assert_eq!(status(resp), 403, "{resp}");
        assert!(
            resp.contains("aws-access-key-id sha256:") && resp.contains("dlp:secret-in-request"),
            "{resp}"
        );
        assert!(!resp.contains(KEY), "{resp}");
        for seen in self.upstream.heads() {
            assert!(!seen.contains("AKIA"), "the upstream saw the secret");
        }
        self.env
            .run(&["audit", "search", "dlp:secret-in-request"])
            .code(0)
            .stdout_has(&["deny"]);
        let export = self.env.run(&["audit", "export", "--format", "jsonl"]);
        assert!(
            export.stdout.contains("aws-access-key-id sha256:"),
            "{}",
            export.stdout
        );
        assert!(
            !export.stdout.contains(KEY),
            "the secret is in the audit log"
        );
    }
}

#[test]
fn a_clean_body_of_a_mebibyte_arrives_whole() {
    let s = scene();
    let body: Vec<u8> = (0..1 << 20).map(|i| b"lorem ipsum\n"[i % 12]).collect();
    let resp = s.post(&body);
    assert_eq!(status(&resp), 200, "{resp}");
    assert!(
        resp.contains(&format!("{} bytes received", 1 << 20)),
        "{resp}"
    );
}

#[test]
fn a_secret_deep_in_a_body_never_reaches_the_upstream() {
    let s = scene();
    let mut body = vec![b'a'; 150_000];
    body.extend_from_slice(format!("\naws_access_key_id = {KEY}\n").as_bytes());
    body.extend(vec![b'b'; 50_000]);
    let resp = s.post(&body);
    s.assert_refused_and_audited(&resp);
}

#[test]
fn a_secret_cut_across_chunks_of_a_streamed_body_is_still_found() {
    let s = scene();
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        s.url("/stream")
    );
    let (a, b) = KEY.split_at(9);
    let mut body = String::new();
    for part in ["key=", a, b, "\n", "more"] {
        body.push_str(&format!("{:x}\r\n{part}\r\n", part.len()));
    }
    body.push_str("0\r\n\r\n");
    // The test upstream reads no chunked body: it answers as soon as it has
    // the head. The body is sent only after that: the answer must still not
    // reach the client before the scan has seen the body.
    let resp = s.send_after(&head, body.as_bytes(), Duration::from_millis(200));
    s.assert_refused_and_audited(&resp);
}

#[test]
fn a_secret_in_a_query_string_or_a_host_name_is_refused_before_anything_is_sent() {
    let s = scene();
    let encoded: String = KEY.bytes().map(|b| format!("%{b:02X}")).collect();
    let get = format!(
        "GET {} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        s.url(&format!("/search?q={encoded}"))
    );
    s.assert_refused_and_audited(&s.send(&get, b""));
    assert!(s.upstream.heads().is_empty(), "{:?}", s.upstream.heads());
    // A DNS label carries it out as well (the name is not even looked up),
    // in whatever case: names are case-blind.
    for label in [KEY.to_string(), KEY.to_ascii_lowercase()] {
        let connect = format!("CONNECT {label}.allowed.test:443 HTTP/1.1\r\nHost: x\r\n\r\n");
        s.assert_refused_and_audited(&s.send(&connect, b""));
    }
}
