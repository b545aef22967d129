//! Landlock: the second floor under the mount view. The view decides what a
//! process sees; Landlock decides, for whatever it sees, what it may do, and
//! no later call can lift it. Every feature of ABI 6 is required (files,
//! truncate, device ioctls, TCP bind/connect, abstract-socket and signal
//! scoping); newer features (pathname Unix sockets, ABI 9) are used where the
//! kernel has them.

use std::path::{Path, PathBuf};

use landlock::{
    ABI, Access, AccessFs, AccessNet, CompatLevel, Compatible, NetPort, PathBeneath, PathFd,
    Ruleset, RulesetAttr, RulesetCreatedAttr, RulesetStatus, Scope,
};

/// The ABI whose every feature the sandbox needs.
const REQUIRED: ABI = ABI::V6;

/// What Landlock is told to allow.
#[derive(Debug, Clone, Default)]
pub struct FloorGrants {
    /// Trees readable and executable (in practice `/`).
    pub read: Vec<PathBuf>,
    /// Trees fully writable.
    pub write: Vec<PathBuf>,
    /// Device files and trees usable for I/O and ioctls, not for creating files.
    pub devices: Vec<PathBuf>,
    /// TCP ports that may be bound.
    pub tcp_bind: Vec<u16>,
    /// TCP ports that may be connected to.
    pub tcp_connect: Vec<u16>,
}

/// Why the floor could not be laid.
#[derive(Debug, thiserror::Error)]
pub enum FloorError {
    /// The kernel lacks features the sandbox requires.
    #[error("Landlock on this kernel (ABI {abi}) cannot enforce: {}", missing.join("; "))]
    Missing {
        /// The kernel's ABI version (0: no Landlock).
        abi: i32,
        /// What cannot be enforced.
        missing: Vec<&'static str>,
    },
    /// A granted path could not be opened.
    #[error("Landlock grant on {path}: {error}")]
    Path {
        /// The path.
        path: PathBuf,
        /// The error.
        error: String,
    },
    /// The ruleset was refused.
    #[error("Landlock: {0}")]
    Ruleset(#[from] landlock::RulesetError),
}

/// Lowers what the kernel is taken to offer (never raises it): to show, and
/// test, that a kernel without a protection makes the sandbox refuse.
pub const ASSUME_ABI_ENV: &str = "WARDEN_SANDBOX_ASSUME_LANDLOCK_ABI";

/// The kernel's Landlock ABI version; 0 when Landlock is absent or disabled
/// (or lower, when [`ASSUME_ABI_ENV`] says so).
pub fn kernel_abi() -> i32 {
    let assumed = std::env::var(ASSUME_ABI_ENV)
        .ok()
        .and_then(|v| v.parse::<i32>().ok())
        .unwrap_or(i32::MAX);
    real_abi().min(assumed)
}

fn real_abi() -> i32 {
    // SAFETY: landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION)
    // reads no memory and returns the ABI version or -1.
    let v = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<u8>(),
            0usize,
            1u32, // LANDLOCK_CREATE_RULESET_VERSION
        )
    };
    i32::try_from(v).unwrap_or(0).max(0)
}

/// The features, by the ABI that brought them.
pub const FEATURES: &[(i32, &str)] = &[
    (
        1,
        "file access rights (read, write, execute, create, remove)",
    ),
    (2, "renames and links across directories (refer)"),
    (3, "truncation"),
    (4, "TCP bind and connect"),
    (5, "ioctls on devices"),
    (6, "scoping of abstract Unix sockets and signals"),
    (9, "connecting to pathname Unix sockets"),
];

/// What the kernel cannot enforce of what the sandbox requires.
pub fn missing(abi: i32) -> Vec<&'static str> {
    FEATURES
        .iter()
        .filter(|(needs, _)| *needs <= REQUIRED as i32 && *needs > abi)
        .map(|(_, f)| *f)
        .collect()
}

/// Restricts this thread (and everything it execs or forks) to `grants`.
/// Fails unless every required feature is enforced, or `allow_degraded` is
/// set, in which case it enforces what the kernel has.
pub fn enforce(grants: &FloorGrants, allow_degraded: bool) -> Result<(), FloorError> {
    let abi = kernel_abi();
    let gaps = missing(abi);
    if !gaps.is_empty() && !allow_degraded {
        return Err(FloorError::Missing { abi, missing: gaps });
    }
    if abi == 0 {
        return Ok(());
    }
    let level = if gaps.is_empty() {
        CompatLevel::HardRequirement
    } else {
        CompatLevel::BestEffort
    };
    let mut fs = AccessFs::from_all(REQUIRED);
    let with_unix = abi >= 9;
    if with_unix {
        fs |= AccessFs::from_all(ABI::V9);
    }
    let ruleset = Ruleset::default()
        .set_compatibility(level)
        .handle_access(fs)?
        .handle_access(AccessNet::from_all(REQUIRED))?
        .scope(Scope::from_all(REQUIRED))?;
    let mut created = ruleset.create()?;
    // A file takes only the rights a file can have (Landlock refuses
    // directory rights on one); a missing path (no /var/tmp here) grants
    // nothing.
    let file_rights = AccessFs::from_file(ABI::V9);
    let device = AccessFs::from_file(REQUIRED) | AccessFs::ReadDir;
    for (paths, rights) in [
        (&grants.read, AccessFs::from_read(REQUIRED)),
        (&grants.write, fs),
        (&grants.devices, device),
    ] {
        for p in paths {
            let rights = if p.is_dir() {
                rights
            } else if p.exists() {
                rights & file_rights
            } else {
                continue;
            };
            created = created.add_rule(PathBeneath::new(open(p)?, rights))?;
        }
    }
    for port in &grants.tcp_bind {
        created = created.add_rule(NetPort::new(*port, AccessNet::BindTcp))?;
    }
    for port in &grants.tcp_connect {
        created = created.add_rule(NetPort::new(*port, AccessNet::ConnectTcp))?;
    }
    let status = created.restrict_self()?;
    if status.ruleset == RulesetStatus::NotEnforced {
        return Err(FloorError::Missing {
            abi,
            missing: vec!["the ruleset was not enforced"],
        });
    }
    Ok(())
}

fn open(path: &Path) -> Result<PathFd, FloorError> {
    PathFd::new(path).map_err(|e| FloorError::Path {
        path: path.to_path_buf(),
        error: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_missing_follows_the_abi() {
        assert_eq!(missing(6), Vec::<&str>::new());
        assert_eq!(missing(7), Vec::<&str>::new());
        assert_eq!(
            missing(5),
            vec!["scoping of abstract Unix sockets and signals"]
        );
        assert_eq!(missing(0).len(), 6);
    }
}
