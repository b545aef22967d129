//! The `warden` command.
#![forbid(unsafe_code)]

fn main() {}
