//! The mount view: what the sandboxed tree sees as `/`. A read-only copy of
//! the host tree at the same paths (so that paths mean the same inside and
//! out), the grants writable on top, fresh `/tmp`, `/run`, `/proc` and a
//! minimal `/dev`, secrets covered by empty read-only mounts, and protected
//! files (git hooks and config, rc files, agent settings) read-only even
//! inside the grants. Built in a private mount namespace; the host's mounts
//! are never touched.

use std::fs;
use std::os::fd::OwnedFd;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use crate::sys::{self, SysError, SysResult, clone_tree, mount, move_mount, set_attr};

/// Where the new root is assembled before `pivot_root`. Any directory will
/// do: the host's own contents there are never written, only covered in this
/// process's private namespace, and every source was captured before.
const STAGE: &str = "/tmp";

/// The devices the sandbox may use.
pub const DEVICES: &[&str] = &["null", "zero", "full", "random", "urandom", "tty"];

/// Parts of /proc that stay read-only even for a process that is root in the
/// sandbox's user namespace.
const PROC_READ_ONLY: &[&str] = &["sys", "sysrq-trigger", "irq", "bus", "fs"];

/// What the view holds beyond the read-only host tree.
#[derive(Debug, Clone, Default)]
pub struct ViewPlan {
    /// Writable trees or files (the workspace first).
    pub read_write: Vec<PathBuf>,
    /// Paths covered by an empty read-only mount.
    pub hidden: Vec<PathBuf>,
    /// Directories mounted onto themselves (still writable) so that they
    /// cannot be renamed or replaced.
    pub pinned: Vec<PathBuf>,
    /// Paths read-only even inside a writable grant.
    pub protected: Vec<PathBuf>,
}

const RDONLY: u64 = libc::MOUNT_ATTR_RDONLY;
const NOSUID_NODEV: u64 = libc::MOUNT_ATTR_NOSUID | libc::MOUNT_ATTR_NODEV;

fn io_err<'a>(call: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> SysError + 'a {
    move |source| SysError {
        call,
        what: path.display().to_string(),
        source,
    }
}

/// `root` joined with the absolute `path`.
fn under(root: &Path, path: &Path) -> PathBuf {
    root.join(path.strip_prefix("/").unwrap_or(path))
}

/// Builds the view and pivots into it. Must run in fresh user, mount and
/// PID namespaces, as the new PID namespace's first process.
pub fn enter(plan: &ViewPlan) -> SysResult<()> {
    mount(
        None,
        Path::new("/"),
        None,
        libc::MS_REC | libc::MS_PRIVATE,
        None,
    )?;
    let host = clone_tree(Path::new("/"), true)?;
    set_attr(&host, RDONLY | NOSUID_NODEV, true, Path::new("/"))?;
    // Captured before the host tree is moved: from then on these paths name
    // places in the new tree.
    let mut grants: Vec<(PathBuf, bool, OwnedFd)> = Vec::new();
    for p in &plan.read_write {
        let fd = clone_tree(p, true)?;
        set_attr(&fd, NOSUID_NODEV, true, p)?;
        grants.push((p.clone(), p.is_dir(), fd));
    }
    let devices: Vec<(&str, OwnedFd)> = DEVICES
        .iter()
        .filter(|d| Path::new("/dev").join(d).exists())
        .map(|d| Ok((*d, clone_tree(&Path::new("/dev").join(d), false)?)))
        .collect::<SysResult<_>>()?;
    let root = Path::new(STAGE);
    move_mount(&host, root)?;

    let tmpfs = |dir: &Path, mode: &str, flags: libc::c_ulong| {
        mount(
            Some("tmpfs"),
            dir,
            Some("tmpfs"),
            flags | libc::MS_NOSUID | libc::MS_NODEV,
            Some(mode),
        )
    };
    tmpfs(&root.join("tmp"), "mode=1777", 0)?;
    if root.join("var/tmp").is_dir() {
        tmpfs(&root.join("var/tmp"), "mode=1777", 0)?;
    }
    if root.join("run").is_dir() {
        // Sockets live here (docker, dbus, the user's runtime directory):
        // connecting to a socket needs no write access, so hide them all.
        tmpfs(&root.join("run"), "mode=0755", 0)?;
    }
    build_dev(&root.join("dev"), devices)?;
    mount(
        Some("proc"),
        &root.join("proc"),
        Some("proc"),
        libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
        None,
    )?;
    for p in PROC_READ_ONLY {
        let p = root.join("proc").join(p);
        if p.exists() {
            read_only_in_place(&p)?;
        }
    }
    for (p, is_dir, fd) in &grants {
        let target = under(root, p);
        make_mount_point(&target, *is_dir)?;
        move_mount(fd, &target)?;
    }
    for p in &plan.pinned {
        let target = under(root, p);
        if target.is_dir() {
            let fd = clone_tree(&target, true)?;
            move_mount(&fd, &target)?;
        }
    }
    for p in &plan.hidden {
        let target = under(root, p);
        match fs::symlink_metadata(&target) {
            Ok(m) if m.is_dir() => tmpfs(&target, "mode=0000,size=4k", libc::MS_RDONLY)?,
            Ok(_) => {
                let null = clone_tree(Path::new("/dev/null"), false)?;
                set_attr(&null, RDONLY, false, p)?;
                move_mount(&null, &target)?;
            }
            Err(_) => {}
        }
    }
    for p in &plan.protected {
        let target = under(root, p);
        if target.exists() {
            read_only_in_place(&target)?;
        }
    }
    sys::pivot_into(root)
}

