//! Per-agent egress limits from the policy (`[agents.NAME]`
//! `requests_per_second`, `max_body_mib`), through the real daemon's proxy
//! socket: the limited agent is slowed and its large bodies refused, while
//! another caller, under the daemon's own (here: no) rate, is not.

use crate::daemon::{register_as, up};
use crate::proxy_support::{Upstream, exchange, status};
use crate::support::{Env, write};

const POLICY: &str = r#"version = 1

[defaults]
autonomy = "executor"

[agents.limited]
requests_per_second = 2
max_body_mib = 1

[[rule]]
id = "upstream-named"
allow = ["Net(allowed.test)", "WebFetch(domain:allowed.test)"]
reason = "the test upstream, named literally: may be on loopback"
"#;

fn request(method: &str, url: &str, secret: Option<&str>, extra: &str, body: &str) -> String {
    let auth = secret
        .map(|s| format!("x-warden-secret: {s}\r\n"))
        .unwrap_or_default();
    format!(
        "{method} {url} HTTP/1.1\r\nHost: ignored.example\r\n{auth}{extra}Connection: close\r\n\r\n{body}"
    )
}

#[test]
fn an_agents_policy_limits_its_request_rate_and_body_size_and_no_one_elses() {
    let env = Env::new();
    write(&env.user_policy(), POLICY);
    let upstream = Upstream::start();
    let _d = up(
        &env,
        &[
            "--proxy-resolve",
            "allowed.test=127.0.0.1",
            "--proxy-rate",
            "0",
        ],
    );
    let limited = register_as(&env, "limited");
    let sock = env.state.join("proxy.sock");
    let url = format!("http://allowed.test:{}/", upstream.addr.port());

    // Past its burst (2 × 2), the limited agent gets 429 naming its rate.
    let answers: Vec<String> = (0..12)
        .map(|_| exchange(&sock, &request("GET", &url, Some(&limited), "", "")))
        .collect();
    let codes: Vec<u16> = answers.iter().map(|a| status(a)).collect();
    assert!(codes.iter().take(4).all(|c| *c == 200), "{codes:?}");
    let refused = answers
        .iter()
        .find(|a| status(a) == 429)
        .unwrap_or_else(|| panic!("never slowed: {codes:?}"));
    assert!(
        refused.contains("more than 2 requests per second"),
        "{refused}"
    );
    // A caller with no session is under the daemon's rate, which is off.
    let others: Vec<u16> = (0..12)
        .map(|_| status(&exchange(&sock, &request("GET", &url, None, "", ""))))
        .collect();
    assert!(others.iter().all(|c| *c == 200), "{others:?}");

    // Bodies: over the agent's 1 MiB refused before anything is sent on;
    // one of unknown length refused as unmeasurable; a small one passes.
    std::thread::sleep(std::time::Duration::from_millis(2_100));
    let big = exchange(
        &sock,
        &request(
            "POST",
            &url,
            Some(&limited),
            &format!("Content-Length: {}\r\n", (1 << 20) + 1),
            "",
        ),
    );
    assert_eq!(status(&big), 413, "{big}");
    assert!(big.contains("limit of 1048576 bytes"), "{big}");
    let chunked = exchange(
        &sock,
        &request(
            "POST",
            &url,
            Some(&limited),
            "Transfer-Encoding: chunked\r\n",
            "5\r\nhello\r\n0\r\n\r\n",
        ),
    );
    assert_eq!(status(&chunked), 411, "{chunked}");
    let small = exchange(
        &sock,
        &request(
            "POST",
            &url,
            Some(&limited),
            "Content-Length: 5\r\n",
            "hello",
        ),
    );
    assert_eq!(status(&small), 200, "{small}");
    // Others' bodies are not limited by that agent's policy.
    let other_big = exchange(
        &sock,
        &request(
            "POST",
            &url,
            None,
            "Transfer-Encoding: chunked\r\n",
            "5\r\nhello\r\n0\r\n\r\n",
        ),
    );
    assert_eq!(status(&other_big), 200, "{other_big}");
}
