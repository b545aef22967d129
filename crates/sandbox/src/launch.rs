//! Starting a command in the sandbox. Three processes:
//!
//! - the *keeper* (forked from the caller) enters new user, mount, PID, IPC,
//!   UTS, network and cgroup namespaces, maps the caller's uid and gid, and
//!   waits for the init below, passing on its exit code;
//! - the *init* (PID 1 of the new namespace) builds the mount view, pivots
//!   into it, forks the command and reaps orphans; when the command exits it
//!   exits too, and the kernel kills whatever is left in the namespace
//!   (double-forked daemons included);
//! - the *command* drops every capability, sets `no_new_privs`, limits
//!   itself, lays the Landlock floor, installs the seccomp filter, hands the
//!   filter's listener to the caller and execs, its first exec already
//!   waiting for the supervisor's answer.
//!
//! Each process dies with its parent (`PR_SET_PDEATHSIG`), so killing the
//! keeper, or the caller dying, ends the whole tree. Setup failures travel
//! back over a socket pair and become a refusal to start naming the step.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use crate::floor::{self, FloorError, FloorGrants};
use crate::notify::Listener;
use crate::seccomp::{self, Supervision};
use crate::sys::{self, SysError};
use crate::view::{self, ViewPlan};

/// Resource limits of the sandboxed tree (rlimits; cgroup v2 is not used).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Limits {
    /// CPU seconds per process.
    pub cpu_seconds: Option<u64>,
    /// Address space per process, in bytes.
    pub memory_bytes: Option<u64>,
    /// Processes of the sandbox's user (counted in its own user namespace).
    pub processes: Option<u64>,
    /// Open files per process.
    pub open_files: Option<u64>,
}

impl Limits {
    /// No limits.
    pub const fn none() -> Limits {
        Limits {
            cpu_seconds: None,
            memory_bytes: None,
            processes: None,
            open_files: None,
        }
    }
}

/// Everything the sandbox is started with.
#[derive(Debug, Clone, Default)]
pub struct Spec {
    /// The command; `argv[0]` is looked up in the environment's `PATH`.
    pub argv: Vec<String>,
    /// Its working directory (a path inside the view).
    pub cwd: PathBuf,
    /// Its whole environment.
    pub env: Vec<(String, String)>,
    /// The mount view.
    pub view: ViewPlan,
    /// The Landlock grants.
    pub floor: FloorGrants,
    /// Resource limits.
    pub limits: Limits,
    /// Whether execs go to the supervisor (the caller must then answer them).
    pub supervise: bool,
    /// Start even when Landlock cannot enforce everything required.
    pub allow_degraded: bool,
    /// A TCP port on the sandbox's own loopback where the caller accepts
    /// connections (the egress bridge): the listening socket is made inside
    /// the new network namespace and handed out, so nothing in the sandbox
    /// holds it and no relay process runs inside.
    pub egress_port: Option<u16>,
    /// A cgroup v2 directory (the session's, [`crate::cgroup`]) the keeper
    /// is created in (or, on kernels before 5.7, joins first), so that
    /// every process of the sandbox is in it; failing that fails the start.
    pub cgroup: Option<PathBuf>,
}

