//! The eBPF observer of `warden watch`: exec and connect events of every
//! process on the machine, including those warden did not start, read from
//! a ring buffer that BPF programs fill (on `sched_process_exec` and the
//! cgroup v2 root's connect hooks: no syscall tracepoint, which would slow
//! every syscall of the machine); and cgroup connect hooks that refuse the
//! ports denied to a cgroup.
//!
//! The BPF programs are C (`bpf/observer.bpf.c`), compiled with clang by the
//! build script only with the `bpf` feature, and loaded with `aya`. Without
//! the feature the crate still parses events (the part fed by the kernel,
//! kept pure and fuzzed) and says the observer is not built in.
//!
//! This crate talks to the kernel but needs no `unsafe` of its own: aya's
//! API is safe, and events are decoded from bytes field by field.
#![forbid(unsafe_code)]

pub mod event;
#[cfg(feature = "bpf")]
mod loader;

pub use event::{Event, EventError};
#[cfg(feature = "bpf")]
pub use loader::{CONNECT_PROGRAMS, EXEC_PROGRAM, LoadError, Observer, ProgramRuns};

/// Whether this build has the observer.
pub const BUILT_IN: bool = cfg!(feature = "bpf");

/// Why the kernel cannot be asked for a BPF LSM program, when the answer
/// is known without trying: securityfs unreadable, or `bpf` not among the
/// active LSMs. `Ok` means only that it is worth trying
/// (`Observer::enforce_execs` is the real probe).
pub fn lsm_listed() -> Result<(), String> {
    let lsms = std::fs::read_to_string("/sys/kernel/security/lsm")
        .map_err(|e| format!("cannot read /sys/kernel/security/lsm (securityfs): {e}"))?;
    if lsms.trim().split(',').any(|l| l == "bpf") {
        Ok(())
    } else {
        Err(format!(
            "the kernel's active LSMs are {:?}, without bpf (boot with lsm=...,bpf to enable it)",
            lsms.trim()
        ))
    }
}
