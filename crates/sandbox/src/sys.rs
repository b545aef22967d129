//! Thin wrappers over the system calls the sandbox makes. Each turns a C
//! return value into a `Result` whose error names the call and its operand,
//! so a refusal to start says exactly which step the kernel refused.

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// A system call that failed, with what it was applied to.
#[derive(Debug, thiserror::Error)]
#[error("{call}({what}): {source}")]
pub struct SysError {
    /// The call.
    pub call: &'static str,
    /// Its operand, as a person would name it.
    pub what: String,
    /// The kernel's answer.
    pub source: io::Error,
}

pub type SysResult<T> = Result<T, SysError>;

fn fail(call: &'static str, what: impl Into<String>) -> SysError {
    SysError {
        call,
        what: what.into(),
        source: io::Error::last_os_error(),
    }
}

/// `Ok(ret)` when `ret` is not -1.
fn check(ret: libc::c_long, call: &'static str, what: &dyn Fn() -> String) -> SysResult<i64> {
    if ret == -1 {
        Err(fail(call, what()))
    } else {
        Ok(ret)
    }
}

pub fn cstring(path: &Path) -> SysResult<CString> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| SysError {
        call: "path",
        what: path.display().to_string(),
        source: io::Error::new(io::ErrorKind::InvalidInput, "the path holds a NUL byte"),
    })
}

pub fn unshare(flags: libc::c_int) -> SysResult<()> {
    // SAFETY: unshare takes no pointers; it only changes this process.
    let r = unsafe { libc::unshare(flags) };
    check(r.into(), "unshare", &|| format!("{flags:#x}")).map(drop)
}

/// `fork()`: `Ok(0)` in the child, the child's pid in the parent.
///
/// The caller must be single-threaded: the child of a multi-threaded process
/// may only make async-signal-safe calls, and the sandbox's child does far more.
pub fn fork() -> SysResult<libc::pid_t> {
    // SAFETY: callers hold the single-threaded invariant stated above (the
    // launcher checks /proc/self/status before the first fork).
    let r = unsafe { libc::fork() };
    check(r.into(), "fork", &String::new).map(|p| p as libc::pid_t)
}

/// clone3's flag (libc's constant is an `i32` that cannot hold it).
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// `fork()` with the child created inside the cgroup v2 directory open as
/// `cgroup` (`clone3` with `CLONE_INTO_CGROUP`, Linux 5.7): no migration
/// afterwards, which takes the cgroup lock for writing and so waits for an
/// RCU grace period (10-15 ms per sandbox on a VM, measured). `Ok(None)`
/// where the kernel has no such call or flag (ENOSYS, EINVAL): fork and
/// join instead. The same single-threaded rule as [`fork`] holds.
pub fn fork_into_cgroup(cgroup: &OwnedFd) -> SysResult<Option<libc::pid_t>> {
    let args = libc::clone_args {
        flags: CLONE_INTO_CGROUP,
        pidfd: 0,
        child_tid: 0,
        parent_tid: 0,
        exit_signal: libc::SIGCHLD as u64,
        stack: 0,
        stack_size: 0,
        tls: 0,
        set_tid: 0,
        set_tid_size: 0,
        cgroup: std::os::fd::AsRawFd::as_raw_fd(cgroup) as u64,
    };
    // SAFETY: `args` is a valid clone_args of the size passed, alive for the
    // call; without CLONE_VM and with no stack given, the child runs on a
    // copy of this (single-threaded) process like fork's child.
    let r = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const libc::clone_args,
            std::mem::size_of::<libc::clone_args>(),
        )
    };
    match check(r, "clone3", &|| "CLONE_INTO_CGROUP".to_string()) {
        Ok(pid) => Ok(Some(pid as libc::pid_t)),
        Err(e) if matches!(e.source.raw_os_error(), Some(libc::ENOSYS | libc::EINVAL)) => Ok(None),
        Err(e) => Err(e),
    }
}