/// Why the sandbox did not start.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// The caller has threads; forking it would be unsound.
    #[error(
        "the sandbox must be started from a single-threaded process (this one has {0} threads)"
    )]
    Threads(usize),
    /// Whether the caller is single-threaded cannot be told.
    #[error(
        "cannot tell whether this process is single-threaded (/proc/self/status is unreadable)"
    )]
    ThreadsUnknown,
    /// No command.
    #[error("no command to run")]
    NoCommand,
    /// A kernel feature is missing.
    #[error("{0}")]
    Floor(#[from] FloorError),
    /// seccomp user notification is unavailable.
    #[error("this kernel has no seccomp user notification ({0}); execs cannot be supervised")]
    NoNotify(String),
    /// A step of the setup failed (in the caller or in the sandbox).
    #[error("{0}")]
    Sys(#[from] SysError),
    /// A step inside the sandbox failed.
    #[error("setting up the sandbox: {0}")]
    Setup(String),
}

/// A started sandbox.
#[derive(Debug)]
pub struct Sandbox {
    keeper: libc::pid_t,
    listener: Option<Listener>,
    egress: Option<OwnedFd>,
}

impl Sandbox {
    /// The keeper's pid (its exit code is the command's).
    pub fn pid(&self) -> u32 {
        self.keeper as u32
    }

    /// Takes the exec listener (when supervised) for the supervisor.
    pub fn take_listener(&mut self) -> Option<Listener> {
        self.listener.take()
    }

    /// Takes the listening socket on the sandbox's loopback (see
    /// [`Spec::egress_port`]); connections the sandbox makes to it are
    /// accepted here, outside.
    pub fn take_egress(&mut self) -> Option<std::net::TcpListener> {
        self.egress.take().map(std::net::TcpListener::from)
    }

    /// A descriptor that becomes readable when the sandbox has exited.
    pub fn exit_fd(&self) -> io::Result<OwnedFd> {
        // SAFETY: pidfd_open takes integers; the keeper is our child and has
        // not been reaped (only `wait` reaps it).
        let r = unsafe { libc::syscall(libc::SYS_pidfd_open, self.keeper, 0) };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a new descriptor, owned by nobody else.
        Ok(unsafe { OwnedFd::from_raw_fd(r as RawFd) })
    }

    /// Waits for the sandbox to exit; the command's exit code (128 + signal
    /// when it was killed).
    pub fn wait(&self) -> Result<i32, SysError> {
        sys::wait_for(self.keeper).map(sys::exit_code)
    }

    /// Kills the whole tree.
    pub fn kill(&self) {
        sys::kill(self.keeper, libc::SIGKILL);
    }
}

/// Makes the sandbox behave as on a kernel without seccomp user
/// notification (to show, and test, that it then refuses to start).
pub const ASSUME_NO_NOTIFY_ENV: &str = "WARDEN_SANDBOX_ASSUME_NO_USER_NOTIF";

/// Whether this kernel offers seccomp user notification.
pub fn user_notification() -> Result<(), String> {
    if std::env::var_os(ASSUME_NO_NOTIFY_ENV).is_some() {
        return Err(format!("{ASSUME_NO_NOTIFY_ENV} is set"));
    }
    match std::fs::read_to_string("/proc/sys/kernel/seccomp/actions_avail") {
        Ok(s) if s.split_whitespace().any(|a| a == "user_notif") => Ok(()),
        Ok(s) => Err(format!("actions available: {}", s.trim())),
        Err(e) => Err(format!("/proc/sys/kernel/seccomp/actions_avail: {e}")),
    }
}

/// The process's thread count, once threads already joined are gone: the
/// kernel still counts a joined thread for a moment while it finishes
/// exiting (its join returns when its tid is cleared, before it is reaped).
/// Waits up to 100 ms for a count of one; a process that really runs other
/// threads is then refused as before.
fn settled_thread_count() -> Option<usize> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(100);
    loop {
        let n = sys::thread_count()?;
        if n == 1 || std::time::Instant::now() >= deadline {
            return Some(n);
        }
        std::thread::sleep(std::time::Duration::from_micros(200));
    }
}

