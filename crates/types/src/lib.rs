//! The vocabulary every part of warden speaks.
//!
//! Interceptors translate an agent's wire format into an [`Action`]; the governor
//! answers with a [`Verdict`]. Nothing else crosses a crate boundary, so these types
//! are the stable, versioned JSON contract of ARCHITECTURE §4. Every field except
//! `kind` has a default, so `{"cwd":"/w","kind":{"shell":{"command":"ls"}}}` is a
//! complete action. Unknown keys are rejected: a typo in a hook adapter must surface
//! as an error (and so a deny), not be silently dropped.
#![forbid(unsafe_code)]

mod action;
mod autonomy;
mod verdict;

pub use action::{Action, ActionContext, ActionKind, AgentRef, NetRequest, Origin, TAKES_REWRITES};
pub use autonomy::{Autonomy, AutonomyParseError};
pub use verdict::{Answer, AuditReceipt, Decision, Threat, Verdict};

/// The version of the Action/Verdict JSON contract this crate reads and writes.
pub const CONTRACT_VERSION: u32 = 1;

/// JSON Schemas of the contract, generated from the types (checked in under
/// `docs/schema/`; a test keeps the files and the types identical).
pub fn action_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Action)).unwrap_or_default()
}

/// See [`action_schema`].
pub fn verdict_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Verdict)).unwrap_or_default()
}

/// Files in a home directory that a shell or a desktop session runs at login:
/// writing one is a way to run code later, outside any agent session. The
/// policy flags writes to them; the sandbox keeps them read-only.
pub const LOGIN_SCRIPTS: &[&str] = &[
    ".bashrc",
    ".bash_profile",
    ".bash_login",
    ".bash_logout",
    ".profile",
    ".zshrc",
    ".zprofile",
    ".zshenv",
    ".zlogin",
    ".config/fish",
    ".xinitrc",
    ".xprofile",
];
