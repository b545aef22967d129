//! The egress proxy, through the real daemon's `proxy.sock`: every request is
//! a `net` action the governor decides; names are resolved by a pinned
//! resolver (`--proxy-resolve`) so that "a public name that resolves to
//! loopback or the metadata address" can be staged without DNS.

use std::io::{Read, Write};
use std::path::PathBuf;

use crate::daemon::up;
use crate::proxy_support::{
    FIRST_EVENT, SECOND_EVENT, Upstream, connect, echo_server, exchange, get, read_head, status,
};
use crate::support::{Env, write};

const POLICY: &str = r#"version = 1

[defaults]
autonomy = "executor"

[[rule]]
id = "upstream-named"
allow = ["Net(allowed.test)", "WebFetch(domain:allowed.test)"]
reason = "the test upstream, named literally: may be on loopback"

[[rule]]
id = "any-public-site"
allow = ["WebFetch(domain:*)", "Net(*)"]
reason = "wildcards never open non-public addresses"

[[rule]]
id = "denied-domain"
deny = ["WebFetch(domain:denied.test)", "Net(denied.test)"]
reason = "this host is not for agents"
"#;

struct Scene {
    env: Env,
    sock: PathBuf,
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
            "--proxy-resolve",
            "denied.test=127.0.0.1",
            "--proxy-resolve",
            "rebind.test=127.0.0.1",
            "--proxy-resolve",
            "metadata-alias.test=169.254.169.254",
            "--proxy-resolve",
            "mixed.test=93.184.215.14,10.0.0.7",
        ],
    );
    let sock = env.state.join("proxy.sock");
    Scene {
        env,
        sock,
        _daemon: daemon,
    }
}

#[test]
fn an_allowed_request_reaches_the_upstream_with_the_url_s_host_and_no_proxy_credentials() {
    let s = scene();
    let up = Upstream::start();
    let port = up.addr.port();
    let resp = exchange(
        &s.sock,
        &format!(
            "POST http://allowed.test:{port}/submit?x=1 HTTP/1.1\r\nHost: internal.example\r\n\
             Proxy-Authorization: Basic d2FyZGVuOm5vdC1hLXNlY3JldA==\r\nProxy-Connection: keep-alive\r\n\
             Content-Length: 5\r\nConnection: close\r\n\r\nhello"
        ),
    );
    assert_eq!(status(&resp), 200, "{resp}");
    assert!(
        resp.contains("hello from upstream, 5 bytes received"),
        "{resp}"
    );
    let heads = up.heads();
    assert_eq!(heads.len(), 1, "{heads:?}");
    let h = heads[0].to_ascii_lowercase();
    assert!(h.starts_with("post /submit?x=1 http/1.1\r\n"), "{h}");
    assert!(h.contains(&format!("host: allowed.test:{port}\r\n")), "{h}");
    assert!(
        !h.contains("internal.example") && !h.contains("proxy-"),
        "{h}"
    );
    // Recorded: the decision, from the proxy.
    s.env
        .run(&["audit", "search", "allowed.test"])
        .code(0)
        .stdout_has(&["proxy", "allow"]);
}

#[test]
fn a_denied_domain_gets_403_with_the_rule_and_reason_and_the_upstream_sees_nothing() {
    let s = scene();
    let up = Upstream::start();
    let resp = get(&s.sock, &format!("http://denied.test:{}/", up.addr.port()));
    assert_eq!(status(&resp), 403, "{resp}");
    assert!(resp.contains("x-warden-rule: denied-domain"), "{resp}");
    assert!(resp.contains("this host is not for agents"), "{resp}");
    assert!(
        resp.to_ascii_lowercase().contains("proxy-status: warden;"),
        "{resp}"
    );
    assert!(up.heads().is_empty());
}

