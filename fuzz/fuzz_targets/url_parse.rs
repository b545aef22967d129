//! URLs and hosts come from the agent and from web content: normalisation must
//! accept or reject any text without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = warden_policy::net::parse_url(&text);
    let _ = warden_policy::net::parse_host(&text);
});
