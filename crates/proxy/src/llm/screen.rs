//! What the gateway does about the secrets in an LLM request body: send it
//! as it came, send it redacted (`--llm-dlp redact`), or refuse it.
//!
//! Fail closed: a redacted body is sent only when a full scan of the body as
//! it will be sent (as text, as JSON, across strings) finds nothing more. A
//! secret split across strings cannot be redacted in place, so a body holding
//! one is refused in either mode.

use bytes::Bytes;
use serde_json::Value;

use super::DlpMode;
use crate::dlp::{self, Finding};

/// The outcome for one body.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Screened {
    /// No secret: send it as it came.
    Clean,
    /// Send this body instead, with these secrets replaced.
    Redacted(Bytes, Vec<Finding>),
    /// Refuse the request: it holds these secrets.
    Refused(Vec<Finding>),
}

/// Screens `bytes`; `parsed` is the body as JSON (`Null` when it is not),
/// and is redacted in place in redact mode.
pub(crate) fn screen(bytes: &Bytes, parsed: &mut Value, mode: DlpMode) -> Screened {
    let raw = dlp::scan(&String::from_utf8_lossy(bytes));
    let new = |found: Vec<Finding>, known: &[Finding]| -> Vec<Finding> {
        found
            .into_iter()
            .filter(|h| !known.iter().any(|f| f.fingerprint == h.fingerprint))
            .collect()
    };
    // Before the walk below redacts the strings.
    let split = new(dlp::scan_json_split(parsed), &raw);
    // Secrets only the decoded JSON shows (escaped, encoded in a string).
    let hidden = new(dlp::scan_json(parsed, mode == DlpMode::Redact), &raw);
    let (any_hidden, any_split) = (!hidden.is_empty(), !split.is_empty());
    let mut findings = raw.clone();
    findings.extend(new(hidden, &findings));
    findings.extend(new(split, &findings));
    if findings.is_empty() {
        return Screened::Clean;
    }
    if mode == DlpMode::Deny || any_split {
        return Screened::Refused(findings);
    }
    let body = if !any_hidden {
        // Only the raw scan's findings: they are redacted where they are.
        match std::str::from_utf8(bytes) {
            Ok(t) => dlp::redact(t, &raw),
            Err(_) => return Screened::Refused(findings),
        }
    } else {
        // The decoded strings were redacted in place; what the raw scan saw
        // across the structure is redacted in the text it serialises to.
        match serde_json::to_string(parsed) {
            Ok(t) => {
                let again = dlp::scan(&t);
                dlp::redact(&t, &again)
            }
            Err(_) => return Screened::Refused(findings),
        }
    };
    if holds_a_secret(&body) {
        return Screened::Refused(findings);
    }
    Screened::Redacted(Bytes::from(body), findings)
}

/// Whether a full scan of `body` finds anything: as text, and when it is
/// JSON, as decoded strings and across them.
fn holds_a_secret(body: &str) -> bool {
    if !dlp::scan(body).is_empty() {
        return true;
    }
    match serde_json::from_str::<Value>(body) {
        Ok(mut v) => {
            !dlp::scan_json_split(&v).is_empty() || !dlp::scan_json(&mut v, false).is_empty()
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const KEY: &str = "AKIAIOSFODNN7EXAMPLE";

    fn run(v: &Value, mode: DlpMode) -> Screened {
        let bytes = Bytes::from(v.to_string());
        let mut parsed: Value = serde_json::from_slice(&bytes).unwrap();
        screen(&bytes, &mut parsed, mode)
    }

    fn kinds(found: &[Finding]) -> Vec<&'static str> {
        found.iter().map(|f| f.kind).collect()
    }

    #[test]
    fn a_clean_body_is_sent_as_it_came() {
        let v = json!({"messages": [{"role": "user", "content": "fix the build"}]});
        assert_eq!(run(&v, DlpMode::Deny), Screened::Clean);
        assert_eq!(run(&v, DlpMode::Redact), Screened::Clean);
    }

    #[test]
    fn a_key_split_across_content_blocks_is_refused_even_in_redact_mode() {
        let (a, b) = KEY.split_at(8);
        let v = json!({"messages": [{"role": "user", "content": [
            {"type": "text", "text": format!("the key is {a}")},
            {"type": "text", "text": format!("{b} and the region is eu-west-1")},
        ]}]});
        for mode in [DlpMode::Deny, DlpMode::Redact] {
            match run(&v, mode) {
                Screened::Refused(f) => assert_eq!(kinds(&f), ["aws-access-key-id"]),
                other => panic!("{other:?}"),
            }
        }
        // The same halves far apart in unrelated fields are two harmless strings.
        let apart = json!({"model": a, "metadata": {"user_id": b}});
        assert_eq!(run(&apart, DlpMode::Deny), Screened::Clean);
    }

    #[test]
    fn a_key_encoded_twice_is_found() {
        use base64::Engine;
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let percent: String = KEY.bytes().map(|b| format!("%{b:02X}")).collect();
        for hidden in [b64(&b64(KEY)), b64(&percent), percent.clone()] {
            let v = json!({"messages": [{"role": "user", "content": format!("here: {hidden}")}]});
            match run(&v, DlpMode::Deny) {
                Screened::Refused(f) => assert_eq!(kinds(&f), ["aws-access-key-id"], "{hidden}"),
                other => panic!("{hidden}: {other:?}"),
            }
            // Redacted, the key is gone in every encoding.
            match run(&v, DlpMode::Redact) {
                Screened::Redacted(body, f) => {
                    assert_eq!(kinds(&f), ["aws-access-key-id"]);
                    let t = String::from_utf8_lossy(&body);
                    assert!(
                        !t.contains(&hidden) && t.contains("[REDACTED aws-access-key-id"),
                        "{t}"
                    );
                }
                other => panic!("{hidden}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_redacted_body_is_sent_only_when_nothing_is_left() {
        let v = json!({"messages": [{"role": "user", "content": format!("key {KEY}")}]});
        match run(&v, DlpMode::Redact) {
            Screened::Redacted(body, _) => {
                assert!(!holds_a_secret(&String::from_utf8_lossy(&body)));
                assert!(!String::from_utf8_lossy(&body).contains(KEY));
            }
            other => panic!("{other:?}"),
        }
        assert!(holds_a_secret(&format!("{{\"a\":\"{KEY}\"}}")));
    }
}
