//! warden's policy engine: decides Allow / Ask / Deny for an [`Action`].
//!
//! Pure and synchronous: it reads the filesystem only to resolve symlinks in paths
//! an action names (a policy that trusted the agent's spelling of a path could be
//! walked around with a link), and never touches the network or tokio.
//!
//! [`Action`]: warden_types::Action
#![forbid(unsafe_code)]

pub mod net;
pub mod path;
pub mod shell;
