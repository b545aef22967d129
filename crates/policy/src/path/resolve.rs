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
    match ctx.cwd.as_deref() {
        // A relative path under a working directory already walked: start there.
        Some(cwd) if ctx.cwd_canonical && !raw.starts_with(['/', '~', '$']) => {
            walk.resolved = cwd.to_path_buf();
            walk.depth = cwd.components().count().saturating_sub(1);
            walk.splice(raw.as_bytes());
        }
        _ => walk.splice(&joined),
    }
    walk.run()?;
    Ok(walk.resolved)
}

/// The working directory resolved, when it exists whole and lies outside
/// `/proc` (whose entries are magic links that must be walked every time): the
/// value for [`PathContext::cwd`] with `cwd_canonical` set. `None` otherwise,
/// and then every path is walked from `/`.
pub fn canonical_cwd(ctx: &PathContext) -> Option<PathBuf> {
    let cwd = ctx.cwd.as_deref()?;
    if !ctx.resolve_symlinks || !cwd.is_absolute() {
        return None;
    }
    let raw = cwd.to_str()?;
    let joined = joined(raw, ctx).ok()?;
    let mut walk = Walk {
        raw,
        ctx,
        pid: None,
        resolved: PathBuf::from("/"),
        depth: 0,
        lexical_from: None,
        links: 0,
        pending: Vec::new(),
    };
    walk.splice(&joined);
    walk.run().ok()?;
    (walk.lexical_from.is_none() && !walk.resolved.starts_with("/proc")).then_some(walk.resolved)
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
#[path = "resolve_tests.rs"]
mod tests;
