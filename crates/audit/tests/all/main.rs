//! Integration tests of the audit log against real SQLite files in tempdirs:
//! public test vectors, the append/prove/verify cycle, tampering with the file
//! the way an attacker would, and crashes by SIGKILL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod crash;
mod group_commit;
mod lifecycle;
mod outside_writes;
mod retention;
mod tamper;
mod vectors;