/// Starts `spec`. The caller must be single-threaded; when `spec.supervise`
/// is set it must answer the returned listener's requests, or every exec in
/// the sandbox waits.
pub fn launch(spec: &Spec) -> Result<Sandbox, LaunchError> {
    if spec.argv.is_empty() {
        return Err(LaunchError::NoCommand);
    }
    match settled_thread_count() {
        Some(1) => {}
        Some(n) => return Err(LaunchError::Threads(n)),
        None => return Err(LaunchError::ThreadsUnknown),
    }
    let gaps = floor::missing(floor::kernel_abi());
    if !gaps.is_empty() && !spec.allow_degraded {
        return Err(FloorError::Missing {
            abi: floor::kernel_abi(),
            missing: gaps,
        }
        .into());
    }
    if spec.supervise {
        user_notification().map_err(LaunchError::NoNotify)?;
    }
    let (ours, theirs) = channel()?;
    let parent = std::process::id() as libc::pid_t;
    // The keeper is made in the session's cgroup where the kernel can, so
    // everything after it is too; otherwise it joins before it forks.
    let cgroup = match &spec.cgroup {
        Some(dir) => Some(std::fs::File::open(dir).map(OwnedFd::from).map_err(|e| {
            LaunchError::Setup(format!("the session's cgroup {}: {e}", dir.display()))
        })?),
        None => None,
    };
    let (keeper, join) = match &cgroup {
        Some(dir) => match sys::fork_into_cgroup(dir) {
            Ok(Some(pid)) => (pid, false),
            Ok(None) => (sys::fork()?, true),
            Err(e) => {
                return Err(LaunchError::Setup(format!(
                    "starting the sandbox in the session's cgroup: {e}"
                )));
            }
        },
        None => (sys::fork()?, false),
    };
    if keeper == 0 {
        drop(ours);
        in_child(|| keeper_main(spec, theirs, parent, join));
    }
    drop(cgroup);
    drop(theirs);
    let mut egress = None;
    loop {
        return match receive(&ours) {
            Ok((msg, fd)) if msg.first() == Some(&b'P') && fd.is_some() => {
                egress = fd;
                continue;
            }
            Ok((msg, fd)) if msg.first() == Some(&b'R') => Ok(Sandbox {
                keeper,
                listener: fd.map(Listener::new),
                egress,
            }),
            Ok((msg, _)) => {
                let _ = sys::wait_for(keeper);
                let text = String::from_utf8_lossy(msg.get(1..).unwrap_or_default()).into_owned();
                Err(LaunchError::Setup(if text.is_empty() {
                    "the sandbox exited before it was ready".into()
                } else {
                    text
                }))
            }
            Err(e) => {
                sys::kill(keeper, libc::SIGKILL);
                let _ = sys::wait_for(keeper);
                Err(e.into())
            }
        };
    }
}

/// Runs a forked child's body; a panic ends the child (exit 125) instead of
/// unwinding into the code of the process it was forked from.
fn in_child(body: impl FnOnce()) -> ! {
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body));
    sys::exit_now(125)
}

/// Reports a setup failure to the caller and exits.
fn fail(chan: &OwnedFd, what: &dyn std::fmt::Display) -> ! {
    let _ = send(chan, format!("E{what}").as_bytes(), None);
    sys::exit_now(125)
}

