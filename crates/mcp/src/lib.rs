//! warden's MCP gateway: it stands between an agent and an MCP server (stdio or
//! Streamable HTTP), asks the daemon before every `tools/call`, and decides
//! which tool definitions the agent's model may see: each is pinned by a
//! digest of what the model reads and scanned for poisoning; a changed or a
//! flagged definition stays hidden until a person approves it.
//!
//! Both protocol eras pass through: the initialize-based revisions (2025-06-18,
//! 2025-11-25) and the stateless 2026-07-28 (`server/discover`, per-request
//! `_meta`). The gateway only needs what both share: `tools/list` results and
//! `tools/call` requests.
#![forbid(unsafe_code)]

pub mod digest;
pub mod framing;
pub mod gateway;
pub mod http;
pub mod rpc;
pub mod scan;
pub mod stdio;

pub use gateway::{Decider, Gateway, Route, Settings};
