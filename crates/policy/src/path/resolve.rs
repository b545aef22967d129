//! Symlink and `/proc` magic-link resolution: where the kernel would really open a
//! path.
//!
//! The workspace is agent-writable, so a symlink planted there (`ln -s ~/.ssh notes`)
//! turns a workspace read into a read of anything; a lexical check of
//! `notes/id_rsa` would allow it. [`resolve`] walks the path the way the kernel does,
//! one component at a time: a symlink's target is spliced in where the link was (so
//! `link/..` is the parent of the link's *target*, which lexical cleaning gets wrong),
//! relative targets resolve against the link's directory, absolute ones restart at
//! `/`, and more than [`MAX_SYMLINKS`] links is a loop.
//!
//! One `readlink` per component is the only syscall: EINVAL means "exists, not a
//! link", ENOENT/ENOTDIR mean nothing below exists, so the rest of the path is taken
//! lexically without further syscalls (until a `..` climbs back above the missing
//! component). Any other error (EACCES ...) fails: we cannot tell whether the
//! component is a link.
//!
//! `/proc/<pid>/root`, `/proc/<pid>/cwd` and `/proc/<pid>/fd/N` are magic links
//! (`openat2(2)`, `RESOLVE_NO_MAGICLINKS`; CVE-2019-5736 went through
//! `/proc/self/exe`): following them with `readlink` in the daemon would read the
//! *daemon's* `/proc/self`. `/proc/self` and `/proc/thread-self` are the agent's
//! process; [`resolve`] does not know its pid, so it maps `root` to `/`, `cwd` to the
//! context's cwd, and refuses `fd/N` (and so `/dev/fd/N`, `/dev/stdin`);
//! [`resolve_in_process`] reads them from `/proc/<pid>`. A process's root is taken to
//! be `/`: resolution happens in the daemon's mount namespace.

use std::ffi::{OsStr, OsString};
use std::io::ErrorKind;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::lexical::{expand, joined};
use super::{MAX_SYMLINKS, PathContext, PathError};

/// [`expand`], then symlinks and `/proc` magic links resolved against the real
/// filesystem wherever the path (or its longest existing prefix) exists. When
/// `ctx.resolve_symlinks` is false this is [`expand`].
///
/// `/proc/self/...` is the agent's process, whose pid this call does not know:
/// `root` is `/`, `cwd` is `ctx.cwd` (an error when unknown), and file descriptors
/// (`/proc/self/fd/N`, `/dev/fd/N`, `/dev/stdin`) are an error — use
/// [`resolve_in_process`] when the pid is known. Other `/proc/self` entries
/// (`environ`, `mem`, ...) are returned as spelled, for rules to match.
pub fn resolve(raw: &str, ctx: &PathContext) -> Result<PathBuf, PathError> {
    resolve_as(raw, ctx, None)
}

/// [`resolve`] for an agent whose pid is known (from the action's context):
/// `/proc/self` is `/proc/<pid>`, and its `cwd` and `fd/N` links are read from there
/// (an error when they cannot be read, e.g. the process is gone or not ours).
pub fn resolve_in_process(raw: &str, ctx: &PathContext, pid: u32) -> Result<PathBuf, PathError> {
    resolve_as(raw, ctx, Some(pid))
}

fn resolve_as(raw: &str, ctx: &PathContext, pid: Option<u32>) -> Result<PathBuf, PathError> {
    if !ctx.resolve_symlinks {
        // Without the filesystem, `/proc/<self|thread-self|pid>/root` is still
        // known to be the root: strip it so the path is judged where it points.
        return expand(raw, ctx).map(strip_proc_roots);
    }
    let joined = joined(raw, ctx)?;
    let mut walk = Walk {
        raw,
        ctx,
        pid,
        resolved: PathBuf::from("/"),
        depth: 0,
        lexical_from: None,
        links: 0,
        pending: Vec::new(),
    };
    walk.splice(&joined);
    walk.run()?;
    Ok(walk.resolved)
}

/// Remove leading `/proc/<self|thread-self|N>[/task/N]/root` components, repeatedly.
fn strip_proc_roots(p: PathBuf) -> PathBuf {
    let mut cur = p;
    loop {
        let comps: Vec<&OsStr> = cur.iter().collect();
        let is_id = |c: &OsStr| {
            c == "self"
                || c == "thread-self"
                || c.to_str()
                    .is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        };
        let skip = match comps.as_slice() {
            [root, proc, id, task, tid, r, ..]
                if *root == "/"
                    && *proc == "proc"
                    && is_id(id)
                    && *task == "task"
                    && is_id(tid)
                    && *r == "root" =>
            {
                6
            }
            [root, proc, id, r, ..]
                if *root == "/" && *proc == "proc" && is_id(id) && *r == "root" =>
            {
                4
            }
            _ => return cur,
        };
        let rest: PathBuf = comps[skip..].iter().collect();
        cur = Path::new("/").join(rest);
    }
}