pub fn mount(
    source: Option<&str>,
    target: &Path,
    fstype: Option<&str>,
    flags: libc::c_ulong,
    data: Option<&str>,
) -> SysResult<()> {
    let what = || {
        format!(
            "{} on {}",
            fstype.or(source).unwrap_or("-"),
            target.display()
        )
    };
    let to_c = |s: &str| {
        CString::new(s).map_err(|_| SysError {
            call: "mount",
            what: what(),
            source: io::Error::new(io::ErrorKind::InvalidInput, "NUL byte"),
        })
    };
    let source = source.map(to_c).transpose()?;
    let fstype = fstype.map(to_c).transpose()?;
    let data = data.map(to_c).transpose()?;
    let target_c = cstring(target)?;
    let ptr = |c: &Option<CString>| c.as_ref().map_or(std::ptr::null(), |c| c.as_ptr());
    // SAFETY: every pointer is either null or a NUL-terminated string that
    // outlives the call.
    let r = unsafe {
        libc::mount(
            ptr(&source),
            target_c.as_ptr(),
            ptr(&fstype),
            flags,
            ptr(&data).cast(),
        )
    };
    check(r.into(), "mount", &what).map(drop)
}

/// `open_tree(path, OPEN_TREE_CLONE | flags)`: a detached copy of the mount
/// at `path`, to attach elsewhere with [`move_mount`].
pub fn clone_tree(path: &Path, recursive: bool) -> SysResult<OwnedFd> {
    let c = cstring(path)?;
    let mut flags = libc::OPEN_TREE_CLONE | libc::OPEN_TREE_CLOEXEC;
    if recursive {
        flags |= libc::AT_RECURSIVE as u32;
    }
    // SAFETY: `c` is a NUL-terminated path that outlives the call; the
    // returned descriptor is owned by nobody else.
    let r = unsafe { libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, c.as_ptr(), flags) };
    let fd = check(r, "open_tree", &|| path.display().to_string())?;
    // SAFETY: the kernel just returned this new descriptor to us.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Attaches the detached tree `fd` at `target`.
pub fn move_mount(fd: &OwnedFd, target: &Path) -> SysResult<()> {
    use std::os::fd::AsRawFd;
    let c = cstring(target)?;
    let empty = c"";
    // SAFETY: both paths are NUL-terminated and outlive the call; `fd` is a
    // live descriptor we own.
    let r = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            fd.as_raw_fd(),
            empty.as_ptr(),
            libc::AT_FDCWD,
            c.as_ptr(),
            libc::MOVE_MOUNT_F_EMPTY_PATH,
        )
    };
    check(r, "move_mount", &|| target.display().to_string()).map(drop)
}

/// Sets mount attributes (`MOUNT_ATTR_*`) on the detached tree `fd`.
pub fn set_attr(fd: &OwnedFd, set: u64, recursive: bool, what: &Path) -> SysResult<()> {
    use std::os::fd::AsRawFd;
    let mut attr = libc::mount_attr {
        attr_set: set,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    let mut flags = libc::AT_EMPTY_PATH as libc::c_uint;
    if recursive {
        flags |= libc::AT_RECURSIVE as libc::c_uint;
    }
    let empty = c"";
    // SAFETY: `attr` is a properly sized mount_attr that outlives the call;
    // the path is an empty NUL-terminated string, as AT_EMPTY_PATH requires.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            empty.as_ptr(),
            flags,
            &mut attr as *mut libc::mount_attr,
            std::mem::size_of::<libc::mount_attr>(),
        )
    };
    check(r, "mount_setattr", &|| what.display().to_string()).map(drop)
}

