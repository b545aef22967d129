//! `warden check --fetch`: SSRF defence. Every spelling of a loopback, private,
//! link-local or cloud-metadata address must reach `builtin:non-public-address`
//! (server-side request forgery against 169.254.169.254 is how cloud credentials
//! were taken in the 2019 Capital One breach).

use crate::support::{Env, assert_verdict, check_json, decision, reason};

fn assert_non_public(env: &Env, url: &str) {
    let v = check_json(env, &["--fetch", url]);
    assert_verdict(&v, "deny", "builtin:non-public-address");
    assert!(reason(&v).contains("address"), "{url}: {v}");
}

#[test]
fn cloud_metadata_url_is_denied() {
    assert_non_public(&Env::new(), "http://169.254.169.254/latest/meta-data/");
}

#[test]
fn hex_short_form_loopback_is_denied() {
    assert_non_public(&Env::new(), "http://0x7f.1/");
}

#[test]
fn ipv4_mapped_ipv6_loopback_is_denied() {
    assert_non_public(&Env::new(), "http://[::ffff:127.0.0.1]/");
}

#[test]
fn decimal_integer_loopback_is_denied() {
    assert_non_public(&Env::new(), "http://2130706433/");
}

#[test]
fn other_non_public_spellings_are_denied() {
    let env = Env::new();
    for url in [
        "http://localhost/",
        "http://LOCALHOST./",
        "http://127.1/",
        "http://0177.0.0.1/",
        "http://0x7f000001/",
        "http://[::1]/",
        "http://[::ffff:7f00:1]/",
        "http://[0:0:0:0:0:ffff:169.254.169.254]/",
        "http://0/",
        "http://10.0.0.1/",
        "http://192.168.1.1:8080/admin",
        "http://[fd00::1]/",
        "http://[fe80::1%25eth0]/",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://169.254.169.254.:80/",
        "http://user:pw@127.0.0.1/",
        "http://example.com@127.0.0.1/",
        "http://%31%32%37.0.0.1/",
    ] {
        assert_non_public(&env, url);
    }
}

#[test]
fn public_https_url_is_not_denied_at_default_autonomy() {
    let env = Env::new();
    let v = check_json(&env, &["--fetch", "https://example.com/"]);
    assert_ne!(decision(&v), "deny", "{v}");
}

#[test]
fn wildcard_allow_rule_does_not_open_non_public_addresses() {
    // Only a rule that names the host literally may open it; `domain:*` must not.
    let env = Env::new();
    let user = crate::support::write(
        &env.home.join("wild.toml"),
        r#"version = 1

[[rule]]
id = "web-all"
allow = ["WebFetch(domain:*)", "Net(*:*)"]
"#,
    );
    let policy = user.to_str().unwrap();
    for url in [
        "http://169.254.169.254/latest/meta-data/",
        "http://2130706433/",
    ] {
        let v = check_json(&env, &["--policy", policy, "--fetch", url]);
        assert_verdict(&v, "deny", "builtin:non-public-address");
    }
    let v = check_json(
        &env,
        &["--policy", policy, "--fetch", "https://example.com/"],
    );
    assert_verdict(&v, "allow", "web-all");
}

#[test]
fn non_http_schemes_are_denied() {
    let env = Env::new();
    for url in [
        "file:///etc/passwd",
        "gopher://127.0.0.1:6379/_x",
        "not a url",
    ] {
        let v = check_json(&env, &["--fetch", url]);
        assert_verdict(&v, "deny", "builtin:bad-destination");
    }
}

#[test]
fn post_to_public_host_asks_at_executor() {
    let env = Env::new();
    let v = check_json(
        &env,
        &["--fetch", "https://example.com/upload", "--method", "POST"],
    );
    assert_verdict(&v, "ask", "default:autonomy");
}
