//! Secrets in what an agent sends out (data-loss prevention): LLM request
//! bodies, and the URLs and bodies of plain-HTTP requests through the proxy.
//!
//! A prompt is assembled from files the agent read and commands it ran: a
//! `.env`, a key file or a token printed by a CLI end up in the request body
//! and leave the machine; a prompt-injected command posts them anywhere. The scanner looks for the shapes of common secrets
//! (private keys, cloud and API tokens of the major providers, `.env`-style
//! assignments of secret-named variables, long high-entropy strings next to
//! key words). A finding is reported as its kind and a fingerprint (SHA-256
//! of the secret, first 12 hex digits): the audit log never holds the secret.
//!
//! The body is scanned as sent and, when it is JSON, as it means: every
//! string decoded (so `\u0041KIA…` is `AKIA…`), and every long base64 run in
//! a string decoded once more (a secret piped through `base64` on its way
//! into the conversation).

use std::sync::LazyLock;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use regex::{Regex, RegexSet};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// One secret found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// What it looks like, e.g. `aws-access-key-id`.
    pub kind: &'static str,
    /// `sha256:` and the first 12 hex digits of the secret's SHA-256.
    pub fingerprint: String,
    /// Where the secret is in the scanned text (byte range).
    pub range: std::ops::Range<usize>,
}

struct Pattern {
    kind: &'static str,
    re: Regex,
    /// The capture group that is the secret (0: the whole match).
    group: usize,
    /// Needs high entropy (generic patterns only).
    entropy: bool,
}

static PATTERNS: LazyLock<Vec<Pattern>> = LazyLock::new(|| {
    let p = |kind, re: &str, group, entropy| Pattern {
        kind,
        re: Regex::new(re).unwrap_or_else(|e| panic!("DLP pattern {kind}: {e}")),
        group,
        entropy,
    };
    vec![
        p(
            "private-key",
            r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?-----(?:\\n|\n|[A-Za-z0-9+/=\s\\:,-]){16,8192}?-----END [A-Z ]*PRIVATE KEY(?: BLOCK)?-----",
            0,
            false,
        ),
        p(
            "aws-access-key-id",
            r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
            0,
            false,
        ),
        p(
            "aws-secret-access-key",
            r#"(?i)aws_?secret_?access_?key\W{0,6}([A-Za-z0-9/+=]{40})\b"#,
            1,
            false,
        ),
        p(
            "github-token",
            r"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{60,255})\b",
            0,
            false,
        ),
        p("gitlab-token", r"\bglpat-[A-Za-z0-9_-]{20,}\b", 0, false),
        p("slack-token", r"\bxox[abprs]-[A-Za-z0-9-]{10,}\b", 0, false),
        p(
            "anthropic-api-key",
            r"\bsk-ant-[A-Za-z0-9_-]{20,}\b",
            0,
            false,
        ),
        p(
            "openai-api-key",
            r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}T3BlbkFJ[A-Za-z0-9_-]{20,}\b|\bsk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{40,}\b",
            0,
            false,
        ),
        p("google-api-key", r"\bAIza[0-9A-Za-z_-]{35}\b", 0, false),
        p(
            "stripe-secret-key",
            r"\b[sr]k_live_[0-9A-Za-z]{20,}\b",
            0,
            false,
        ),
        p("npm-token", r"\bnpm_[A-Za-z0-9]{36}\b", 0, false),
        p("huggingface-token", r"\bhf_[A-Za-z0-9]{34,}\b", 0, false),
        p(
            "jwt",
            r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\b",
            0,
            false,
        ),
        // `.env` style: NAME=value where the name says it is a secret.
        p(
            "env-assignment",
            r#"(?m)(?:^|\\n|\s|export\s)[A-Z][A-Z0-9_]*(?:SECRET|TOKEN|PASSWORD|PASSWD|API_KEY|APIKEY|PRIVATE_KEY|ACCESS_KEY|CREDENTIALS?)[A-Z0-9_]*\s*=\s*["']?([^\s"'\\]{8,})"#,
            1,
            true,
        ),
        // A long random-looking string right after a key word.
        p(
            "high-entropy-near-keyword",
            r#"(?i)(?:secret|token|password|passwd|api[_-]?key|auth|credential)[a-z_-]{0,20}\W{1,6}([A-Za-z0-9+/_=-]{24,})"#,
            1,
            true,
        ),
    ]
});

