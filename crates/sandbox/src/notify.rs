//! The supervisor's side of seccomp user notification: each `execve` and
//! `execveat` of the sandboxed tree (and each call on the deny list) waits in
//! the kernel until the supervisor answers. What is read from the target's
//! memory is advisory — another thread of the target can change it after we
//! read it — so it informs the decision and the audit, while what may run at
//! all is enforced by the mount view and Landlock.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Component, Path, PathBuf};

use crate::remote::RemoteMemory;

/// Largest argv + envp the supervisor reads (the kernel's own default limit).
pub(crate) const MAX_ARGS_BYTES: usize = 2 << 20;
/// Most entries read from argv or envp.
const MAX_ARGS: usize = 1 << 16;

#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
struct SeccompData {
    nr: i32,
    arch: u32,
    ip: u64,
    args: [u64; 6],
}

#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
struct SeccompNotif {
    id: u64,
    pid: u32,
    flags: u32,
    data: SeccompData,
}

#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
struct SeccompNotifResp {
    id: u64,
    val: i64,
    error: i32,
    flags: u32,
}

const NOTIF_RECV: libc::c_ulong = 0xc050_2100; // _IOWR('!', 0, struct seccomp_notif)
const NOTIF_SEND: libc::c_ulong = 0xc018_2101; // _IOWR('!', 1, struct seccomp_notif_resp)
const NOTIF_ID_VALID: libc::c_ulong = 0x4008_2102; // _IOW('!', 2, __u64)
const FLAG_CONTINUE: u32 = 1;

/// One call waiting for the supervisor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// A program is about to be executed.
    Exec(ExecRequest),
    /// A call on the deny list; it is refused whatever the answer.
    Denied {
        /// The notification id.
        id: u64,
        /// The caller (host pid).
        pid: u32,
        /// The call's name.
        call: &'static str,
    },
}

/// An exec, as read from the caller's memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecRequest {
    /// The notification id, for the answer.
    pub id: u64,
    /// The caller (host pid).
    pub pid: u32,
    /// The program, made absolute against the caller's cwd or directory
    /// descriptor, with symlinks resolved inside the sandbox's view.
    pub path: String,
    /// The argument vector as passed (`argv[0]` is whatever the caller chose).
    pub argv: Vec<String>,
    /// The names of the environment variables passed.
    pub env_keys: Vec<String>,
    /// The caller's working directory.
    pub cwd: String,
    /// When the supervisor took the call off the listener (for latency
    /// figures).
    pub read_at: std::time::Instant,
}

/// Why a notification could not be read or answered.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// The caller went away (or was killed) before it was answered.
    #[error("the calling process is gone")]
    Gone,
    /// Its memory could not be read; the exec is refused.
    #[error("reading the exec's arguments from process {pid}: {detail}")]
    Unreadable {
        /// The caller.
        pid: u32,
        /// What failed.
        detail: String,
    },
    /// The listener itself failed.
    #[error("seccomp listener: {0}")]
    Listener(io::Error),
}

/// What [`Listener::wait`] saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// A call is waiting for an answer.
    Call,
    /// The sandbox exited.
    Exited,
    /// The listener is closed or broken.
    Closed,
}

/// The listener descriptor of a sandbox's filter.
#[derive(Debug)]
pub struct Listener {
    fd: OwnedFd,
}

impl AsRawFd for Listener {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl Listener {
    pub(crate) fn new(fd: OwnedFd) -> Self {
        Listener { fd }
    }

    fn ioctl<T>(&self, cmd: libc::c_ulong, arg: &mut T) -> io::Result<()> {
        // SAFETY: every command used here takes a pointer to the struct type
        // its number encodes, and `arg` is such a struct, live for the call.
        let r = unsafe { libc::ioctl(self.fd.as_raw_fd(), cmd, arg as *mut T) };
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }

    /// Receives the next waiting call (blocks if none; poll the descriptor
    /// for readability first to avoid that).
    pub fn receive(&self) -> Result<Request, (u64, NotifyError)> {
        let mut n = SeccompNotif::default();
        loop {
            match self.ioctl(NOTIF_RECV, &mut n) {
                Ok(()) => break,
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => {
                    n = SeccompNotif::default();
                }
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                    return Err((0, NotifyError::Gone));
                }
                Err(e) => return Err((0, NotifyError::Listener(e))),
            }
        }
        let nr = libc::c_long::from(n.data.nr);
        if nr != libc::SYS_execve && nr != libc::SYS_execveat {
            // Anything but an exec is refused, whatever it is: reading its
            // registers as an exec's would let a crafted call pass for one.
            return Ok(Request::Denied {
                id: n.id,
                pid: n.pid,
                call: crate::seccomp::denied_name(n.data.nr).unwrap_or("an unexpected call"),
            });
        }
        let read = read_exec(&n).map_err(|e| (n.id, e))?;
        // The pid may have died and been reused while we read its memory.
        if !self.still_waiting(n.id) {
            return Err((n.id, NotifyError::Gone));
        }
        Ok(Request::Exec(read))
    }