#[test]
fn names_that_resolve_to_loopback_private_or_metadata_addresses_are_blocked() {
    let s = scene();
    let up = Upstream::start();
    for host in ["rebind.test", "metadata-alias.test", "mixed.test"] {
        let resp = get(
            &s.sock,
            &format!("http://{host}:{}/latest/meta-data/", up.addr.port()),
        );
        assert_eq!(status(&resp), 403, "{host}: {resp}");
        assert!(
            resp.contains("builtin:non-public-address"),
            "{host}: {resp}"
        );
    }
    assert!(up.heads().is_empty());
}

#[test]
fn every_ssrf_payload_of_the_corpus_is_refused_before_any_connection() {
    let s = scene();
    let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpora/ssrf/payloads.jsonl");
    let text = std::fs::read_to_string(&corpus).unwrap();
    let mut checked = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let url = v["url"].as_str().unwrap();
        if v["needs_dns"] == true && v["resolved"].is_null() {
            // Redirect services on the internet: the redirect hop is another
            // request through the proxy, judged like any other (below).
            continue;
        }
        let resp = if url.starts_with("https://") {
            let authority = url
                .trim_start_matches("https://")
                .split('/')
                .next()
                .unwrap();
            let authority = if authority.contains(':') && !authority.ends_with(']') {
                authority.to_string()
            } else {
                format!("{authority}:443")
            };
            let mut c = connect(&s.sock);
            let _ = c.write_all(format!("CONNECT {authority} HTTP/1.1\r\n\r\n").as_bytes());
            read_head(&mut c)
        } else if url.contains("://") {
            get(&s.sock, url)
        } else {
            get(&s.sock, &format!("http://{url}/"))
        };
        let code = status(&resp);
        assert!(
            code == 403 || code == 400 || (code == 502 && resp.contains("dns_error")),
            "{url}: {resp}"
        );
        checked += 1;
    }
    assert!(checked >= 30, "only {checked} payloads checked");
}

#[test]
fn a_redirect_from_an_allowed_host_to_an_internal_one_is_a_new_request_and_is_blocked() {
    // The proxy does not follow redirects: the client's next hop comes back
    // through it and is judged on its own.
    let s = scene();
    let resp = get(&s.sock, "http://169.254.169.254/latest/meta-data/iam/");
    assert_eq!(status(&resp), 403, "{resp}");
    assert!(resp.contains("builtin:non-public-address"), "{resp}");
}

#[test]
fn connect_tunnels_relay_bytes_and_a_denied_tls_server_name_closes_the_tunnel() {
    let s = scene();
    let (echo, got) = echo_server();
    let port = echo.port();
    // Allowed: bytes go both ways unchanged.
    let mut c = connect(&s.sock);
    c.write_all(
        format!("CONNECT allowed.test:{port} HTTP/1.1\r\nHost: allowed.test:{port}\r\n\r\n")
            .as_bytes(),
    )
    .unwrap();
    let head = read_head(&mut c);
    assert_eq!(crate::proxy_support::status(&head), 200, "{head}");
    c.write_all(b"ping through the tunnel").unwrap();
    let mut back = [0u8; 23];
    c.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"ping through the tunnel");
    // Denied by name: 403 before any connection.
    let mut d = connect(&s.sock);
    d.write_all(format!("CONNECT denied.test:{port} HTTP/1.1\r\n\r\n").as_bytes())
        .unwrap();
    assert_eq!(status(&read_head(&mut d)), 403);
    // Fronting: CONNECT names the allowed host, the ClientHello the denied one.
    let before = *got.lock().unwrap();
    let mut f = connect(&s.sock);
    f.write_all(format!("CONNECT allowed.test:{port} HTTP/1.1\r\n\r\n").as_bytes())
        .unwrap();
    assert_eq!(status(&read_head(&mut f)), 200);
    f.write_all(&warden_proxy::sni::minimal_client_hello("denied.test"))
        .unwrap();
    let mut rest = Vec::new();
    let _ = f.read_to_end(&mut rest);
    assert!(rest.is_empty(), "the tunnel answered: {rest:?}");
    assert_eq!(
        *got.lock().unwrap(),
        before,
        "the ClientHello reached the server"
    );
    s.env
        .run(&["audit", "search", "denied.test"])
        .code(0)
        .stdout_has(&["deny"]);
}

