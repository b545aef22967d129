//! Policy files are written by users but also arrive with projects (the project
//! layer), so the parser sees hostile input: any text must give a policy or an
//! error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Policy files are UTF-8 by definition; other bytes are rejected before parsing.
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = warden_policy::Policy::from_toml(text, "fuzz.toml");
    }
});
