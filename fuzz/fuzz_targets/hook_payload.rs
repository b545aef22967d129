//! Hook payloads come from the agent: every adapter must parse or reject any
//! bytes without panicking, and build a reply either way.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warden_hooks::{Agent, event_name, parse, refusal, reply};
use warden_types::Verdict;

fuzz_target!(|data: &[u8]| {
    for agent in Agent::ALL {
        match parse(agent, data) {
            Ok(ev) => {
                let _ = reply(&ev, &Verdict::malformed("fuzz"));
            }
            Err(e) => {
                let _ = refusal(agent, event_name(data).as_deref(), &e.to_string());
            }
        }
    }
});