/// `pivot_root(".", ".")` in `new_root`, then detaches the old root stacked
/// beneath it: afterwards nothing of the host tree is reachable except what
/// was mounted into `new_root`.
pub fn pivot_into(new_root: &Path) -> SysResult<()> {
    std::env::set_current_dir(new_root).map_err(|source| SysError {
        call: "chdir",
        what: new_root.display().to_string(),
        source,
    })?;
    let dot = c".";
    // SAFETY: "." is a NUL-terminated string; pivot_root only changes this
    // process's mount namespace.
    let r = unsafe { libc::syscall(libc::SYS_pivot_root, dot.as_ptr(), dot.as_ptr()) };
    check(r, "pivot_root", &|| new_root.display().to_string())?;
    // SAFETY: as above; MNT_DETACH detaches the old root lazily.
    let r = unsafe { libc::umount2(dot.as_ptr(), libc::MNT_DETACH) };
    check(r.into(), "umount2", &|| "the old root".into())?;
    std::env::set_current_dir("/").map_err(|source| SysError {
        call: "chdir",
        what: "/".into(),
        source,
    })
}

pub fn prctl(option: libc::c_int, arg: libc::c_ulong, what: &'static str) -> SysResult<()> {
    // SAFETY: the options used here take integer arguments only.
    let r = unsafe { libc::prctl(option, arg, 0 as libc::c_ulong, 0 as libc::c_ulong, 0) };
    check(r.into(), "prctl", &|| what.into()).map(drop)
}

/// SIGKILL for this process when its parent dies.
pub fn die_with_parent() -> SysResult<()> {
    prctl(
        libc::PR_SET_PDEATHSIG,
        libc::SIGKILL as libc::c_ulong,
        "PR_SET_PDEATHSIG",
    )
}

pub fn set_rlimit(resource: libc::__rlimit_resource_t, value: u64, what: &str) -> SysResult<()> {
    let lim = libc::rlimit {
        rlim_cur: value,
        rlim_max: value,
    };
    // SAFETY: `lim` is a valid rlimit that outlives the call.
    let r = unsafe { libc::setrlimit(resource, &lim) };
    check(r.into(), "setrlimit", &|| what.into()).map(drop)
}

/// Drops every capability: the bounding set, the ambient set, and the
/// effective, permitted and inheritable sets; and locks the securebits so
/// that exec'ing as uid 0 does not bring them back.
pub fn drop_capabilities() -> SysResult<()> {
    let last = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        .unwrap_or(63);
    // SECBIT_NOROOT | NO_SETUID_FIXUP | KEEP_CAPS_LOCKED | NO_CAP_AMBIENT_RAISE,
    // each with its lock bit.
    const SECURE: libc::c_ulong = 0x01 | 0x02 | 0x04 | 0x08 | 0x20 | 0x40 | 0x80;
    prctl(libc::PR_SET_SECUREBITS, SECURE, "PR_SET_SECUREBITS")?;
    for cap in 0..=last {
        prctl(libc::PR_CAPBSET_DROP, cap.into(), "PR_CAPBSET_DROP")?;
    }
    // SAFETY: integer-only arguments.
    let r = unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        )
    };
    check(r.into(), "prctl", &|| "PR_CAP_AMBIENT_CLEAR_ALL".into())?;
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    let mut header = Header {
        version: 0x2008_0522, // _LINUX_CAPABILITY_VERSION_3
        pid: 0,
    };
    let data = [Data {
        effective: 0,
        permitted: 0,
        inheritable: 0,
    }; 2];
    // SAFETY: version 3 takes a header and two data structs, both live here.
    let r = unsafe { libc::syscall(libc::SYS_capset, &mut header as *mut Header, data.as_ptr()) };
    check(r, "capset", &|| "all capabilities off".into()).map(drop)
}

/// Closes every descriptor from `first` up.
pub fn close_from(first: RawFd) {
    // SAFETY: close_range takes integers; closing descriptors we do not
    // need is the point (they belong to the forked copy of this process).
    unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first as libc::c_uint,
            libc::c_uint::MAX,
            0,
        )
    };
}