/// A server that speaks first (a banner, as SSH and SMTP do), then answers
/// what it read once the client has finished sending (half-close).
fn banner_server() -> std::net::SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { return };
            std::thread::spawn(move || {
                let _ = s.write_all(b"220 banner before any byte from the client\r\n");
                let mut got = Vec::new();
                let _ = s.read_to_end(&mut got);
                let _ = s.write_all(format!("read {} bytes", got.len()).as_bytes());
            });
        }
    });
    addr
}

#[test]
fn a_tunnel_relays_a_server_that_speaks_first_and_keeps_answering_after_the_client_s_half_close() {
    let s = scene();
    let port = banner_server().port();
    let mut c = connect(&s.sock);
    c.write_all(format!("CONNECT allowed.test:{port} HTTP/1.1\r\n\r\n").as_bytes())
        .unwrap();
    assert_eq!(status(&read_head(&mut c)), 200);
    // The banner arrives while the client has sent nothing.
    let mut banner = [0u8; 44];
    c.read_exact(&mut banner).unwrap();
    assert_eq!(
        &banner[..],
        b"220 banner before any byte from the client\r\n"
    );
    c.write_all(b"five!").unwrap();
    c.shutdown(std::net::Shutdown::Write).unwrap();
    let mut rest = String::new();
    c.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "read 5 bytes");
    // A client that closes before sending anything still gets the server's
    // last words.
    let mut quiet = connect(&s.sock);
    quiet
        .write_all(format!("CONNECT allowed.test:{port} HTTP/1.1\r\n\r\n").as_bytes())
        .unwrap();
    assert_eq!(status(&read_head(&mut quiet)), 200);
    quiet.shutdown(std::net::Shutdown::Write).unwrap();
    let mut all = String::new();
    quiet.read_to_string(&mut all).unwrap();
    assert_eq!(
        all,
        "220 banner before any byte from the client\r\nread 0 bytes"
    );
}

#[test]
fn socks5_connects_where_the_policy_allows_and_answers_not_allowed_otherwise() {
    let s = scene();
    let (echo, _) = echo_server();
    let socks = |host: &str| {
        let mut c = connect(&s.sock);
        c.write_all(&[5, 1, 0]).unwrap();
        let mut m = [0u8; 2];
        c.read_exact(&mut m).unwrap();
        assert_eq!(m, [5, 0]);
        let mut req = vec![5, 1, 0, 3, host.len() as u8];
        req.extend_from_slice(host.as_bytes());
        req.extend_from_slice(&echo.port().to_be_bytes());
        c.write_all(&req).unwrap();
        let mut reply = [0u8; 10];
        c.read_exact(&mut reply).unwrap();
        (c, reply[1])
    };
    let (mut c, code) = socks("allowed.test");
    assert_eq!(code, 0);
    c.write_all(b"socks").unwrap();
    let mut back = [0u8; 5];
    c.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"socks");
    assert_eq!(
        socks("denied.test").1,
        2,
        "connection not allowed by ruleset"
    );
    assert_eq!(socks("rebind.test").1, 2);
}