fn keeper_main(spec: &Spec, chan: OwnedFd, parent: libc::pid_t, join: bool) -> ! {
    if let Err(e) = sys::die_with_parent() {
        fail(&chan, &e);
    }
    // SAFETY: getppid has no arguments and cannot fail.
    if unsafe { libc::getppid() } != parent {
        sys::exit_now(125);
    }
    if let Some(dir) = spec.cgroup.as_ref().filter(|_| join) {
        // Before anything is forked: all that follows inherits it.
        let procs = dir.join("cgroup.procs");
        if let Err(e) = std::fs::write(&procs, "0") {
            fail(
                &chan,
                &format!("joining the session's cgroup ({}): {e}", procs.display()),
            );
        }
    }
    // The terminal's ^C and ^\ reach the command directly (same process
    // group); the keeper and init must not die of them.
    sys::ignore_signal(libc::SIGINT);
    sys::ignore_signal(libc::SIGQUIT);
    let chan = match keep_only(chan) {
        Ok(c) => c,
        Err(e) => sys::exit_now(e.source.raw_os_error().unwrap_or(125)),
    };
    // SAFETY: getuid/getgid have no arguments and cannot fail.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    let namespaces = libc::CLONE_NEWUSER
        | libc::CLONE_NEWNS
        | libc::CLONE_NEWPID
        | libc::CLONE_NEWIPC
        | libc::CLONE_NEWUTS
        | libc::CLONE_NEWNET
        | libc::CLONE_NEWCGROUP;
    if let Err(e) = sys::unshare(namespaces) {
        fail(&chan, &format!("{e} (are user namespaces enabled?)"));
    }
    for (file, text) in [
        ("/proc/self/setgroups", "deny".to_string()),
        ("/proc/self/uid_map", format!("{uid} {uid} 1")),
        ("/proc/self/gid_map", format!("{gid} {gid} 1")),
    ] {
        if let Err(e) = std::fs::write(file, text) {
            fail(&chan, &format!("writing {file}: {e}"));
        }
    }
    if let Err(e) = sys::set_hostname("warden").and_then(|()| sys::loopback_up()) {
        fail(&chan, &e);
    }
    if let Some(port) = spec.egress_port {
        // Bound here, in the new network namespace, before anything of the
        // sandbox runs; sent out and closed, so no process inside holds it.
        match std::net::TcpListener::bind(("127.0.0.1", port)) {
            Ok(l) => {
                if send(&chan, b"P", Some(l.as_raw_fd())).is_err() {
                    sys::exit_now(125);
                }
            }
            Err(e) => fail(
                &chan,
                &format!("binding the egress port 127.0.0.1:{port}: {e}"),
            ),
        }
    }
    let init = match sys::fork() {
        Ok(p) => p,
        Err(e) => fail(&chan, &e),
    };
    if init == 0 {
        in_child(|| init_main(spec, chan));
    }
    drop(chan);
    let code = sys::wait_for(init).map(sys::exit_code).unwrap_or(125);
    sys::exit_now(code)
}

fn init_main(spec: &Spec, chan: OwnedFd) -> ! {
    if let Err(e) = sys::die_with_parent() {
        fail(&chan, &e);
    }
    if let Err(e) = view::enter(&spec.view) {
        fail(&chan, &e);
    }
    // Not dumpable: the command cannot read init's memory or environment
    // (which is the caller's, unfiltered) through /proc/1.
    if let Err(e) = sys::prctl(libc::PR_SET_DUMPABLE, 0, "PR_SET_DUMPABLE") {
        fail(&chan, &e);
    }
    let command = match sys::fork() {
        Ok(p) => p,
        Err(e) => fail(&chan, &e),
    };
    if command == 0 {
        in_child(|| command_main(spec, chan));
    }
    drop(chan);
    while let Some((pid, status)) = sys::wait_any() {
        if pid == command {
            sys::exit_now(sys::exit_code(status));
        }
    }
    sys::exit_now(125)
}

fn command_main(spec: &Spec, chan: OwnedFd) -> ! {
    sys::default_signal(libc::SIGINT);
    sys::default_signal(libc::SIGQUIT);
    if let Err(e) = sys::die_with_parent() {
        fail(&chan, &e);
    }
    if let Err(e) = std::env::set_current_dir(&spec.cwd) {
        fail(
            &chan,
            &format!("the working directory {}: {e}", spec.cwd.display()),
        );
    }
    if let Err(e) = apply_limits(&spec.limits) {
        fail(&chan, &e);
    }
    let program = match find_program(&spec.argv[0], &spec.env) {
        Some(p) => p,
        None => fail(
            &chan,
            &format!("{}: command not found in the sandbox", spec.argv[0]),
        ),
    };
    let to_c = |s: &str| CString::new(s).unwrap_or_default();
    let argv: Vec<CString> = spec.argv.iter().map(|a| to_c(a)).collect();
    let env: Vec<CString> = spec
        .env
        .iter()
        .map(|(k, v)| to_c(&format!("{k}={v}")))
        .collect();
    let program_c = match sys::cstring(&program) {
        Ok(c) => c,
        Err(e) => fail(&chan, &e),
    };
    if let Err(e) = sys::drop_capabilities() {
        fail(&chan, &e);
    }
    if let Err(e) = sys::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, "PR_SET_NO_NEW_PRIVS") {
        fail(&chan, &e);
    }
    if let Err(e) = floor::enforce(&spec.floor, spec.allow_degraded) {
        fail(&chan, &e);
    }
    let supervision = if spec.supervise {
        Supervision::Notify
    } else {
        Supervision::None
    };
    let listener = match seccomp::install(supervision) {
        Ok(l) => l,
        Err(e) => fail(&chan, &e),
    };
    if send(&chan, b"R", listener.as_ref().map(AsRawFd::as_raw_fd)).is_err() {
        sys::exit_now(125);
    }
    // The command must not hold its own listener: it could answer itself.
    drop(listener);
    drop(chan);
    let err = sys::exec(&program_c, &argv, &env);
    let code = if err.source.raw_os_error() == Some(libc::ENOENT) {
        127
    } else {
        126
    };
    eprintln!(
        "warden run: cannot run {}: {}",
        program.display(),
        err.source
    );
    sys::exit_now(code)
}

