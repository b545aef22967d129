//! The daemon end to end: a real governor, real listeners on a real Unix socket
//! and loopback TCP, a real SQLite audit log, real processes as callers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod consent;
mod decide;
mod identity;
mod robustness;
mod watchdog;