/// Remounts `path` (and what is mounted below it) read-only where it is.
fn read_only_in_place(path: &Path) -> SysResult<()> {
    let fd = clone_tree(path, true)?;
    set_attr(&fd, RDONLY | NOSUID_NODEV, true, path)?;
    move_mount(&fd, path)
}

/// Creates `target` (a directory, or an empty file) if it is missing. Only
/// possible below a fresh tmpfs; elsewhere the host tree is read-only and the
/// grant fails, naming the path.
fn make_mount_point(target: &Path, dir: bool) -> SysResult<()> {
    if target.exists() {
        return Ok(());
    }
    if dir {
        fs::create_dir_all(target).map_err(io_err("mkdir", target))
    } else {
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent).map_err(io_err("mkdir", parent))?;
        }
        fs::write(target, b"").map_err(io_err("create", target))
    }
}

/// A minimal /dev: the listed devices bound from the host, a private devpts
/// instance, a fresh /dev/shm, and the usual links.
fn build_dev(dev: &Path, devices: Vec<(&str, OwnedFd)>) -> SysResult<()> {
    mount(
        Some("tmpfs"),
        dev,
        Some("tmpfs"),
        libc::MS_NOSUID | libc::MS_NOEXEC,
        Some("mode=0755"),
    )?;
    for (name, fd) in devices {
        let node = dev.join(name);
        fs::write(&node, b"").map_err(io_err("create", &node))?;
        move_mount(&fd, &node)?;
    }
    let pts = dev.join("pts");
    fs::create_dir(&pts).map_err(io_err("mkdir", &pts))?;
    mount(
        Some("devpts"),
        &pts,
        Some("devpts"),
        libc::MS_NOSUID | libc::MS_NOEXEC,
        Some("newinstance,ptmxmode=0666,mode=0620"),
    )?;
    let shm = dev.join("shm");
    fs::create_dir(&shm).map_err(io_err("mkdir", &shm))?;
    mount(
        Some("tmpfs"),
        &shm,
        Some("tmpfs"),
        libc::MS_NOSUID | libc::MS_NODEV,
        Some("mode=1777"),
    )?;
    for (link, to) in [
        ("ptmx", "pts/ptmx"),
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        let l = dev.join(link);
        symlink(to, &l).map_err(io_err("symlink", &l))?;
    }
    Ok(())
}
