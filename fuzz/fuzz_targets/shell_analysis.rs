//! Shell command lines come straight from the agent: analysis must classify any
//! text (or report it unparseable) without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = warden_policy::shell::analyze(&text);
});
