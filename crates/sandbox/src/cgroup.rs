//! A cgroup v2 directory per sandboxed session,
//! `<cgroup2 mount>/warden/<session id>`: the kernel's own record of which
//! processes are the session's, whatever they do to the process tree (a
//! double fork, a parent that is gone). The eBPF observer reads it as the
//! cgroup id of every event, and its connect programs refuse a session's
//! ports by it. Only root (or a user the cgroup tree is delegated to) can
//! make one, so an agent cannot fake one. No controller is enabled: the
//! limits stay rlimits.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// Why a session's cgroup could not be made.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// No cgroup v2 hierarchy is mounted.
    #[error("no cgroup v2 hierarchy is mounted (see /proc/self/mountinfo)")]
    NoHierarchy,
    /// The session id cannot be a directory name.
    #[error("{0:?} cannot name a cgroup")]
    BadName(String),
    /// The directory could not be made.
    #[error("creating {path}: {source}")]
    Create {
        /// The directory.
        path: String,
        /// The error (EACCES unless root or delegated).
        source: std::io::Error,
    },
}

/// The mount point of the cgroup v2 hierarchy in `mountinfo` (the text of
/// `/proc/self/mountinfo`): `/sys/fs/cgroup` when it is there, else the
/// first (a hybrid system mounts it at `/sys/fs/cgroup/unified`).
pub fn cgroup2_mount_in(mountinfo: &str) -> Option<PathBuf> {
    let mut found = Vec::new();
    for line in mountinfo.lines() {
        // "id parent major:minor root mount-point options [tags] - type ..."
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        if right.split_whitespace().next() != Some("cgroup2") {
            continue;
        }
        if let Some(point) = left.split_whitespace().nth(4) {
            found.push(PathBuf::from(unescape(point)));
        }
    }
    let preferred = found.iter().position(|p| p == Path::new("/sys/fs/cgroup"));
    preferred
        .or((!found.is_empty()).then_some(0))
        .map(|i| found.swap_remove(i))
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match (b[i], octal) {
            (b'\\', Some(d)) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// This machine's cgroup v2 mount point.
pub fn cgroup2_mount() -> Option<PathBuf> {
    cgroup2_mount_in(&std::fs::read_to_string("/proc/self/mountinfo").ok()?)
}

/// Where session `id`'s cgroup is under the hierarchy mounted at `mount`.
pub fn session_dir(mount: &Path, id: &str) -> Result<PathBuf, CgroupError> {
    let fine = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    if id.is_empty() || id.len() > 64 || !id.chars().all(fine) {
        return Err(CgroupError::BadName(id.to_string()));
    }
    Ok(mount.join("warden").join(id))
}

/// A session's cgroup directory, removed when dropped (once the session's
/// processes are gone: the kernel refuses to remove a populated one).
#[derive(Debug)]
pub struct SessionCgroup {
    dir: PathBuf,
}

impl SessionCgroup {
    /// Makes session `id`'s cgroup.
    pub fn create(id: &str) -> Result<SessionCgroup, CgroupError> {
        let mount = cgroup2_mount().ok_or(CgroupError::NoHierarchy)?;
        let dir = session_dir(&mount, id)?;
        std::fs::create_dir_all(&dir).map_err(|source| CgroupError::Create {
            path: dir.display().to_string(),
            source,
        })?;
        Ok(SessionCgroup { dir })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }
}

impl Drop for SessionCgroup {
    fn drop(&mut self) {
        // The tree is killed when the session ends; its last processes may
        // still be leaving. cgroup.kill (5.14+) ends any that are not.
        for attempt in 0..100 {
            match std::fs::remove_dir(&self.dir) {
                Ok(()) => return,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
                Err(_) if attempt == 10 => {
                    let _ = std::fs::write(self.dir.join("cgroup.kill"), "1");
                }
                Err(_) => {}
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        tracing::warn!("could not remove the session cgroup {}", self.dir.display());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
25 30 0:23 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
31 25 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
32 31 0:27 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw
33 31 0:28 / /sys/fs/cgroup/cpu rw,nosuid shared:11 - cgroup cgroup rw,cpu";

    #[test]
    fn the_cgroup2_mount_is_found_on_hybrid_and_unified_systems() {
        assert_eq!(
            cgroup2_mount_in(HYBRID),
            Some(PathBuf::from("/sys/fs/cgroup/unified"))
        );
        let unified = "40 1 0:30 / /mnt/my\\040cg rw - cgroup2 none rw\n\
                       41 1 0:31 / /sys/fs/cgroup rw shared:4 - cgroup2 cgroup2 rw";
        assert_eq!(
            cgroup2_mount_in(unified),
            Some(PathBuf::from("/sys/fs/cgroup"))
        );
        assert_eq!(
            cgroup2_mount_in("40 1 0:30 / /mnt/my\\040cg rw - cgroup2 none rw"),
            Some(PathBuf::from("/mnt/my cg"))
        );
        assert_eq!(cgroup2_mount_in("garbage\n\n - \n"), None);
        assert_eq!(unescape("a\\134b\\04"), "a\\b\\04");
    }

    #[test]
    fn only_plain_session_ids_name_a_cgroup() {
        let m = Path::new("/sys/fs/cgroup");
        assert_eq!(
            session_dir(m, "sess-0123abcd").unwrap(),
            PathBuf::from("/sys/fs/cgroup/warden/sess-0123abcd")
        );
        for bad in ["", "..", "a/b", "a b", &"x".repeat(65)] {
            assert!(session_dir(m, bad).is_err(), "{bad:?}");
        }
    }
}
