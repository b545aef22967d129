//! Tests of `resolve`: real links in tempdirs, `/proc` magic links, properties.
use std::os::fd::AsRawFd;
use std::os::unix::fs::symlink;

use proptest::prelude::*;

use super::*;

fn ctx(cwd: &Path) -> PathContext {
    PathContext {
        home: "/home/dev".into(),
        cwd: Some(cwd.to_owned()),
        resolve_symlinks: true,
        cwd_canonical: false,
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
        cwd_canonical: false,
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
        cwd_canonical: false,
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