/// Whose `/proc/<x>` directory the walk is in.
#[derive(Clone, Copy)]
enum Owner {
    /// `/proc/self` with the agent's pid unknown: nothing under it can be read.
    Agent,
    /// `/proc/<pid>`: its links are read where they are.
    Pid,
}

/// A `/proc` directory whose entries are magic links.
enum ProcDir {
    /// `/proc/<x>` or `/proc/<x>/task/<tid>`.
    Process(Owner),
    /// `/proc/<x>/fd` or `/proc/<x>/task/<tid>/fd`.
    Fds(Owner),
}

struct Walk<'a> {
    raw: &'a str,
    ctx: &'a PathContext,
    pid: Option<u32>,
    /// Resolved so far: absolute, no symlinks, no `.`/`..`.
    resolved: PathBuf,
    /// Number of components in `resolved`.
    depth: usize,
    /// Set to the depth of the first component found missing (or under the agent's
    /// unreadable `/proc/self`): components from there on are taken lexically.
    lexical_from: Option<usize>,
    links: u32,
    /// Components still to walk, last first.
    pending: Vec<OsString>,
}

impl Walk<'_> {
    /// Puts the components of `path` in front of what is still to walk.
    fn splice(&mut self, path: &[u8]) {
        let comps = path
            .split(|b| *b == b'/')
            .filter(|c| !c.is_empty() && *c != b".");
        let at = self.pending.len();
        self.pending
            .extend(comps.map(|c| OsStr::from_bytes(c).to_os_string()));
        self.pending[at..].reverse();
    }

    fn push(&mut self, comp: &OsStr) {
        self.resolved.push(comp);
        self.depth += 1;
    }

    fn pop(&mut self) {
        if self.resolved.pop() {
            self.depth -= 1;
            if self.lexical_from.is_some_and(|d| self.depth <= d) {
                self.lexical_from = None;
            }
        }
    }

    /// Follows a link to `target` (absolute restarts at `/`; relative continues from
    /// the link's directory, which is `resolved` since the link was not pushed).
    fn follow(&mut self, target: &Path) -> Result<(), PathError> {
        self.links += 1;
        if self.links > MAX_SYMLINKS {
            return Err(PathError::SymlinkLoop {
                input: self.raw.to_owned(),
            });
        }
        let bytes = target.as_os_str().as_bytes();
        if bytes.first() == Some(&b'/') {
            self.resolved = PathBuf::from("/");
            self.depth = 0;
            self.lexical_from = None;
        }
        self.splice(bytes);
        Ok(())
    }

    fn io_error(&self, at: PathBuf, source: std::io::Error) -> PathError {
        PathError::Io {
            input: self.raw.to_owned(),
            at,
            source,
        }
    }

    fn run(&mut self) -> Result<(), PathError> {
        while let Some(comp) = self.pending.pop() {
            if comp == ".." {
                self.pop();
                continue;
            }
            if self.proc_entry(&comp)? {
                continue;
            }
            if self.lexical_from.is_some() {
                self.push(&comp);
                continue;
            }
            let candidate = self.resolved.join(&comp);
            match std::fs::read_link(&candidate) {
                Ok(target) => self.follow(&target)?,
                // EINVAL: it exists and is not a symlink.
                Err(e) if e.kind() == ErrorKind::InvalidInput => self.push(&comp),
                Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => {
                    self.lexical_from = Some(self.depth);
                    self.push(&comp);
                }
                Err(e) => return Err(self.io_error(candidate, e)),
            }
        }
        Ok(())
    }

    /// Handles `comp` if it is a `/proc` magic entry; false to walk it normally.
    fn proc_entry(&mut self, comp: &OsStr) -> Result<bool, PathError> {
        if self.depth == 1
            && self.resolved == Path::new("/proc")
            && (comp == "self" || comp == "thread-self")
        {
            // Never `readlink("/proc/self")`: that is the daemon.
            match self.pid {
                Some(pid) => self.push(OsStr::new(&pid.to_string())),
                None => {
                    self.lexical_from.get_or_insert(self.depth);
                    self.push(comp);
                }
            }
            return Ok(true);
        }
        let Some(dir) = self.proc_dir() else {
            return Ok(false);
        };
        match dir {
            ProcDir::Process(_) if comp == "root" => {
                self.follow(Path::new("/"))?;
                Ok(true)
            }
            ProcDir::Process(owner) if comp == "cwd" => {
                let cwd = match owner {
                    Owner::Agent => self.agent_cwd()?,
                    Owner::Pid => self.read_magic(self.resolved.join(comp))?,
                };
                self.follow(&cwd)?;
                Ok(true)
            }
            ProcDir::Fds(Owner::Agent) => Err(PathError::ProcessRelative {
                input: self.raw.to_owned(),
                what: "file descriptors",
            }),
            ProcDir::Fds(Owner::Pid) => {
                let target = self.read_magic(self.resolved.join(comp))?;
                self.follow(&target)?;
                Ok(true)
            }
            ProcDir::Process(_) => Ok(false),
        }
    }

    fn agent_cwd(&self) -> Result<PathBuf, PathError> {
        let cwd = self
            .ctx
            .cwd
            .clone()
            .ok_or_else(|| PathError::ProcessRelative {
                input: self.raw.to_owned(),
                what: "working directory",
            })?;
        if !cwd.is_absolute() {
            return Err(PathError::RelativeCwd {
                input: self.raw.to_owned(),
                cwd,
            });
        }
        Ok(cwd)
    }

    /// Reads a cwd or fd magic link; its target must be a path (not `pipe:[123]`).
    fn read_magic(&self, link: PathBuf) -> Result<PathBuf, PathError> {
        let target = std::fs::read_link(&link).map_err(|e| self.io_error(link.clone(), e))?;
        if !target.is_absolute() {
            return Err(PathError::NotAPath {
                input: self.raw.to_owned(),
                link,
                target,
            });
        }
        Ok(target)
    }

    /// Which `/proc` magic directory `resolved` is, if any.
    fn proc_dir(&self) -> Option<ProcDir> {
        if !(2..=5).contains(&self.depth) || !self.resolved.starts_with("/proc") {
            return None;
        }
        let comps: Vec<&[u8]> = self.resolved.iter().skip(2).map(OsStr::as_bytes).collect();
        let numeric = |c: &[u8]| !c.is_empty() && c.iter().all(u8::is_ascii_digit);
        let owner = match comps.first().copied() {
            Some(b"self" | b"thread-self") => Owner::Agent,
            Some(c) if numeric(c) => Owner::Pid,
            _ => return None,
        };
        match comps.get(1..)? {
            [] => Some(ProcDir::Process(owner)),
            [b"fd"] => Some(ProcDir::Fds(owner)),
            [b"task", tid] if numeric(tid) => Some(ProcDir::Process(owner)),
            [b"task", tid, b"fd"] if numeric(tid) => Some(ProcDir::Fds(owner)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::symlink;

    use proptest::prelude::*;

    use super::*;

    fn ctx(cwd: &Path) -> PathContext {
        PathContext {
            home: "/home/dev".into(),
            cwd: Some(cwd.to_owned()),
            resolve_symlinks: true,
        }
    }

    /// A canonical temporary directory (the temp dir itself may sit behind a link).
    fn tmp() -> (tempfile::TempDir, PathBuf) {
        let t = tempfile::tempdir().unwrap();
        let p = std::fs::canonicalize(t.path()).unwrap();
        (t, p)
    }

    fn res(raw: impl AsRef<Path>, c: &PathContext) -> PathBuf {
        resolve(raw.as_ref().to_str().unwrap(), c).unwrap()
    }

    #[test]
    fn link_inside_the_workspace_pointing_outside() {
        let (_t, root) = tmp();
        let (ws, secrets) = (root.join("ws"), root.join("secrets"));
        std::fs::create_dir_all(&ws).unwrap();
        std::fs::create_dir_all(&secrets).unwrap();
        symlink(&secrets, ws.join("notes")).unwrap();
        let c = ctx(&ws);
        assert_eq!(res("notes/id_rsa", &c), secrets.join("id_rsa"));
        assert_eq!(res(ws.join("notes/id_rsa"), &c), secrets.join("id_rsa"));
        // Without resolution the planted link is invisible.
        let lexical = PathContext {
            resolve_symlinks: false,
            ..c
        };
        assert_eq!(res("notes/id_rsa", &lexical), ws.join("notes/id_rsa"));
    }

    #[test]
    fn dotdot_after_a_link_is_the_targets_parent() {
        let (_t, root) = tmp();
        std::fs::create_dir_all(root.join("ws")).unwrap();
        std::fs::create_dir_all(root.join("far/away/deep")).unwrap();
        symlink(root.join("far/away/deep"), root.join("ws/l")).unwrap();
        assert_eq!(
            res("l/../x", &ctx(&root.join("ws"))),
            root.join("far/away/x")
        );
    }

    #[test]
    fn relative_links_and_links_to_dotdot() {
        let (_t, root) = tmp();
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        symlink("..", root.join("a/b/up")).unwrap();
        symlink("../../c", root.join("a/b/rel")).unwrap();
        let c = ctx(&root);
        assert_eq!(res("a/b/up/x", &c), root.join("a/x"));
        assert_eq!(res("a/b/up/up", &c), root.join("a/up"));
        assert_eq!(res("a/b/rel/y", &c), root.join("c/y"));
    }

    #[test]
    fn link_chain() {
        let (_t, root) = tmp();
        std::fs::create_dir_all(root.join("target")).unwrap();
        symlink(root.join("target"), root.join("l3")).unwrap();
        symlink("l3", root.join("l2")).unwrap();
        symlink(root.join("l2"), root.join("l1")).unwrap();
        assert_eq!(res("l1/f", &ctx(&root)), root.join("target/f"));
    }

    #[test]
    fn link_loop_is_an_error() {
        let (_t, root) = tmp();
        symlink(root.join("b"), root.join("a")).unwrap();
        symlink(root.join("a"), root.join("b")).unwrap();
        symlink("self", root.join("self")).unwrap();
        for raw in ["a/x", "self"] {
            let e = resolve(raw, &ctx(&root)).unwrap_err();
            assert!(matches!(e, PathError::SymlinkLoop { .. }), "{raw}: {e}");
        }
    }

    #[test]
    fn forty_links_resolve_and_forty_one_do_not() {
        let (_t, root) = tmp();
        std::fs::create_dir_all(root.join("end")).unwrap();
        symlink("end", root.join("l0")).unwrap();
        for i in 1..=MAX_SYMLINKS {
            symlink(format!("l{}", i - 1), root.join(format!("l{i}"))).unwrap();
        }
        let last = MAX_SYMLINKS - 1;
        assert_eq!(res(format!("l{last}"), &ctx(&root)), root.join("end"));
        let e = resolve(&format!("l{MAX_SYMLINKS}"), &ctx(&root)).unwrap_err();
        assert!(matches!(e, PathError::SymlinkLoop { .. }), "{e}");
    }

    #[test]
    fn dangling_link_is_followed_to_its_would_be_target() {
        let (_t, root) = tmp();
        std::fs::create_dir_all(root.join("ws")).unwrap();
        std::fs::create_dir_all(root.join("outside")).unwrap();
        symlink(root.join("outside/new/file"), root.join("ws/drop")).unwrap();
        assert_eq!(
            res("drop", &ctx(&root.join("ws"))),
            root.join("outside/new/file")
        );
    }

    #[test]
    fn missing_components_are_lexical_until_climbed_back_out() {
        let (_t, root) = tmp();
        std::fs::create_dir_all(root.join("far")).unwrap();
        symlink(root.join("far"), root.join("l")).unwrap();
        let c = ctx(&root);
        assert_eq!(res("nope/deeper/../x", &c), root.join("nope/x"));
        assert_eq!(res("nope/../l/x", &c), root.join("far/x"));
        assert_eq!(res("nope/a/../../l/y", &c), root.join("far/y"));
    }

    #[test]
    fn file_in_the_middle_is_not_a_directory() {
        let (_t, root) = tmp();
        std::fs::write(root.join("f"), b"").unwrap();
        assert_eq!(res("f/x/../y", &ctx(&root)), root.join("f/y"));
    }

    #[test]
    fn proc_roots_are_stripped_without_the_filesystem() {
        let ctx = PathContext {
            home: "/h".into(),
            cwd: None,
            resolve_symlinks: false,
        };
        assert_eq!(
            resolve("/proc/self/root/etc/shadow", &ctx).unwrap(),
            Path::new("/etc/shadow")
        );
        assert_eq!(
            resolve("/proc/1/root/proc/self/root/x", &ctx).unwrap(),
            Path::new("/x")
        );
        assert_eq!(
            resolve("/proc/self/task/1/root/y", &ctx).unwrap(),
            Path::new("/y")
        );
        assert_eq!(
            resolve("/proc/self/rootx", &ctx).unwrap(),
            Path::new("/proc/self/rootx")
        );
    }

    #[test]
    fn proc_self_root_is_the_root() {
        let c = ctx(Path::new("/work/proj"));
        assert_eq!(
            res("/proc/self/root/etc/passwd", &c),
            Path::new("/etc/passwd")
        );
        assert_eq!(
            res("/proc/thread-self/root/etc/passwd", &c),
            Path::new("/etc/passwd")
        );
        assert_eq!(
            res("/proc/self/root/proc/self/root/etc/../etc/hosts", &c),
            Path::new("/etc/hosts")
        );
        assert_eq!(
            res("/proc/self/task/1/root/etc/passwd", &c),
            Path::new("/etc/passwd")
        );
        assert_eq!(res("/proc/1/root/etc/shadow", &c), Path::new("/etc/shadow"));
    }

    #[test]
    fn proc_self_cwd_is_the_agents_cwd() {
        let (_t, root) = tmp();
        let c = ctx(&root);
        assert_eq!(res("/proc/self/cwd/x", &c), root.join("x"));
        assert_eq!(
            res("/proc/self/cwd/../y", &c),
            root.parent().unwrap().join("y")
        );
        let unknown = PathContext { cwd: None, ..c };
        let e = resolve("/proc/self/cwd/x", &unknown).unwrap_err();
        assert!(matches!(e, PathError::ProcessRelative { .. }), "{e}");
    }

    #[test]
    fn proc_pid_cwd_is_read_from_the_link() {
        let me = std::process::id();
        let here = std::fs::canonicalize(std::env::current_dir().unwrap()).unwrap();
        let c = ctx(Path::new("/work/proj"));
        assert_eq!(res(format!("/proc/{me}/cwd/x"), &c), here.join("x"));
        assert_eq!(
            resolve_in_process("/proc/self/cwd/x", &c, me).unwrap(),
            here.join("x")
        );
        let e = resolve("/proc/4294967295/cwd/x", &c).unwrap_err();
        assert!(matches!(e, PathError::Io { .. }), "{e}");
    }

    #[test]
    fn fd_links_need_the_agents_pid() {
        let (_t, root) = tmp();
        let file = std::fs::File::create(root.join("opened")).unwrap();
        let fd = file.as_raw_fd();
        let c = ctx(&root);
        for raw in [
            format!("/proc/self/fd/{fd}"),
            format!("/dev/fd/{fd}"),
            "/dev/stdin".to_owned(),
        ] {
            let e = resolve(&raw, &c).unwrap_err();
            assert!(matches!(e, PathError::ProcessRelative { .. }), "{raw}: {e}");
        }
        let me = std::process::id();
        for raw in [
            format!("/proc/self/fd/{fd}"),
            format!("/dev/fd/{fd}"),
            format!("/proc/{me}/fd/{fd}"),
        ] {
            assert_eq!(
                resolve_in_process(&raw, &c, me).unwrap(),
                root.join("opened"),
                "{raw}"
            );
        }
    }

    #[test]
    fn other_proc_self_entries_stay_as_spelled() {
        let c = ctx(Path::new("/work/proj"));
        assert_eq!(
            res("/proc/self/environ", &c),
            Path::new("/proc/self/environ")
        );
        assert_eq!(
            res("/proc/self/../self/mem", &c),
            Path::new("/proc/self/mem")
        );
        assert_eq!(res("/proc/self/exe", &c), Path::new("/proc/self/exe"));
    }

    #[test]
    fn prefix_errors_come_through() {
        let c = PathContext {
            cwd: None,
            ..ctx(Path::new("/"))
        };
        assert!(matches!(
            resolve("rel", &c),
            Err(PathError::UnknownCwd { .. })
        ));
        assert!(matches!(resolve("/a\0b", &c), Err(PathError::Nul { .. })));
        assert_eq!(resolve("/../..", &c).unwrap(), Path::new("/"));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn never_panics(raw in "(/|\\.\\.|\\.|proc|self|fd|cwd|root|dev|0|1|x|/proc/self/|~|\\$HOME){0,12}") {
            let _ = resolve(&raw, &ctx(Path::new("/tmp")));
            let _ = resolve_in_process(&raw, &ctx(Path::new("/tmp")), std::process::id());
        }

        #[test]
        fn never_panics_on_arbitrary_strings(raw in any::<String>()) {
            if let Ok(p) = resolve(&raw, &ctx(Path::new("/tmp"))) {
                prop_assert!(p.is_absolute());
            }
        }
    }
}
