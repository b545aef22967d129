//! LLM request bodies and plain-HTTP URLs come from the agent: the secret
//! scan reads them as sent, as decoded JSON (escapes, base64 runs) and as
//! percent-decoded. Any input must scan without panicking, a body redacted as
//! JSON must still be JSON, and a URL with a finding is audited changed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warden_proxy::dlp;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let raw = dlp::scan(&text);
    let _ = dlp::redact(&text, &raw);
    if let Some((found, audited)) = dlp::scan_target(&text) {
        assert!(!found.is_empty() && audited != text);
    }
    if let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(data) {
        dlp::scan_json(&mut v, true);
        let once = v.to_string();
        assert!(serde_json::from_str::<serde_json::Value>(&once).is_ok());
    }
});