/// `dup2(from, to)`, keeping `to` open across exec.
pub fn dup_to(from: RawFd, to: RawFd) -> SysResult<()> {
    // SAFETY: integer arguments; `to` is a descriptor number we choose.
    let r = unsafe { libc::dup2(from, to) };
    check(r.into(), "dup2", &|| format!("{from} to {to}")).map(drop)
}

pub fn exec(path: &CStr, argv: &[CString], env: &[CString]) -> SysError {
    let mut a: Vec<*const libc::c_char> = argv.iter().map(|s| s.as_ptr()).collect();
    a.push(std::ptr::null());
    let mut e: Vec<*const libc::c_char> = env.iter().map(|s| s.as_ptr()).collect();
    e.push(std::ptr::null());
    // SAFETY: both arrays are NULL-terminated arrays of NUL-terminated
    // strings that outlive the call (which returns only on failure).
    unsafe { libc::execve(path.as_ptr(), a.as_ptr(), e.as_ptr()) };
    fail("execve", path.to_string_lossy())
}

/// Waits for any child; `None` when there are none left.
pub fn wait_any() -> Option<(libc::pid_t, i32)> {
    loop {
        let mut status = 0;
        // SAFETY: `status` is a valid out-pointer.
        let pid = unsafe { libc::waitpid(-1, &mut status, 0) };
        if pid > 0 {
            return Some((pid, status));
        }
        if io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return None;
        }
    }
}

/// Waits for `pid`, returning its raw wait status.
pub fn wait_for(pid: libc::pid_t) -> SysResult<i32> {
    loop {
        let mut status = 0;
        // SAFETY: `status` is a valid out-pointer.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid {
            return Ok(status);
        }
        if io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return Err(fail("waitpid", pid.to_string()));
        }
    }
}

/// The exit code a shell would report for a raw wait status.
pub fn exit_code(status: i32) -> i32 {
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        1
    }
}

pub fn kill(pid: libc::pid_t, sig: libc::c_int) {
    // SAFETY: integer arguments; `pid` is a child of ours.
    unsafe { libc::kill(pid, sig) };
}

pub fn ignore_signal(sig: libc::c_int) {
    // SAFETY: SIG_IGN is a valid disposition for the catchable signals used.
    unsafe { libc::signal(sig, libc::SIG_IGN) };
}

pub fn default_signal(sig: libc::c_int) {
    // SAFETY: SIG_DFL is a valid disposition for every signal.
    unsafe { libc::signal(sig, libc::SIG_DFL) };
}

/// Ends this (forked) process at once, without running the parent's
/// destructors or flushing its buffers twice.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and is always safe to call.
    unsafe { libc::_exit(code) }
}

/// The number of threads of this process, from /proc.
pub fn thread_count() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|v| v.trim().parse().ok())
}

pub fn set_cloexec(fd: RawFd) -> SysResult<()> {
    // SAFETY: integer arguments on a descriptor we own.
    let r = unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    check(r.into(), "fcntl", &|| format!("FD_CLOEXEC on {fd}")).map(drop)
}

pub fn set_hostname(name: &str) -> SysResult<()> {
    // SAFETY: the pointer and length describe `name`'s bytes.
    let r = unsafe { libc::sethostname(name.as_ptr().cast(), name.len()) };
    check(r.into(), "sethostname", &|| name.into()).map(drop)
}

