//! A working directory walked once per action: starting relative walks at the
//! resolved working directory must land exactly where a walk from `/` lands,
//! for every spelling, through links, `..` and missing components.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use warden_policy::path::{PathContext, canonical_cwd, resolve};

/// `root/real/ws` with `root/link` → `real`, a link inside the workspace to a
/// directory outside it, a relative link, and a dangling one.
fn tree() -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(t.path()).unwrap();
    for d in ["real/ws/src", "real/secrets", "other"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    symlink(root.join("real"), root.join("link")).unwrap();
    symlink(root.join("real/secrets"), root.join("real/ws/notes")).unwrap();
    symlink("../../other", root.join("real/ws/up")).unwrap();
    symlink(root.join("nowhere"), root.join("real/ws/dangling")).unwrap();
    (t, root)
}

fn ctx(cwd: &Path) -> PathContext {
    PathContext {
        home: "/home/dev".into(),
        cwd: Some(cwd.to_path_buf()),
        resolve_symlinks: true,
        cwd_canonical: false,
    }
}

#[test]
fn the_working_directory_is_resolved_through_its_links() {
    let (_t, root) = tree();
    let through_link = ctx(&root.join("link/ws"));
    assert_eq!(canonical_cwd(&through_link), Some(root.join("real/ws")));
    // Missing, or under /proc: walked every time instead.
    assert_eq!(canonical_cwd(&ctx(&root.join("link/missing"))), None);
    assert_eq!(canonical_cwd(&ctx(Path::new("/proc/self/cwd"))), None);
    assert_eq!(canonical_cwd(&ctx(Path::new("/proc/1"))), None);
}

proptest! {
    #[test]
    fn starting_at_the_resolved_cwd_changes_no_answer(
        parts in prop::collection::vec(
            prop::sample::select(vec!["src", "notes", "up", "dangling", "..", ".", "x", "ws", "link", "real"]),
            1..7,
        ),
    ) {
        let (_t, root) = tree();
        let slow = ctx(&root.join("link/ws"));
        let mut fast = slow.clone();
        fast.cwd = canonical_cwd(&slow);
        fast.cwd_canonical = true;
        prop_assert!(fast.cwd.is_some());
        let raw = parts.join("/");
        let a = resolve(&raw, &slow).map_err(|e| e.to_string());
        let b = resolve(&raw, &fast).map_err(|e| e.to_string());
        prop_assert_eq!(a, b, "{}", raw);
    }
}