    fn still_waiting(&self, id: u64) -> bool {
        let mut id = id;
        self.ioctl(NOTIF_ID_VALID, &mut id).is_ok()
    }

    /// Lets the waiting call proceed.
    pub fn allow(&self, id: u64) -> Result<(), NotifyError> {
        self.answer(SeccompNotifResp {
            id,
            val: 0,
            error: 0,
            flags: FLAG_CONTINUE,
        })
    }

    /// Waits until a call is waiting ([`Wait::Call`]), `exit` (a pidfd)
    /// becomes readable ([`Wait::Exited`]), or the listener is gone
    /// ([`Wait::Closed`]: nothing will ever wait again).
    pub fn wait(&self, exit: &impl AsRawFd) -> Wait {
        self.poll(exit, -1).unwrap_or(Wait::Closed)
    }

    /// A second descriptor of the listener, for an event loop to wait on
    /// (see [`register_readable`]).
    pub fn try_clone_fd(&self) -> io::Result<OwnedFd> {
        self.fd.try_clone()
    }

    /// [`Listener::wait`] without waiting: `None` when nothing is ready yet.
    /// For a caller that waits for readability itself (an event loop), and
    /// must then take every call waiting before it waits again.
    pub fn ready_now(&self, exit: &impl AsRawFd) -> Option<Wait> {
        self.poll(exit, 0)
    }