/// Bits per character of `s` (Shannon entropy of its characters).
fn entropy(s: &str) -> f64 {
    let mut counts = [0u32; 256];
    let bytes = s.as_bytes();
    for &b in bytes {
        counts[b as usize] += 1;
    }
    let n = bytes.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

/// The patterns but the first (a private key block, found by its literal
/// header instead: its long bounded repetition would swell the automaton) in
/// one automaton: most text holds no secret, and one pass says so (every
/// proxied URL and every LLM body is scanned).
static ANY_PATTERN: LazyLock<RegexSet> = LazyLock::new(|| {
    RegexSet::new(PATTERNS.iter().skip(1).map(|p| p.re.as_str()))
        .unwrap_or_else(|e| panic!("DLP pattern set: {e}"))
});

/// Whether `text` may hold a secret: nothing below is found without this.
fn may_hold_a_secret(text: &str) -> bool {
    text.contains("PRIVATE KEY") || ANY_PATTERN.is_match(text)
}

/// Every secret in `text`, in order; overlapping findings are reported once
/// (the first, most specific pattern wins).
pub fn scan(text: &str) -> Vec<Finding> {
    if !may_hold_a_secret(text) {
        return Vec::new();
    }
    scan_each_pattern(text)
}

fn scan_each_pattern(text: &str) -> Vec<Finding> {
    let mut out: Vec<Finding> = Vec::new();
    for p in PATTERNS.iter() {
        for c in p.re.captures_iter(text) {
            let Some(m) = c.get(p.group) else { continue };
            let secret = m.as_str();
            if p.entropy && (entropy(secret) < 3.5 || !secret.chars().any(|c| c.is_ascii_digit())) {
                continue;
            }
            if out
                .iter()
                .any(|f| f.range.start < m.end() && m.start() < f.range.end)
            {
                continue;
            }
            out.push(Finding {
                kind: p.kind,
                fingerprint: fingerprint(secret),
                range: m.range(),
            });
        }
    }
    out.sort_by_key(|f| f.range.start);
    out
}

/// A run long enough to hide the shortest secret above (an AWS key id, 20
/// characters, is 27 in base64 before its padding), in either base64
/// alphabet.
static BASE64_RUN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[A-Za-z0-9+/_-]{27,}={0,2}").unwrap_or_else(|e| panic!("DLP base64 pattern: {e}"))
});

/// The text a base64 run stands for, if it is base64 of UTF-8 text.
fn decode_base64_text(run: &str) -> Option<String> {
    [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|e| e.decode(run).ok())
        .and_then(|bytes| String::from_utf8(bytes).ok())
}

/// The first secret `text` holds: as it reads, percent-decoded, or (while
/// `depth` lasts) inside one of its base64 runs, so that a secret encoded
/// twice is found too.
fn first_hidden(text: &str, depth: u8) -> Option<Finding> {
    if let Some(f) = scan(text).into_iter().next() {
        return Some(f);
    }
    if let Some(f) = percent_decoded(text).and_then(|d| scan(&d).into_iter().next()) {
        return Some(f);
    }
    if depth == 0 {
        return None;
    }
    BASE64_RUN
        .find_iter(text)
        .filter_map(|r| decode_base64_text(r.as_str()))
        .find_map(|inner| first_hidden(&inner, depth - 1))
}

/// Secrets in one decoded string: those it shows, then those its base64 runs
/// hide (reported with the kind and fingerprint of the hidden secret and the
/// range of the whole run). Sorted, ranges never overlapping.
fn scan_decoded(text: &str) -> Vec<Finding> {
    let mut out = scan(text);
    for run in BASE64_RUN.find_iter(text) {
        if out
            .iter()
            .any(|f| f.range.start < run.end() && run.start() < f.range.end)
        {
            continue;
        }
        let Some(inner) = decode_base64_text(run.as_str()) else {
            continue;
        };
        if let Some(hidden) = first_hidden(&inner, 1) {
            out.push(Finding {
                kind: hidden.kind,
                fingerprint: hidden.fingerprint,
                range: run.range(),
            });
        }
    }
    if out.is_empty()
        && let Some(f) = percent_decoded(text).and_then(|d| scan(&d).into_iter().next())
    {
        // Its range in `text` is not the decoded one: the whole string is it.
        out.push(Finding {
            range: 0..text.len(),
            ..f
        });
    }
    out.sort_by_key(|f| f.range.start);
    out
}

