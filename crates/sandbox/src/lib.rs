//! Kernel containment for `warden run`: user, mount, PID, IPC, UTS, network
//! and cgroup namespaces; a read-only view of the host with the workspace
//! writable and secrets hidden; Landlock as a floor no later call can lift;
//! a seccomp deny list; and an exec supervisor fed by seccomp user
//! notification; and the PTY that `warden shell` runs a shell on. The only crate of warden with `unsafe`: every block does
//! one system call's worth of work and states why it is sound.

// The one crate where `unsafe` is allowed (see ARCHITECTURE.md, house style).
#![allow(unsafe_code)]
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod cgroup;
pub mod floor;
pub mod launch;
pub mod notify;
pub mod plan;
pub mod pty;
mod remote;
pub mod repos;
pub mod seccomp;
pub mod sockdiag;
mod sys;
pub mod view;

pub use launch::{LaunchError, Limits, Sandbox, Spec, launch};
pub use notify::{ExecRequest, Listener, NotifyError, Request, Wait, register_readable};
pub use plan::{Choices, Notes, explain, plan};
pub use sys::SysError;

/// What this kernel can enforce, for `warden doctor` and `--explain`.
#[derive(Debug, Clone)]
pub struct Features {
    /// Landlock's ABI version (0: none).
    pub landlock_abi: i32,
    /// What Landlock cannot enforce of what the sandbox requires.
    pub landlock_missing: Vec<&'static str>,
    /// seccomp user notification (exec supervision).
    pub user_notification: Result<(), String>,
    /// Unprivileged user namespaces (probed by creating one).
    pub user_namespaces: Result<(), String>,
    /// cgroup v2 mounted at /sys/fs/cgroup (limits use rlimits regardless).
    pub cgroup2: bool,
}

/// Probes the kernel.
pub fn features() -> Features {
    let abi = floor::kernel_abi();
    Features {
        landlock_abi: abi,
        landlock_missing: floor::missing(abi),
        user_notification: launch::user_notification(),
        user_namespaces: probe_user_namespace(),
        cgroup2: std::fs::read_to_string("/proc/self/mounts").is_ok_and(|m| {
            m.lines().any(|l| {
                let mut f = l.split_whitespace();
                f.nth(1) == Some("/sys/fs/cgroup") && f.next() == Some("cgroup2")
            })
        }),
    }
}

fn probe_user_namespace() -> Result<(), String> {
    let read = |p: &str| {
        std::fs::read_to_string(p)
            .ok()
            .map(|s| s.trim().to_string())
    };
    if std::fs::metadata("/proc/self/ns/user").is_err() {
        return Err("this kernel has no user namespaces".into());
    }
    if read("/proc/sys/user/max_user_namespaces").as_deref() == Some("0") {
        return Err("user.max_user_namespaces is 0".into());
    }
    if read("/proc/sys/kernel/unprivileged_userns_clone").as_deref() == Some("0") {
        return Err("kernel.unprivileged_userns_clone is 0".into());
    }
    if read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns").as_deref() == Some("1") {
        return Err("AppArmor restricts unprivileged user namespaces".into());
    }
    Ok(())
}
