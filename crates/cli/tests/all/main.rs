//! End-to-end tests of the `warden` binary: the real executable is run as a
//! subprocess and judged only by what a caller (an interceptor, a script, a person)
//! can observe — exit code, stdout, stderr.
//!
//! The exit code of `warden check` *is* the enforcement signal for shell-level
//! callers (0 allow, 1 error, 2 deny, 3 ask), so a test that only looked at the
//! printed text could miss a fail-open. Every test runs in a sealed environment
//! ([`support::Env`]): its own `HOME`, `XDG_CONFIG_HOME`, `WARDEN_HOME`, a system
//! policy path that does not exist unless the test writes it, and a tempdir
//! workspace as the current directory. Nothing is written outside tempdirs.
//!
//! Tests are named after what they defend; a test that fails names a bug (see the
//! comment on it), not a test to be loosened.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod agents;
mod agents_gateway;
mod approvals;
mod audit;
mod check;
mod daemon;
mod dashboard;
mod exec;
mod explain_bench;
mod hooks;
mod jsonl;
mod layering;
mod llm_gateway;
mod net;
mod notify;
mod observe;
mod paths;
mod policy_files;
mod proxy;
mod proxy_dlp;
mod proxy_limits;
mod proxy_support;
mod sandbox;
mod sandbox_net;
mod shell;
#[cfg(feature = "ebpf")]
mod watch;