    fn poll(&self, exit: &impl AsRawFd, timeout_ms: libc::c_int) -> Option<Wait> {
        let mut p = [
            libc::pollfd {
                fd: self.fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: exit.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        loop {
            // SAFETY: two live pollfds, of which the kernel writes only
            // `revents`; the timeout is -1 (none) or 0.
            let r = unsafe { libc::poll(p.as_mut_ptr(), 2, timeout_ms) };
            if r < 0 {
                if io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                    continue;
                }
                return Some(Wait::Closed);
            }
            if p[0].revents & libc::POLLIN != 0 {
                return Some(Wait::Call);
            }
            if p[1].revents != 0 {
                return Some(Wait::Exited);
            }
            if p[0].revents != 0 {
                return Some(Wait::Closed);
            }
            if r == 0 && timeout_ms == 0 {
                return None;
            }
        }
    }

    /// Fails the waiting call with EPERM ("Operation not permitted").
    pub fn deny(&self, id: u64) -> Result<(), NotifyError> {
        self.refuse(id, libc::EPERM)
    }

    /// Fails the waiting call with `errno`.
    pub fn refuse(&self, id: u64, errno: i32) -> Result<(), NotifyError> {
        self.answer(SeccompNotifResp {
            id,
            val: 0,
            error: -errno,
            flags: 0,
        })
    }

    fn answer(&self, mut resp: SeccompNotifResp) -> Result<(), NotifyError> {
        self.ioctl(NOTIF_SEND, &mut resp).map_err(|e| {
            if e.raw_os_error() == Some(libc::ENOENT) {
                NotifyError::Gone
            } else {
                NotifyError::Listener(e)
            }
        })
    }
}

fn read_exec(n: &SeccompNotif) -> Result<ExecRequest, NotifyError> {
    let pid = n.pid;
    let unreadable = |detail: String| NotifyError::Unreadable { pid, detail };
    let proc = PathBuf::from(format!("/proc/{pid}"));
    let mem =
        File::open(proc.join("mem")).map_err(|e| unreadable(format!("/proc/{pid}/mem: {e}")))?;
    let read_at = std::time::Instant::now();
    let mut budget = MAX_ARGS_BYTES;
    let (dirfd, path_ptr, argv_ptr, envp_ptr) = if i64::from(n.data.nr) == libc::SYS_execveat {
        let a = n.data.args;
        (Some(a[0] as i32), a[1], a[2], a[3])
    } else {
        let a = n.data.args;
        (None, a[0], a[1], a[2])
    };
    let mut remote = RemoteMemory::new(&mem);
    let given = remote.string(path_ptr, &mut budget).map_err(unreadable)?;
    let argv = remote
        .vector(argv_ptr, MAX_ARGS, &mut budget)
        .map_err(unreadable)?;
    let env = remote
        .vector(envp_ptr, MAX_ARGS, &mut budget)
        .map_err(unreadable)?;
    let cwd = std::fs::read_link(proc.join("cwd"))
        .map(|p| p.to_string_lossy().into_owned())
        .map_err(|e| unreadable(format!("its working directory: {e}")))?;
    let base = match dirfd {
        Some(fd) if fd != libc::AT_FDCWD => std::fs::read_link(proc.join(format!("fd/{fd}")))
            .map(|p| p.to_string_lossy().into_owned())
            .map_err(|e| unreadable(format!("its descriptor {fd}: {e}")))?,
        _ => cwd.clone(),
    };
    let absolute = if given.is_empty() {
        // execveat(fd, "", AT_EMPTY_PATH): the descriptor is the program.
        base.clone()
    } else if given.starts_with('/') {
        given.clone()
    } else {
        format!("{}/{given}", base.trim_end_matches('/'))
    };
    let path = resolve_in(&proc.join("root"), &absolute);
    let env_keys = env
        .iter()
        .map(|kv| {
            kv.split_once('=')
                .map_or(kv.as_str(), |(k, _)| k)
                .to_string()
        })
        .collect();
    Ok(ExecRequest {
        id: n.id,
        pid,
        path,
        argv,
        env_keys,
        cwd,
        read_at,
    })
}

/// Resolves `path` (absolute) the way the target sees it: symlinks are
/// followed inside `root` (the target's `/proc/PID/root`), `..` never climbs
/// above it. Gives up after 40 links, returning the path as far as resolved.
fn resolve_in(root: &Path, path: &str) -> String {
    let mut done = PathBuf::from("/");
    let mut pending: Vec<String> = components(path);
    let mut links = 0;
    while let Some(c) = pending.pop() {
        match c.as_str() {
            "." | "" => continue,
            ".." => {
                done.pop();
                continue;
            }
            _ => {}
        }
        let next = done.join(&c);
        let seen = root.join(next.strip_prefix("/").unwrap_or(&next));
        match std::fs::read_link(&seen) {
            Ok(target) if links < 40 => {
                links += 1;
                let target = target.to_string_lossy().into_owned();
                if target.starts_with('/') {
                    done = PathBuf::from("/");
                }
                pending.extend(components(&target));
            }
            _ => done = next,
        }
    }
    done.to_string_lossy().into_owned()
}

/// The components of `path`, last first (a stack to pop from).
fn components(path: &str) -> Vec<String> {
    let mut v: Vec<String> = Path::new(path)
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect();
    v.reverse();
    v
}

/// `fd` (a listener's descriptor, a pidfd) registered with the current tokio
/// reactor for readability, so an event loop waits on it instead of a thread
/// (no wake-up of another thread per call). Must be called inside a tokio
/// runtime with I/O enabled; on failure the descriptor comes back.
pub fn register_readable(
    fd: OwnedFd,
) -> Result<tokio::io::unix::AsyncFd<OwnedFd>, (OwnedFd, io::Error)> {
    // SAFETY: the `OwnedFd` is moved into the `AsyncFd`, which owns it until
    // it is dropped: the descriptor stays open and always the same one.
    unsafe { tokio::io::unix::AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) }
        .map_err(|e| e.into_parts())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_resolve_inside_the_given_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("usr/bin")).unwrap();
        std::fs::write(root.join("usr/bin/rm"), b"").unwrap();
        std::os::unix::fs::symlink("/usr/bin", root.join("bin")).unwrap();
        std::os::unix::fs::symlink("../usr/bin/rm", root.join("usr/del")).unwrap();
        assert_eq!(resolve_in(root, "/bin/rm"), "/usr/bin/rm");
        assert_eq!(resolve_in(root, "/usr/del"), "/usr/bin/rm");
        assert_eq!(resolve_in(root, "/../../bin/./rm"), "/usr/bin/rm");
        std::os::unix::fs::symlink("loop", root.join("loop")).unwrap();
        assert_eq!(resolve_in(root, "/loop"), "/loop");
    }

    proptest::proptest! {
        /// Whatever an agent passes as a program path, the resolved path is
        /// absolute and holds no `.` or `..` (it never names a place above
        /// the sandbox's root), and resolving never panics.
        #[test]
        fn resolved_paths_stay_normal(parts in proptest::collection::vec(
            proptest::prop_oneof!["\\.\\.", "\\.", "[a-z]{1,3}", "", "/"], 0..12)) {
            let dir = tempfile::tempdir().unwrap();
            let path = format!("/{}", parts.join("/"));
            let out = resolve_in(dir.path(), &path);
            proptest::prop_assert!(out.starts_with('/'));
            proptest::prop_assert!(!out.split('/').any(|c| c == ".." || c == "."), "{out}");
        }
    }
}