#[test]
fn server_sent_events_arrive_byte_identical_and_before_the_upstream_finishes() {
    let s = scene();
    let up = Upstream::start();
    let mut c = connect(&s.sock);
    c.write_all(
        format!(
            "GET http://allowed.test:{}/sse HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            up.addr.port()
        )
        .as_bytes(),
    )
    .unwrap();
    let head = read_head(&mut c);
    assert_eq!(status(&head), 200, "{head}");
    let mut body = Vec::new();
    let mut buf = [0u8; 256];
    // The upstream holds its second event until the first has arrived here.
    while !String::from_utf8_lossy(&body).contains("\n\n") {
        let n = c.read(&mut buf).unwrap();
        assert!(n > 0, "the stream ended early");
        body.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&body).into_owned();
    assert!(text.contains(FIRST_EVENT.trim_end()), "{text:?}");
    up.release();
    let _ = c.read_to_end(&mut body);
    let text = String::from_utf8_lossy(&body).into_owned();
    let expect = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        None
    } else {
        Some(format!("{FIRST_EVENT}{SECOND_EVENT}"))
    };
    match expect {
        Some(e) => assert_eq!(text, e),
        None => assert!(
            text.contains(FIRST_EVENT) && text.contains(SECOND_EVENT),
            "{text:?}"
        ),
    }
}

#[test]
fn malformed_requests_get_a_clear_4xx_and_the_proxy_keeps_serving() {
    let s = scene();
    let up = Upstream::start();
    let cases: Vec<(String, u16)> = vec![
        ("GARBAGE\r\n\r\n".into(), 400),
        (
            "GET /relative HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".into(),
            400,
        ),
        (
            "GET https://allowed.test/ HTTP/1.1\r\nConnection: close\r\n\r\n".into(),
            400,
        ),
        (
            "GET gopher://allowed.test/ HTTP/1.1\r\nConnection: close\r\n\r\n".into(),
            400,
        ),
        ("CONNECT allowed.test HTTP/1.1\r\n\r\n".into(), 400),
        (
            format!(
                "GET http://allowed.test:{}/ HTTP/1.1\r\n{}Connection: close\r\n\r\n",
                up.addr.port(),
                "X-Flood: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n"
                    .repeat(2000)
            ),
            431,
        ),
    ];
    for (req, want) in &cases {
        let resp = exchange(&s.sock, req);
        let got = status(&resp);
        assert!(
            got == *want || (*want == 431 && got == 0),
            "{:?}: want {want}, got {resp:?}",
            &req[..req.len().min(60)]
        );
    }
    let resp = get(&s.sock, &format!("http://allowed.test:{}/", up.addr.port()));
    assert_eq!(status(&resp), 200, "{resp}");
}

#[test]
fn an_unknown_name_is_a_502_naming_it() {
    let s = scene();
    let resp = get(&s.sock, "http://no-such-host.invalid-tld-for-warden/");
    // Either refused by the policy (special-use name) or unresolvable.
    assert!(matches!(status(&resp), 403 | 502), "{resp}");
    assert!(
        resp.contains("no-such-host.invalid-tld-for-warden"),
        "{resp}"
    );
}

#[test]
fn a_slow_client_is_cut_off_and_a_flooding_agent_is_slowed_with_429() {
    let env = Env::new();
    write(&env.user_policy(), POLICY);
    let up_srv = Upstream::start();
    let _d = up(
        &env,
        &[
            "--proxy-resolve",
            "allowed.test=127.0.0.1",
            "--proxy-rate",
            "5",
        ],
    );
    let sock = env.state.join("proxy.sock");
    // Half a request head, then silence: closed after the header timeout,
    // while others are served meanwhile.
    let mut slow = connect(&sock);
    slow.write_all(b"GET http://allowed.test/ HTTP/1.1\r\nHost: a")
        .unwrap();
    let url = format!("http://allowed.test:{}/", up_srv.addr.port());
    assert_eq!(status(&get(&sock, &url)), 200);
    let started = std::time::Instant::now();
    let mut rest = Vec::new();
    let _ = slow.read_to_end(&mut rest);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(15),
        "not cut off"
    );
    // Past the burst (2 × 5 requests), the next ones are refused with 429.
    let codes: Vec<u16> = (0..20).map(|_| status(&get(&sock, &url))).collect();
    assert!(codes.contains(&429), "{codes:?}");
    let resp = get(&sock, &url);
    if status(&resp) == 429 {
        assert!(
            resp.to_ascii_lowercase().contains("retry-after: 1"),
            "{resp}"
        );
    }
}