/// Brings up `lo` in this (new, empty) network namespace, so that servers
/// the command starts for itself are reachable from inside.
pub fn loopback_up() -> SysResult<()> {
    // SAFETY: plain socket creation.
    let s = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    check(s.into(), "socket", &|| "AF_INET for lo".into())?;
    // SAFETY: the socket was just created; we own it.
    let s = unsafe { OwnedFd::from_raw_fd(s) };
    use std::os::fd::AsRawFd;
    // SAFETY: an all-zero ifreq is a valid value of this plain C struct.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, c) in ifr.ifr_name.iter_mut().zip(b"lo") {
        *d = *c as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS fills `ifr`, a live ifreq.
    let r = unsafe { libc::ioctl(s.as_raw_fd(), libc::SIOCGIFFLAGS, &mut ifr) };
    check(r.into(), "ioctl", &|| "SIOCGIFFLAGS lo".into())?;
    // SAFETY: after SIOCGIFFLAGS the flags member of the union is the live one.
    unsafe { ifr.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short };
    // SAFETY: SIOCSIFFLAGS reads `ifr`, a live ifreq.
    let r = unsafe { libc::ioctl(s.as_raw_fd(), libc::SIOCSIFFLAGS, &ifr) };
    check(r.into(), "ioctl", &|| "SIOCSIFFLAGS lo up".into()).map(drop)
}

const FD_SPACE: usize = 64;

/// Sends one message, with `fd` attached when given.
pub fn send_with_fd(sock: RawFd, msg: &[u8], fd: Option<RawFd>) -> io::Result<()> {
    let mut iov = libc::iovec {
        iov_base: msg.as_ptr().cast_mut().cast(),
        iov_len: msg.len(),
    };
    let mut space = [0u8; FD_SPACE];
    // SAFETY: an all-zero msghdr is valid; the fields we need are set below.
    let mut hdr: libc::msghdr = unsafe { std::mem::zeroed() };
    hdr.msg_iov = &mut iov;
    hdr.msg_iovlen = 1;
    if let Some(fd) = fd {
        hdr.msg_control = space.as_mut_ptr().cast();
        // SAFETY: CMSG_SPACE is a pure size computation.
        hdr.msg_controllen = unsafe { libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) } as _;
        // SAFETY: the control buffer is large enough for one descriptor, so
        // CMSG_FIRSTHDR is non-null and CMSG_DATA points inside `space`.
        unsafe {
            let c = libc::CMSG_FIRSTHDR(&hdr);
            (*c).cmsg_level = libc::SOL_SOCKET;
            (*c).cmsg_type = libc::SCM_RIGHTS;
            (*c).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<RawFd>() as u32) as _;
            std::ptr::write_unaligned(libc::CMSG_DATA(c).cast::<RawFd>(), fd);
        }
    }
    // SAFETY: `hdr` points at live buffers for the duration of the call.
    let r = unsafe { libc::sendmsg(sock, &hdr, libc::MSG_NOSIGNAL) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Receives one message and the descriptor attached to it, if any. An empty
/// message means the peer closed without a word.
pub fn receive_with_fd(sock: RawFd) -> io::Result<(Vec<u8>, Option<OwnedFd>)> {
    let mut buf = vec![0u8; 4096];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    let mut space = [0u8; FD_SPACE];
    // SAFETY: an all-zero msghdr is valid; the fields we need are set below.
    let mut hdr: libc::msghdr = unsafe { std::mem::zeroed() };
    hdr.msg_iov = &mut iov;
    hdr.msg_iovlen = 1;
    hdr.msg_control = space.as_mut_ptr().cast();
    hdr.msg_controllen = FD_SPACE as _;
    let n = loop {
        // SAFETY: `hdr` points at live buffers for the duration of the call.
        let r = unsafe { libc::recvmsg(sock, &mut hdr, libc::MSG_CMSG_CLOEXEC) };
        if r >= 0 {
            break r as usize;
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINTR) {
            return Err(e);
        }
    };
    buf.truncate(n);
    let mut fd = None;
    // SAFETY: the kernel filled the control buffer; CMSG_FIRSTHDR/NXTHDR
    // walk it within `msg_controllen`.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&hdr);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
                let raw = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<RawFd>());
                fd = Some(OwnedFd::from_raw_fd(raw));
            }
            c = libc::CMSG_NXTHDR(&hdr, c);
        }
    }
    Ok((buf, fd))
}
