//! The git repositories inside a workspace, whose hooks and config the
//! sandbox makes read-only (nested repositories and submodules included).
//!
//! The walk runs before every sandbox starts, and a workspace with
//! `node_modules` or a build tree holds many thousands of directories, so:
//! a directory is known to be a repository from its own listing (a `HEAD`
//! file and an `objects` directory) rather than by probing each one for
//! them; a repository's object store (256 fan-out directories, none a
//! repository git would use) is not entered; and the listing is shared
//! between a few threads, as each directory costs several system calls.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

/// Most entries visited when looking for git repositories in a workspace.
pub const WALK_LIMIT: usize = 200_000;

/// Threads listing directories at most.
const MAX_WORKERS: usize = 4;

/// Directories waiting to be listed before more threads join in.
const SHARED_FROM: usize = 64;

/// What a walk found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Repositories {
    /// Each repository's git directory below the root, sorted.
    pub found: Vec<PathBuf>,
    /// Whether the walk stopped at [`WALK_LIMIT`] entries (repositories
    /// may then be missing).
    pub truncated: bool,
}

/// The git directories below `root` (`root` itself is not one of them).
pub fn find(root: &Path) -> Repositories {
    find_within(root, WALK_LIMIT)
}

fn find_within(root: &Path, limit: usize) -> Repositories {
    let shared = Shared {
        limit,
        queue: Mutex::new(Queue {
            dirs: vec![(root.to_path_buf(), false)],
            busy: 0,
            seen: 0,
            truncated: false,
            found: Vec::new(),
        }),
        changed: Condvar::new(),
    };
    // Most workspaces are small: threads start only once the walk has
    // found enough directories to share.
    if shared.work(Some(SHARED_FROM)) {
        let workers = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, MAX_WORKERS);
        std::thread::scope(|s| {
            for _ in 1..workers {
                s.spawn(|| shared.work(None));
            }
            shared.work(None);
        });
    }
    let queue = shared
        .queue
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner);
    let mut found = queue.found;
    found.sort();
    Repositories {
        found,
        truncated: queue.truncated,
    }
}

struct Shared {
    limit: usize,
    queue: Mutex<Queue>,
    changed: Condvar,
}

struct Queue {
    /// Directories to list, and whether each may be a repository.
    dirs: Vec<(PathBuf, bool)>,
    /// Workers listing a directory now (whose subdirectories are still to come).
    busy: usize,
    seen: usize,
    truncated: bool,
    found: Vec<PathBuf>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Lists directories until the walk is over, or (with `until`) until
    /// that many wait: then true.
    fn work(&self, until: Option<usize>) -> bool {
        let mut q = self.lock();
        loop {
            if q.truncated {
                self.changed.notify_all();
                return false;
            }
            if until.is_some_and(|n| q.dirs.len() >= n) {
                return true;
            }
            let Some((dir, check)) = q.dirs.pop() else {
                if q.busy == 0 {
                    self.changed.notify_all();
                    return false;
                }
                q = self.changed.wait(q).unwrap_or_else(PoisonError::into_inner);
                continue;
            };
            q.busy += 1;
            let budget = self.limit.saturating_sub(q.seen);
            drop(q);
            let listing = list(&dir, check, budget);
            let subdirs: Vec<(PathBuf, bool)> = listing
                .subdirs
                .into_iter()
                .filter(|name| !(listing.repository && name == "objects"))
                .map(|name| (dir.join(name), true))
                .collect();
            q = self.lock();
            q.busy -= 1;
            q.seen += listing.entries;
            if listing.repository {
                q.found.push(dir);
            }
            if listing.entries > budget || q.seen > self.limit {
                q.truncated = true;
                continue;
            }
            let woke = !subdirs.is_empty() || q.busy == 0;
            q.dirs.extend(subdirs);
            if woke {
                self.changed.notify_all();
            }
        }
    }
}

/// One directory's listing, as far as the walk needs it.
struct Listing {
    /// Entries read (one past `budget` when the directory holds more).
    entries: usize,
    subdirs: Vec<OsString>,
    repository: bool,
}

