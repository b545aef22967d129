//! Integration tests of warden-policy: corpus rates and end-to-end decisions.
// Test code: a failed unwrap is a failed test with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod agent_limits;
mod approvals;
mod corpus;
mod corpus_commands;
mod corpus_engine;
mod corpus_paths;
mod corpus_ssrf;
mod cwd_walk;
mod definitions;
mod engine;
mod properties;
mod regressions;
mod rewrites;