#[test]
fn an_ask_holds_the_request_open_until_a_person_approves_it() {
    use base64::Engine;
    let env = Env::new();
    write(
        &env.user_policy(),
        &format!(
            "{POLICY}\n[[rule]]\nid = \"ask-first\"\nask = [\"Net(ask.test)\", \"WebFetch(domain:ask.test)\"]\nreason = \"a person decides\"\n"
        ),
    );
    let upstream = Upstream::start();
    let _d = up(&env, &["--proxy-resolve", "ask.test=127.0.0.1"]);
    // The agent's session secret, as HTTPS_PROXY=http://warden:SECRET@... sends it.
    let secret = crate::daemon::register(&env);
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("warden:{secret}"));
    let sock = env.state.join("proxy.sock");
    let url = format!("http://ask.test:{}/after-approval", upstream.addr.port());
    let waiting = std::thread::spawn(move || {
        exchange(
            &sock,
            &format!(
                "GET {url} HTTP/1.1\r\nHost: x\r\nProxy-Authorization: Basic {auth}\r\nConnection: close\r\n\r\n"
            ),
        )
    });
    let id = crate::daemon::wait_for_ask(&env);
    assert!(upstream.heads().is_empty(), "sent before the answer");
    env.run_in_pty(&["approve", &id]).code(0);
    let resp = waiting.join().unwrap();
    assert_eq!(status(&resp), 200, "{resp}");
    let heads = upstream.heads();
    assert!(
        heads.len() == 1 && heads[0].starts_with("GET /after-approval "),
        "{heads:?}"
    );
}

#[test]
fn a_loopback_tcp_client_without_credentials_is_known_by_the_process_holding_its_socket() {
    let env = Env::new();
    write(&env.user_policy(), POLICY);
    let proxy_port = crate::support::free_port();
    let listen = format!("127.0.0.1:{proxy_port}");
    let _d = up(
        &env,
        &[
            "--proxy-listen",
            &listen,
            "--proxy-resolve",
            "allowed.test=127.0.0.1",
        ],
    );
    let upstream = Upstream::start();
    // Two clients on plain TCP, neither presenting a secret: one is a
    // registered session's process, the other is in no session.
    let (out, err) = crate::daemon::python_api(
        &env,
        &format!(
            r#"
import subprocess
CLIENT = '''
import socket, sys
sys.stdin.readline()
s = socket.create_connection(("127.0.0.1", {proxy_port}))
s.sendall(b"GET http://allowed.test:{up}/" + sys.argv[1].encode() + b" HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n")
print(s.recv(200).split(b"\\r\\n")[0].decode())
'''
def client(path):
    return subprocess.Popen([sys.executable, "-c", CLIENT, path], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
inside = client("from-the-session")
print("session", req("POST", "/v1/sessions", {{"agent": "tcp-agent", "pid": inside.pid}})[0])
outside = client("from-outside")
for p in (inside, outside):
    print(p.communicate("go\n")[0].strip())
"#,
            up = upstream.addr.port()
        ),
    );
    assert!(out.contains("session 201"), "{out}{err}");
    assert_eq!(out.matches("HTTP/1.1 200").count(), 2, "{out}{err}");
    let entries = crate::agents::audit_entries(&env);
    let agent_of = |path: &str| {
        entries
            .iter()
            .find(|e| e["action"]["origin"] == "proxy" && e.to_string().contains(path))
            .map(|e| e["action"]["agent"]["name"].clone())
            .unwrap_or_else(|| panic!("no proxy entry for {path}: {entries:?}"))
    };
    assert_eq!(agent_of("from-the-session"), "tcp-agent");
    assert_ne!(agent_of("from-outside"), "tcp-agent");
}