fn apply_limits(l: &Limits) -> Result<(), SysError> {
    if let Some(v) = l.cpu_seconds {
        sys::set_rlimit(libc::RLIMIT_CPU, v, "RLIMIT_CPU")?;
    }
    if let Some(v) = l.memory_bytes {
        sys::set_rlimit(libc::RLIMIT_AS, v, "RLIMIT_AS")?;
    }
    if let Some(v) = l.processes {
        sys::set_rlimit(libc::RLIMIT_NPROC, v, "RLIMIT_NPROC")?;
    }
    if let Some(v) = l.open_files {
        sys::set_rlimit(libc::RLIMIT_NOFILE, v, "RLIMIT_NOFILE")?;
    }
    Ok(())
}

/// `name` itself when it holds a slash, else the first executable file of
/// that name on the environment's `PATH`.
fn find_program(name: &str, env: &[(String, String)]) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    if name.contains('/') {
        return Some(PathBuf::from(name));
    }
    let path = env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map_or("/usr/local/bin:/usr/bin:/bin", |(_, v)| v.as_str());
    path.split(':')
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join(name))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// Keeps only stdin, stdout, stderr and `chan` (moved to descriptor 3,
/// close-on-exec): nothing else the caller held (its daemon connection
/// among them) reaches the sandbox.
fn keep_only(chan: OwnedFd) -> Result<OwnedFd, SysError> {
    let raw = chan.as_raw_fd();
    if raw != 3 {
        sys::dup_to(raw, 3)?;
        drop(chan);
    } else {
        std::mem::forget(chan);
    }
    sys::close_from(4);
    sys::set_cloexec(3)?;
    // SAFETY: descriptor 3 is open (dup'ed above) and owned by nothing else.
    Ok(unsafe { OwnedFd::from_raw_fd(3) })
}

fn channel() -> Result<(OwnedFd, OwnedFd), SysError> {
    let mut fds = [0; 2];
    // SAFETY: `fds` is a valid two-element out-array.
    let r = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    };
    if r < 0 {
        return Err(SysError {
            call: "socketpair",
            what: "the setup channel".into(),
            source: io::Error::last_os_error(),
        });
    }
    // SAFETY: both descriptors were just created for us.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

fn send(chan: &OwnedFd, msg: &[u8], fd: Option<RawFd>) -> io::Result<()> {
    sys::send_with_fd(chan.as_raw_fd(), msg, fd)
}

fn receive(chan: &OwnedFd) -> Result<(Vec<u8>, Option<OwnedFd>), SysError> {
    sys::receive_with_fd(chan.as_raw_fd()).map_err(|source| SysError {
        call: "recvmsg",
        what: "the setup channel".into(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_just_joined_is_not_counted() {
        let before = sys::thread_count().unwrap();
        for _ in 0..5 {
            std::thread::scope(|s| {
                s.spawn(|| std::hint::black_box(1 + 1));
            });
            assert_eq!(settled_thread_count(), Some(before));
        }
        // A thread still running is counted.
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let t = std::thread::spawn(move || rx.recv());
        assert_eq!(settled_thread_count(), Some(before + 1));
        drop(tx);
        let _ = t.join();
    }
}
