//! Network from inside `warden run`: the sandbox's only way out is the egress
//! proxy bridged onto its own loopback; every other path (direct TCP to the
//! host, UDP, DNS, curl told to skip the proxy) fails.

use std::path::Path;

use crate::daemon::up;
use crate::proxy_support::Upstream;
use crate::support::{Env, write};

const POLICY: &str = r#"version = 1

[defaults]
autonomy = "delegated"

[[rule]]
id = "upstream"
allow = ["Net(upstream.warden-test.net)", "WebFetch(domain:upstream.warden-test.net)"]
reason = "the test's upstream, on the host's loopback"

[[rule]]
id = "denied-site"
deny = ["WebFetch(domain:denied.warden-test.net)", "Net(denied.warden-test.net)"]
reason = "not for agents"
"#;

#[test]
fn from_inside_the_sandbox_only_the_proxy_path_reaches_the_network() {
    let env = Env::new_in(Path::new(env!("CARGO_TARGET_TMPDIR")));
    write(&env.user_policy(), POLICY);
    let upstream = Upstream::start();
    let port = upstream.addr.port();
    let _daemon = up(
        &env,
        &[
            "--proxy-resolve",
            "upstream.warden-test.net=127.0.0.1",
            "--proxy-resolve",
            "denied.warden-test.net=127.0.0.1",
        ],
    );
    let script = format!(
        r#"say() {{ echo "$1 rc=$2"; }}
echo "proxy=$HTTP_PROXY"
curl -sS -m 10 http://upstream.warden-test.net:{port}/via-proxy; say proxied $?
curl -sS -m 10 --noproxy '*' http://upstream.warden-test.net:{port}/direct; say noproxy $?
env -u HTTP_PROXY -u http_proxy curl -sS -m 10 http://upstream.warden-test.net:{port}/via-socks; say socks $?
env -u HTTP_PROXY -u http_proxy -u ALL_PROXY -u all_proxy curl -sS -m 10 http://upstream.warden-test.net:{port}/unset; say unset $?
curl -sS -m 10 -o /dev/null -w '%{{http_code}}' http://denied.warden-test.net:{port}/; say denied $?
(exec 3<>/dev/tcp/127.0.0.1/{port}) 2>/dev/null; say raw-loopback $?
(exec 3<>/dev/tcp/1.1.1.1/80) 2>/dev/null; say raw-tcp $?
(exec 3<>/dev/udp/8.8.8.8/53 && echo q >&3) 2>/dev/null; say udp $?
getent hosts example.org >/dev/null; say dns $?
"#
    );
    write(&env.ws.join("net.sh"), &script);
    let out = env.run(&["run", "--timeout", "60s", "--", "bash", "net.sh"]);
    let o = &out.stdout;
    let line = |name: &str| -> String {
        o.lines()
            .find(|l| l.contains(&format!("{name} rc=")))
            .unwrap_or_else(|| panic!("no {name} line in:\n{o}\nstderr:\n{}", out.stderr))
            .to_string()
    };
    assert!(o.contains("proxy=http://127.0.0.1:"), "{o}");
    assert!(o.contains("hello from upstream"), "{o}\n{}", out.stderr);
    assert!(line("proxied").ends_with("rc=0"), "{o}");
    // ALL_PROXY alone: SOCKS5 to the same bridge, judged the same way.
    assert!(line("socks").ends_with("rc=0"), "{o}");
    assert!(line("denied").starts_with("403"), "{o}");
    for path in ["noproxy", "unset", "raw-loopback", "raw-tcp", "udp", "dns"] {
        assert!(!line(path).ends_with("rc=0"), "{path} got out:\n{o}");
    }
    // Only the proxied requests arrived.
    let heads = upstream.heads();
    assert_eq!(heads.len(), 2, "{heads:?}");
    assert!(heads[0].starts_with("GET /via-proxy "), "{heads:?}");
    assert!(heads[1].starts_with("GET /via-socks "), "{heads:?}");
    // Decided for the sandbox's session and recorded, allow and deny.
    let audit = env.run(&["audit", "search", "warden-test.net"]);
    audit.code(0).stdout_has(&["proxy", "allow", "deny"]);
}
