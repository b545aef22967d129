//! warden's policy engine: decides Allow / Ask / Deny for an [`Action`].
//!
//! Pure and synchronous: it reads the filesystem only to resolve symlinks in paths
//! an action names (a policy that trusted the agent's spelling of a path could be
//! walked around with a link), and never touches the network or tokio.
//!
//! ```
//! use warden_policy::{EvalContext, Policy};
//! use warden_types::{Action, ActionKind, Decision};
//!
//! let policy = Policy::from_toml(r#"
//! version = 1
//! [[rule]]
//! id = "no-push"
//! ask = ["Bash(git push:*)"]
//! match = ["Bash(git push origin main)"]
//! "#, "policy.toml").unwrap();
//! let action = Action::new("/w", ActionKind::Shell { command: "git status && git push".into() });
//! let eval = policy.evaluate(&action, &EvalContext::new("/home/u"));
//! assert_eq!(eval.verdict.decision, Decision::Ask);
//! ```
//!
//! [`Action`]: warden_types::Action
#![forbid(unsafe_code)]

pub mod approval;
pub mod defaults;
mod engine;
pub mod file;
pub mod net;
pub mod path;
mod pathglob;
pub mod profile;
pub mod shell;
pub mod spec;
mod subject;

pub use approval::{Approval, fingerprint};
pub use engine::{EvalContext, Evaluation, Policy, SubjectReport};
pub use file::{AgentLimits, Layer, LayerKind, PolicyError, Rule, RuleMode};
pub use subject::{CommandClass, FileOp};
