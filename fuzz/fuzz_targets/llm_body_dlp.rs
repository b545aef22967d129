//! LLM request bodies come from the agent: the secret scan reads them as
//! sent and as decoded JSON (escapes, base64 runs). Any body must scan without
//! panicking, and a body redacted as JSON must still be JSON.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warden_proxy::llm::dlp;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let raw = dlp::scan(&text);
    let _ = dlp::redact(&text, &raw);
    if let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(data) {
        dlp::scan_json(&mut v, true);
        let once = v.to_string();
        assert!(serde_json::from_str::<serde_json::Value>(&once).is_ok());
    }
});