fn list(dir: &Path, check: bool, budget: usize) -> Listing {
    let mut listing = Listing {
        entries: 0,
        subdirs: Vec::new(),
        repository: false,
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return listing;
    };
    let (mut head, mut objects) = (false, false);
    for e in entries.flatten() {
        listing.entries += 1;
        if listing.entries > budget {
            return listing;
        }
        let Ok(t) = e.file_type() else { continue };
        let name = e.file_name();
        // A linked `HEAD` or `objects` (git-new-workdir links them) counts
        // as what it leads to, since git follows it.
        if name == "HEAD" && (t.is_file() || t.is_symlink()) {
            head = true;
        }
        if name == "objects" && (t.is_dir() || (t.is_symlink() && dir.join(&name).is_dir())) {
            objects = true;
        }
        if t.is_dir() {
            listing.subdirs.push(name);
        }
    }
    listing.repository = check && head && objects && dir.join("HEAD").is_file();
    listing
}

/// A minimal git directory at `dir` (HEAD, config and an object store),
/// for tests here and in the planner's.
#[cfg(test)]
pub(crate) fn fake_repository(dir: &Path) {
    std::fs::create_dir_all(dir.join("objects/pack")).unwrap();
    std::fs::write(dir.join("HEAD"), "ref: refs/heads/main\n").unwrap();
    std::fs::write(dir.join("config"), "").unwrap();
}

#[cfg(test)]
mod tests {
    use super::*;

    use fake_repository as repo;

    #[test]
    fn finds_nested_repositories_and_submodules_but_not_the_root() {
        let d = tempfile::tempdir().unwrap();
        let ws = d.path();
        repo(ws);
        repo(&ws.join(".git"));
        repo(&ws.join(".git/modules/sub"));
        repo(&ws.join("vendor/a/b/.git"));
        // Not entered: an object store, whatever it holds.
        repo(&ws.join(".git/objects/ab/cd"));
        // Names without the kinds: HEAD a directory, objects a file.
        std::fs::create_dir_all(ws.join("data/HEAD")).unwrap();
        std::fs::write(ws.join("data/objects"), "").unwrap();
        let got = find(ws);
        assert!(!got.truncated);
        let want: Vec<PathBuf> = [".git", ".git/modules/sub", "vendor/a/b/.git"]
            .iter()
            .map(|p| ws.join(p))
            .collect();
        assert_eq!(got.found, want);
    }

    #[test]
    fn a_linked_store_and_head_make_a_repository() {
        let d = tempfile::tempdir().unwrap();
        let ws = d.path();
        repo(&ws.join("main/.git"));
        let work = ws.join("work/.git");
        std::fs::create_dir_all(&work).unwrap();
        std::os::unix::fs::symlink(ws.join("main/.git/objects"), work.join("objects")).unwrap();
        std::os::unix::fs::symlink(ws.join("main/.git/HEAD"), work.join("HEAD")).unwrap();
        // A dangling link is not a repository.
        let broken = ws.join("broken/.git");
        std::fs::create_dir_all(broken.join("objects")).unwrap();
        std::os::unix::fs::symlink(ws.join("nowhere"), broken.join("HEAD")).unwrap();
        assert_eq!(find(ws).found, vec![ws.join("main/.git"), work]);
    }

    #[test]
    fn a_wide_tree_is_walked_whole_every_time() {
        let d = tempfile::tempdir().unwrap();
        let ws = d.path();
        let mut want = Vec::new();
        for a in 0..20 {
            for b in 0..20 {
                let dir = ws.join(format!("m/p{a}/l{b}"));
                std::fs::create_dir_all(&dir).unwrap();
                if (a + b) % 7 == 0 {
                    repo(&dir.join(".git"));
                    want.push(dir.join(".git"));
                }
            }
        }
        want.sort();
        for _ in 0..5 {
            assert_eq!(
                find(ws),
                Repositories {
                    found: want.clone(),
                    truncated: false
                }
            );
        }
        // 400 leaf directories and 21 above them: enough to share, and a
        // limit below that stops
        // the walk and says so.
        assert!(find_within(ws, 100).truncated);
        assert!(!find_within(ws, 10_000).truncated);
    }
}
