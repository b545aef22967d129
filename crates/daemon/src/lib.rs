//! warden's daemon: the governor every interceptor asks, the human consent queue,
//! the agent/session registry, and the local API (HTTP over a Unix socket with
//! `SO_PEERCRED` identity, and over loopback TCP with a token).
//!
//! `Daemon::start` binds both listeners and runs until `shutdown`; the CLI's
//! `warden up` wraps it with signal handling.
#![forbid(unsafe_code)]

pub mod api;
pub mod approvals;
pub mod baseline;
pub mod client;
pub mod config;
pub mod consent;
pub mod daemon;
pub mod dashboard;
pub mod egress;
pub mod events;
pub mod governor;
pub mod hookauth;
pub mod identity;
pub mod listen;
pub mod metrics;
pub mod notify;
pub mod pins;
pub mod policies;
pub mod procs;
pub mod registry;
mod tcp_peer;
pub mod watchdog;

pub use config::Config;
pub use daemon::Daemon;
pub use governor::{Caller, Governor, Peer};

/// 32 random bytes as 64 hex digits: ids and secrets nobody can guess. The OS
/// random source failing is unrecoverable for a security daemon.
pub fn random_token() -> String {
    let mut b = [0u8; 32];
    if getrandom::fill(&mut b).is_err() {
        // Without randomness no id or secret can be made safely; stopping is the
        // only fail-closed answer.
        std::process::abort();
    }
    hex::encode(b)
}