/// Secrets split across the strings of a JSON body, which no string shows
/// alone: a key cut into two content blocks, or into a tool result and the
/// next message. The strings under each key name (`text`, `content`...,
/// array items under their array's key) are joined in document order and
/// scanned as one; a finding that spans a join is reported. Redaction cannot
/// reach it: the caller refuses such a body.
pub fn scan_json_split(body: &Value) -> Vec<Finding> {
    fn collect<'a>(v: &'a Value, key: &'a str, groups: &mut Vec<(&'a str, Vec<&'a str>)>) {
        match v {
            Value::String(s) => match groups.iter_mut().find(|(k, _)| *k == key) {
                Some((_, parts)) => parts.push(s),
                None => groups.push((key, vec![s])),
            },
            Value::Array(items) => items.iter().for_each(|i| collect(i, key, groups)),
            Value::Object(m) => m.iter().for_each(|(k, v)| collect(v, k, groups)),
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }
    let mut groups = Vec::new();
    collect(body, "", &mut groups);
    let mut out: Vec<Finding> = Vec::new();
    for (_, parts) in groups.iter().filter(|(_, p)| p.len() > 1) {
        let mut joined = String::new();
        let mut joins = Vec::with_capacity(parts.len());
        for p in parts {
            joins.push(joined.len());
            joined.push_str(p);
        }
        for f in scan_decoded(&joined) {
            let spans_a_join = joins.iter().any(|&j| f.range.start < j && j < f.range.end);
            if spans_a_join && !out.iter().any(|o| o.fingerprint == f.fingerprint) {
                out.push(f);
            }
        }
    }
    out
}

/// Scans every string of a JSON body (keys and values) as decoded, and the
/// base64 runs in them; with `redact`, each string is rewritten with its
/// secrets replaced as [`redact`] does. Ranges in the findings refer to the
/// decoded strings: only their kinds and fingerprints mean something to the
/// caller.
pub fn scan_json(body: &mut Value, redact_them: bool) -> Vec<Finding> {
    let mut found = Vec::new();
    walk(body, redact_them, &mut found);
    found
}

fn scan_string(s: &mut String, redact_them: bool, found: &mut Vec<Finding>) {
    let here = scan_decoded(s);
    if here.is_empty() {
        return;
    }
    if redact_them {
        *s = redact(s, &here);
    }
    found.extend(here);
}

