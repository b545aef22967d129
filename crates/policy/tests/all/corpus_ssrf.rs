//! SSRF corpus: real payloads must be blocked, ordinary public URLs must pass.
//!
//! Reads `shared/corpora/ssrf/{payloads,allowed}.jsonl` (labelled URLs from public
//! sources; a development sample, so nothing here names a row). A URL is blocked
//! when `parse_url` fails, its scheme is not http(s), or `classify_host` places its
//! host outside the public internet without DNS. Every payload that needs neither
//! DNS nor a redirect to decide must be blocked, and no allowed URL may be.
//!
//! Written as a module so that it can be `mod corpus_ssrf;` in `tests/all.rs`.
//! The corpus is found through `$WARDEN_CORPORA` (the `corpora` directory), else
//! by walking up from the crate's manifest directory to a `shared/corpora`.

use std::net::IpAddr;

use serde::Deserialize;
use warden_policy::net::*;

/// One labelled URL. Other fields of the corpus (`why`, `source`...) are ignored.
#[derive(Debug, Deserialize)]
struct Row {
    url: String,
    expect: String,
    #[serde(default)]
    needs_dns: bool,
    #[serde(default)]
    needs_redirect: bool,
    #[serde(default)]
    technique: Option<String>,
    #[serde(default)]
    resolved: Option<String>,
}

fn load(file: &str) -> Vec<Row> {
    super::corpus::rows(&format!("ssrf/{file}"))
}

/// Why a URL is blocked, or `None` when it passes.
fn verdict(url: &str) -> Option<String> {
    match parse_url(url) {
        Err(e) => Some(format!("error: {e}")),
        Ok(t) if !t.is_web() => Some(format!("scheme {}", t.scheme)),
        Ok(t) => classify_host(&t.host)
            .filter(|class| !class.is_public())
            .map(|class| format!("{} host {}", class, t.host)),
    }
}

/// The IPv4 address an IP host stands for (itself, or the one a v6 form embeds).
fn as_v4_text(ip: IpAddr) -> String {
    match ip {
        IpAddr::V6(v6) => embedded_ipv4(v6).map_or_else(|| v6.to_string(), |v4| v4.to_string()),
        IpAddr::V4(v4) => v4.to_string(),
    }
}

#[test]
fn ssrf_payloads_without_dns_are_blocked() {
    let rows = load("payloads.jsonl");
    assert!(!rows.is_empty());
    let (mut decidable, mut blocked, mut dns_rows, mut dns_blocked) = (0, 0, 0, 0);
    let mut missed = Vec::new();
    for row in rows.iter().filter(|r| r.expect == "block") {
        let why = verdict(&row.url);
        if row.needs_dns || row.needs_redirect {
            dns_rows += 1;
            dns_blocked += usize::from(why.is_some());
            continue;
        }
        decidable += 1;
        match why {
            Some(_) => blocked += 1,
            None => missed.push(format!(
                "{} ({})",
                row.url,
                row.technique.as_deref().unwrap_or("-")
            )),
        }
    }
    println!("ssrf: {blocked}/{decidable} non-DNS payloads blocked");
    println!(
        "ssrf: {dns_blocked}/{dns_rows} DNS- or redirect-dependent payloads blocked without DNS"
    );
    assert!(
        missed.is_empty(),
        "payloads not blocked:\n{}",
        missed.join("\n")
    );
}

#[test]
fn ssrf_allowed_urls_pass() {
    let rows = load("allowed.jsonl");
    assert!(!rows.is_empty());
    let mut wrongly_blocked = Vec::new();
    let total = rows.iter().filter(|r| r.expect == "allow").count();
    for row in rows.iter().filter(|r| r.expect == "allow") {
        if let Some(why) = verdict(&row.url) {
            wrongly_blocked.push(format!("{}: {why}", row.url));
        }
    }
    println!(
        "ssrf: {}/{total} allowed URLs pass",
        total - wrongly_blocked.len()
    );
    assert!(
        wrongly_blocked.is_empty(),
        "allowed URLs blocked:\n{}",
        wrongly_blocked.join("\n")
    );
}

/// Where a payload says which address it resolves to and we read an IP literal,
/// we must have read that address, not merely some blocked one.
#[test]
fn ssrf_ip_literals_resolve_to_the_labelled_address() {
    let mut checked = 0;
    for row in load("payloads.jsonl") {
        let (Some(resolved), Ok(target)) = (row.resolved.as_deref(), parse_url(&row.url)) else {
            continue;
        };
        let Host::Ip(ip) = target.host else { continue };
        let want: IpAddr = match resolved.parse() {
            Ok(ip) => ip,
            Err(_) => continue,
        };
        assert_eq!(as_v4_text(ip), as_v4_text(want), "{}", row.url);
        checked += 1;
    }
    println!("ssrf: {checked} IP-literal payloads read as their labelled address");
}