fn walk(v: &mut Value, redact_them: bool, found: &mut Vec<Finding>) {
    match v {
        Value::String(s) => scan_string(s, redact_them, found),
        Value::Array(items) => items.iter_mut().for_each(|i| walk(i, redact_them, found)),
        // Keys cannot be changed in place: the map is rebuilt only to redact.
        Value::Object(map) if redact_them => {
            for (mut key, mut value) in std::mem::take(map) {
                scan_string(&mut key, true, found);
                walk(&mut value, true, found);
                map.insert(key, value);
            }
        }
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                found.extend(scan_decoded(key));
                walk(value, false, found);
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// The rule a secret in a request is refused under.
pub const RULE: &str = "dlp:secret-in-request";

/// The findings as the audit and the refusal list them: kind and
/// fingerprint, never the secret.
pub fn listed(findings: &[Finding]) -> String {
    findings
        .iter()
        .map(|f| format!("{} {}", f.kind, f.fingerprint))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `sha256:` and the first 12 hex digits of the secret's hash.
pub fn fingerprint(secret: &str) -> String {
    let d = Sha256::digest(secret.as_bytes());
    let hex: String = d.iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// `text` with every finding replaced by `[REDACTED kind fingerprint]`.
pub fn redact(text: &str, findings: &[Finding]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for f in findings {
        out.push_str(&text[at..f.range.start]);
        out.push_str(&format!("[REDACTED {} {}]", f.kind, f.fingerprint));
        at = f.range.end;
    }
    out.push_str(&text[at..]);
    out
}

/// The secrets in a request's URL or host name (as sent, and
/// percent-decoded), with the text as the audit may hold it: each secret
/// replaced by its kind and fingerprint. `None` when there is none.
pub fn scan_target(text: &str) -> Option<(Vec<Finding>, String)> {
    let found = scan(text);
    if !found.is_empty() {
        return Some((found.clone(), redact(text, &found)));
    }
    let decoded = percent_decoded(text)?;
    let found = scan(&decoded);
    (!found.is_empty()).then(|| (found.clone(), redact(&decoded, &found)))
}

/// `text` with its `%XX` escapes decoded (invalid UTF-8 replaced), when it
/// has any.
fn percent_decoded(text: &str) -> Option<String> {
    if !text.contains('%') {
        return None;
    }
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (
            b[i],
            b.get(i + 1).and_then(|c| hex(*c)),
            b.get(i + 2).and_then(|c| hex(*c)),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn kinds(text: &str) -> Vec<&'static str> {
        scan(text).into_iter().map(|f| f.kind).collect()
    }

    #[test]
    fn secrets_in_a_url_are_found_as_sent_and_percent_decoded() {
        let key = "AKIAIOSFODNN7EXAMPLE";
        let (f, audited) = scan_target(&format!("http://h.test/?k={key}")).unwrap();
        assert_eq!(f[0].kind, "aws-access-key-id");
        assert!(!audited.contains(key) && audited.contains("[REDACTED aws-access-key-id sha256:"));
        let encoded: String = key.bytes().map(|b| format!("%{b:02X}")).collect();
        let (f, audited) = scan_target(&format!("http://h.test/?k={encoded}")).unwrap();
        assert_eq!(f[0].kind, "aws-access-key-id");
        assert!(!audited.contains(key), "{audited}");
        // In a host name, as a DNS label.
        assert!(scan_target(&format!("{key}.exfil.test")).is_some());
        assert!(scan_target("http://h.test/search?q=rust%20async").is_none());
        assert!(scan_target("http://h.test/%zz%4").is_none());
    }

    proptest! {
        /// The one-pass check never hides what the patterns one by one find.
        #[test]
        fn the_prefilter_hides_no_finding(
            parts in proptest::collection::vec(prop_oneof![
                Just("AKIAIOSFODNN7EXAMPLE"), Just("ghp_"), Just("x"), Just(" "), Just("\n"),
                Just("-----BEGIN RSA PRIVATE KEY-----"), Just("-----END RSA PRIVATE KEY-----"),
                Just("MIIEowIBAAKCAQEA0Z3VS5JJcds3xfn"), Just("password: "), Just("SECRET_TOKEN="),
                Just("sk-ant-"), Just("abcdefghijklmnopqrstuvwxyz0123456789"), Just("é"),
            ], 0..24),
        ) {
            // The set leaves out the first pattern: the private key block.
            prop_assert_eq!(PATTERNS[0].kind, "private-key");
            let text = parts.concat();
            prop_assert_eq!(scan(&text), scan_each_pattern(&text));
        }

        /// Percent-encoded anywhere in a URL, a key id is found, and the URL
        /// as audited no longer holds it.
        #[test]
        fn a_percent_encoded_key_is_found_wherever_it_sits(
            before in "[a-z0-9/?=&.]{0,40}",
            after in "[a-z0-9/?=&.]{0,40}",
        ) {
            let key = "AKIAIOSFODNN7EXAMPLE";
            let encoded: String = key.bytes().map(|b| format!("%{b:02x}")).collect();
            let (found, audited) = scan_target(&format!("http://h.test/{before}&{encoded}&{after}")).unwrap();
            prop_assert_eq!(found[0].kind, "aws-access-key-id");
            prop_assert!(!audited.contains(key));
        }
    }

    #[test]
    fn finds_the_common_secret_shapes() {
        let key = "-----BEGIN OPENSSH PRIVATE KEY-----\\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\\n-----END OPENSSH PRIVATE KEY-----";
        assert_eq!(
            kinds(&format!("{{\"content\":\"{key}\"}}")),
            vec!["private-key"]
        );
        assert_eq!(
            kinds("id AKIAIOSFODNN7EXAMPLE here"),
            vec!["aws-access-key-id"]
        );
        assert_eq!(
            kinds("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
            vec!["aws-secret-access-key"]
        );
        assert_eq!(
            kinds("ghp_abcdefghijklmnopqrstuvwxyz0123456789"),
            vec!["github-token"]
        );
        assert_eq!(kinds("xoxb-1234567890-abcdefghij"), vec!["slack-token"]);
        assert_eq!(
            kinds("sk-ant-api03-abcdefghijklmnopqrstuvwx"),
            vec!["anthropic-api-key"]
        );
        assert_eq!(
            kinds("AIzaSyA1234567890abcdefghijklmnopqrstuv"),
            vec!["google-api-key"]
        );
        assert_eq!(
            kinds("sk_live_51H8abcdefghijklmnopqrstu"),
            vec!["stripe-secret-key"]
        );
        assert_eq!(
            kinds("line\\nDATABASE_PASSWORD=Zq8v2LmT9xR4\\nother"),
            vec!["env-assignment"]
        );
        assert_eq!(
            kinds("the api_key: 9f8e7d6c5b4a39281706f5e4d3c2b1a0ffee"),
            vec!["high-entropy-near-keyword"]
        );
    }

    #[test]
    fn ordinary_text_and_code_are_not_secrets() {
        for t in [
            "fn main() { println!(\"hello\"); }",
            "PASSWORD_MIN_LENGTH=8",
            "the token is not here: token_count = tokens.len()",
            "use the api_key parameter documented in README",
            "commit 3f2a9c1 fixed the secret-scanning docs",
        ] {
            assert!(scan(t).is_empty(), "{t}: {:?}", scan(t));
        }
    }

    #[test]
    fn redaction_keeps_the_rest_and_never_the_secret() {
        let t = "key AKIAIOSFODNN7EXAMPLE end";
        let f = scan(t);
        let r = redact(t, &f);
        assert!(!r.contains("AKIAIOSFODNN7EXAMPLE"));
        assert!(r.starts_with("key [REDACTED aws-access-key-id sha256:") && r.ends_with("] end"));
    }

    #[test]
    fn secrets_spelled_with_json_escapes_or_in_base64_are_found_in_the_decoded_body() {
        let key = "AKIAIOSFODNN7EXAMPLE";
        // `\u0041KIA…`: invisible to a scan of the bytes as sent.
        let escaped = r#"{"messages":[{"content":"key \u0041KIAIOSFODNN7EXAMPLE end"}]}"#;
        assert!(scan(escaped).is_empty());
        let mut v: Value = serde_json::from_str(escaped).unwrap();
        let found = scan_json(&mut v, true);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].kind, "aws-access-key-id");
        assert_eq!(found[0].fingerprint, fingerprint(key));
        let content = v["messages"][0]["content"].as_str().unwrap();
        assert!(
            content.starts_with("key [REDACTED aws-access-key-id sha256:"),
            "{content}"
        );
        assert!(content.ends_with("] end"), "{content}");
        // The bare key in base64 is the shortest run that can hide one.
        let mut v = serde_json::json!({ "content": STANDARD.encode(key) });
        assert_eq!(scan_json(&mut v, false).len(), 1, "{v}");
        // A secret piped through base64, in either alphabet, with or without padding.
        for engine in [STANDARD, URL_SAFE_NO_PAD] {
            let hidden = engine.encode(format!("export AWS_KEY={key}\n"));
            let mut map = serde_json::Map::new();
            map.insert("content".into(), format!("out: {hidden}").into());
            map.insert(hidden.clone(), 1.into());
            let mut v = Value::Object(map);
            let found = scan_json(&mut v, true);
            assert_eq!(found.len(), 2, "{found:?}");
            assert!(found.iter().all(|f| f.fingerprint == fingerprint(key)));
            let text = v.to_string();
            assert!(!text.contains(&hidden), "{text}");
            assert_eq!(
                text.matches("[REDACTED aws-access-key-id").count(),
                2,
                "{text}"
            );
        }
    }

    #[test]
    fn long_base64_and_hex_that_hide_no_secret_are_left_alone() {
        let mut v = serde_json::json!({
            "image": STANDARD.encode([0u8, 159, 146, 150, 255, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21]),
            "note": STANDARD.encode("an ordinary sentence that is not a secret at all"),
            "commit": "3f2a9c1d4e5b6a7980f1e2d3c4b5a69788796a5b",
        });
        let before = v.clone();
        assert!(scan_json(&mut v, true).is_empty());
        assert_eq!(v, before);
    }

    proptest! {
        #[test]
        fn decoded_scans_never_panic_and_redaction_removes_what_they_find(s in ".{0,200}", pad in "[A-Za-z0-9+/]{0,40}") {
            let mut map = serde_json::Map::new();
            map.insert(s.clone(), serde_json::json!([s.clone(), pad.clone(), format!("{pad}{s}")]));
            let mut v = Value::Object(map);
            let found = scan_json(&mut v, false);
            let mut redacted = v.clone();
            let again = scan_json(&mut redacted, true);
            prop_assert_eq!(found.len(), again.len());
            let mut after = redacted.clone();
            for f in scan_json(&mut after, false) {
                prop_assert!(f.kind == "high-entropy-near-keyword" || f.kind == "env-assignment", "{:?} left after redaction", f);
            }
        }

        #[test]
        fn scanning_never_panics_and_ranges_are_in_bounds(s in ".{0,300}") {
            for f in scan(&s) {
                prop_assert!(f.range.end <= s.len());
                prop_assert!(s.is_char_boundary(f.range.start) && s.is_char_boundary(f.range.end));
            }
        }
    }
}
