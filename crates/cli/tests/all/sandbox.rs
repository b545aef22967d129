//! `warden run`: escape tests that attack. The probe runs inside the real
//! sandbox (namespaces, Landlock, seccomp, the exec supervisor talking to a
//! real daemon) and tries one forbidden act; each test asserts the errno the
//! kernel answered, and that nothing outside changed.

use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::daemon::up;
use crate::support::{Env, Out, write};

fn probe_bin() -> PathBuf {
    let p = Path::new(env!("CARGO_BIN_EXE_warden")).with_file_name("warden-sandbox-probe");
    assert!(
        p.exists(),
        "{} is missing: build the workspace (cargo build --workspace) first",
        p.display()
    );
    p
}

/// Runs the probe's `act` in the sandbox (the act travels in the
/// environment, so that the exec the policy judges is the probe alone).
fn probe(env: &Env, act: &str) -> Out {
    probe_with(env, act, &[])
}

fn probe_with(env: &Env, act: &str, extra: &[&str]) -> Out {
    let bin = probe_bin();
    let mut args = vec!["run", "--env", "WARDEN_PROBE"];
    args.extend_from_slice(extra);
    args.push("--");
    let bin = bin.to_string_lossy().into_owned();
    args.push(&bin);
    env.run_with_env(&args, &[("WARDEN_PROBE", act)])
}

/// Asserts the probe's act was refused with one of `errnos`.
#[track_caller]
fn refused(out: &Out, errnos: &[&str]) {
    let line = out.stdout.trim();
    assert!(
        errnos.iter().any(|e| line.ends_with(&format!("errno {e}"))),
        "expected {errnos:?}, got stdout {line:?} (exit {:?}); stderr:\n{}",
        out.code,
        out.stderr
    );
}

struct Scene {
    env: Env,
    outside: PathBuf,
    _daemon: crate::daemon::Up,
}

/// An environment outside /tmp (the sandbox has its own /tmp, so files
/// there would be out of sight rather than protected).
fn sandbox_env() -> Env {
    Env::new_in(Path::new(env!("CARGO_TARGET_TMPDIR")))
}

fn scene() -> Scene {
    let env = sandbox_env();
    let outside = write(&env.home.join("outside/target.txt"), "original\n");
    write(&env.home.join(".ssh/id_ed25519"), "PRIVATE KEY\n");
    for repo in [env.ws.join(".git"), env.ws.join("vendor/lib/.git")] {
        std::fs::create_dir_all(repo.join("objects")).unwrap();
        std::fs::create_dir_all(repo.join("hooks")).unwrap();
        write(&repo.join("HEAD"), "ref: refs/heads/main\n");
        write(&repo.join("config"), "[core]\n");
    }
    let daemon = up(&env, &[]);
    Scene {
        env,
        outside,
        _daemon: daemon,
    }
}

#[test]
fn the_workspace_is_writable_and_the_command_runs_as_a_session() {
    let s = scene();
    let target = s.env.ws.join("made-inside.txt");
    let out = probe(&s.env, &format!("write {}", target.display()));
    out.code(0);
    assert_eq!(
        std::fs::read_to_string(&target).unwrap(),
        "planted by the probe\n"
    );
    // The session was registered with the daemon and the exec was audited.
    let audit = s.env.run(&["audit", "search", "warden-sandbox-probe"]);
    audit.code(0).stdout_has(&["sandbox"]);
    // …and ended with the command.
    let sessions = get(&s.env.state.join("warden.sock"), "/v1/sessions");
    assert!(
        sessions.contains("\"agent\":\"shell\"") && sessions.contains("\"state\":\"stopped\""),
        "{sessions}"
    );
}

/// A GET over the daemon's Unix socket (the test is outside every session).
fn get(socket: &Path, path: &str) -> String {
    use std::io::{Read, Write};
    let mut c = std::os::unix::net::UnixStream::connect(socket).unwrap();
    write!(
        c,
        "GET {path} HTTP/1.1\r\nHost: warden\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    c.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn writes_outside_the_workspace_fail_however_they_are_spelled() {
    let s = scene();
    let o = s.outside.display().to_string();
    let ws = s.env.ws.display().to_string();
    refused(&probe(&s.env, &format!("write {o}")), &["EROFS"]);
    refused(
        &probe(&s.env, &format!("write /proc/self/root{o}")),
        &["EROFS"],
    );
    refused(
        &probe(&s.env, &format!("symlink-write {o} {ws}/link")),
        &["EROFS"],
    );
    refused(
        &probe(&s.env, &format!("hardlink {o} {ws}/hard")),
        &["EXDEV", "EROFS", "EACCES"],
    );
    refused(
        &probe(&s.env, &format!("rename {o} {ws}/moved")),
        &["EXDEV", "EROFS", "EACCES"],
    );
    refused(&probe(&s.env, "write /etc/warden-was-here"), &["EROFS"]);
    assert_eq!(std::fs::read_to_string(&s.outside).unwrap(), "original\n");
    assert!(!Path::new("/etc/warden-was-here").exists());
}

#[test]
fn git_hooks_and_config_cannot_be_planted_even_in_nested_repositories() {
    let s = scene();
    let ws = &s.env.ws;
    for p in [
        ".git/hooks/pre-commit",
        ".git/config",
        "vendor/lib/.git/hooks/post-checkout",
        "vendor/lib/.git/config",
    ] {
        refused(
            &probe(&s.env, &format!("write {}", ws.join(p).display())),
            &["EROFS"],
        );
    }
    // Nor can the repository (or a directory above a nested one) be moved
    // aside and replaced by one with a planted config.
    for (from, to) in [
        (".git", "git-aside"),
        ("vendor", "vendor-aside"),
        ("vendor/lib", "lib-aside"),
    ] {
        refused(
            &probe(
                &s.env,
                &format!(
                    "rename {} {}",
                    ws.join(from).display(),
                    ws.join(to).display()
                ),
            ),
            &["EBUSY", "EXDEV"],
        );
    }
    assert!(!ws.join(".git/hooks/pre-commit").exists());
    assert_eq!(
        std::fs::read_to_string(ws.join(".git/config")).unwrap(),
        "[core]\n"
    );
}

#[test]
fn secrets_and_wardens_own_files_are_not_visible() {
    let s = scene();
    let key = s.env.home.join(".ssh/id_ed25519");
    refused(
        &probe(&s.env, &format!("read {}", key.display())),
        &["EACCES", "ENOENT"],
    );
    let state = &s.env.state;
    assert!(state.join("warden.sock").exists());
    for p in [
        state.join("audit.db"),
        state.join("warden.sock"),
        s.env.user_policy(),
    ] {
        refused(
            &probe(&s.env, &format!("read {}", p.display())),
            &["EACCES", "ENOENT"],
        );
        refused(
            &probe(&s.env, &format!("write {}", p.display())),
            &["EACCES", "ENOENT", "EROFS"],
        );
    }
    refused(
        &probe(
            &s.env,
            &format!("connect-unix {}", state.join("warden.sock").display()),
        ),
        &["EACCES", "ENOENT"],
    );
    // Hidden files read as empty (they are covered by /dev/null).
    let shadow = probe(&s.env, "read /etc/shadow");
    assert_eq!(shadow.stdout.trim(), "read: ok, 0 bytes", "{shadow:?}");
    // Other processes: init's memory and environment, and host processes
    // (not even visible).
    refused(&probe(&s.env, "read /proc/1/environ"), &["EACCES", "EPERM"]);
    refused(
        &probe(&s.env, "read /proc/1/mem"),
        &["EACCES", "EPERM", "EINVAL"],
    );
    let me = std::process::id();
    refused(
        &probe(&s.env, &format!("read /proc/{me}/environ")),
        &["ENOENT"],
    );
}

#[test]
fn host_sockets_and_the_network_are_out_of_reach() {
    let s = scene();
    // A fake docker.sock where the real one lives, and an abstract socket.
    let docker = PathBuf::from(format!(
        "/run/warden-test-docker-{}.sock",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&docker);
    let _docker = UnixListener::bind(&docker).expect("bind the fake docker.sock (needs root)");
    let name = format!("warden-test-abstract-{}", std::process::id());
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let _abstract = UnixListener::bind_addr(&addr).unwrap();
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = tcp.local_addr().unwrap().port();

    refused(
        &probe(&s.env, &format!("connect-unix {}", docker.display())),
        &["ENOENT"],
    );
    // A socket the host bound anywhere else in the read-only view is covered too.
    let elsewhere = s.env.home.join("agent-forwarding.sock");
    let _elsewhere = UnixListener::bind(&elsewhere).unwrap();
    refused(
        &probe(&s.env, &format!("connect-unix {}", elsewhere.display())),
        &["ECONNREFUSED", "ENOTSOCK", "EACCES", "ENOENT"],
    );
    refused(
        &probe(&s.env, &format!("connect-abstract {name}")),
        &["EPERM", "ECONNREFUSED"],
    );
    refused(
        &probe(&s.env, &format!("tcp 127.0.0.1 {port}")),
        &["EACCES", "ECONNREFUSED"],
    );
    refused(
        &probe(&s.env, "tcp 1.1.1.1 443"),
        &["EACCES", "ENETUNREACH"],
    );
    refused(&probe(&s.env, "udp 8.8.8.8 53"), &["ENETUNREACH"]);
    refused(
        &probe(&s.env, "icmp 8.8.8.8"),
        &["ENETUNREACH", "EACCES", "EPERM"],
    );
    refused(&probe(&s.env, "raw 8.8.8.8"), &["EPERM"]);
    refused(&probe(&s.env, "packet"), &["EAFNOSUPPORT"]);
    refused(&probe(&s.env, "netlink"), &["EAFNOSUPPORT"]);
    let _ = std::fs::remove_file(&docker);
}

#[test]
fn kernel_attack_surface_and_other_processes_are_refused() {
    let s = scene();
    let out = probe(&s.env, "io-uring");
    refused(&out, &["EPERM"]);
    out.stderr_has(&["refused system calls: io_uring_setup x1"]);
    // Reported to the daemon: an alert, recorded in the audit log.
    wait_for_audit(&s.env, "the sandbox refused seccomp io_uring_setup");
    refused(&probe(&s.env, "ptrace 1"), &["EPERM"]);
    refused(&probe(&s.env, "signal 1"), &["EPERM"]);
    let me = std::process::id();
    refused(&probe(&s.env, &format!("signal {me}")), &["ESRCH"]);
    refused(&probe(&s.env, "tiocsti"), &["EPERM"]);
    refused(&probe(&s.env, "unshare-user"), &["EPERM"]);
    // A setuid file left in the workspace would run as the caller on the host.
    let suid = s.env.ws.join("suid");
    probe(&s.env, &format!("write {}", suid.display())).code(0);
    refused(
        &probe(&s.env, &format!("chmod-setuid {}", suid.display())),
        &["EPERM"],
    );
    refused(
        &probe(
            &s.env,
            &format!("create-setuid {}", s.env.ws.join("suid2").display()),
        ),
        &["EPERM"],
    );
    refused(&probe(&s.env, "clone-newuser"), &["EPERM"]);
    refused(
        &probe(&s.env, &format!("mount {}", s.env.ws.display())),
        &["EPERM"],
    );
}

#[test]
fn a_denied_exec_fails_with_eperm_and_is_audited() {
    let s = scene();
    let key = s.env.home.join(".ssh/id_ed25519");
    let out = probe(&s.env, &format!("exec /usr/bin/cat {}", key.display()));
    out.stderr_has(&[&format!("refused exec of /usr/bin/cat {}", key.display())]);
    refused(&out, &["EPERM"]);
    s.env
        .run(&["audit", "search", "/usr/bin/cat"])
        .code(0)
        .stdout_has(&["deny", "sandbox"]);
}

#[test]
fn a_double_forked_daemon_dies_with_the_command() {
    let s = scene();
    let token = format!("lingering-{}", std::process::id());
    probe(&s.env, &format!("daemonize {token}")).code(0);
    std::thread::sleep(Duration::from_millis(200));
    let alive: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(&token))
        .collect();
    assert!(alive.is_empty(), "outlived the sandbox: {alive:?}");
    // The detached grandchild's exec was supervised like any other.
    wait_for_audit(&s.env, &token);
}

#[test]
fn a_profiles_limits_are_applied() {
    let s = scene();
    write(
        &s.env.user_policy(),
        "version = 1\n[profile.shell]\nopen_files = 32\nprocesses = 64\n",
    );
    let out = s
        .env
        .run(&["run", "--", "/bin/bash", "-c", "ulimit -n; ulimit -u"]);
    out.code(0);
    assert_eq!(out.stdout, "32\n64\n", "{out:?}");
}

#[test]
fn a_kernel_without_a_protection_makes_it_refuse_to_start() {
    let mut s = scene();
    s.env.set_env("WARDEN_SANDBOX_ASSUME_LANDLOCK_ABI", "5");
    let marker = s.env.ws.join("ran");
    let out = probe(&s.env, &format!("write {}", marker.display()));
    out.code(125)
        .stderr_has(&["scoping of abstract Unix sockets and signals"]);
    assert!(!marker.exists());
    // --allow-degraded names what is missing and goes on.
    probe_with(
        &s.env,
        &format!("write {}", marker.display()),
        &["--allow-degraded"],
    )
    .code(0);
    assert!(marker.exists());

    let mut s = scene();
    s.env.set_env("WARDEN_SANDBOX_ASSUME_NO_USER_NOTIF", "1");
    probe(&s.env, "exists /")
        .code(125)
        .stderr_has(&["seccomp user notification"]);
}

#[test]
fn without_a_daemon_nothing_runs() {
    let env = sandbox_env();
    let marker = env.ws.join("ran");
    let out = probe(&env, &format!("write {}", marker.display()));
    out.code(1)
        .stderr_has(&["needs the daemon", "nothing was started"]);
    assert!(!marker.exists());
}

#[test]
fn explain_prints_the_grants_and_runs_nothing() {
    let s = scene();
    let out = s.env.run(&["run", "--explain", "--", "touch", "x"]);
    out.code(0).stdout_has(&[
        "read-write  ",
        "hidden      ",
        ".ssh",
        "protected   ",
        ".git/hooks",
        "io_uring_setup",
        "Landlock (kernel ABI",
    ]);
    assert!(!s.env.ws.join("x").exists());
}

/// Waits (a little) until the audit log holds `text`: notices are recorded
/// in the background.
#[track_caller]
fn wait_for_audit(env: &Env, text: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let out = env.run(&["audit", "search", text]);
        if out.code == Some(0) && out.stdout.contains(text) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{text:?} never reached the audit log: {out:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn profiles_in_the_policy_add_grants_and_hide_more() {
    let s = scene();
    let extra = s.env.home.join("extra");
    std::fs::create_dir_all(&extra).unwrap();
    write(
        &s.env.user_policy(),
        "version = 1\n\n[profile.shell]\nread_write = [\"~/extra\"]\nhidden = [\"~/outside\"]\n\n[profile.tester]\nagent = \"test-agent\"\n",
    );
    probe(&s.env, &format!("write {}", extra.join("f").display())).code(0);
    assert!(extra.join("f").exists());
    refused(
        &probe(&s.env, &format!("read {}", s.outside.display())),
        &["EACCES", "ENOENT"],
    );
    // A profile only the policy defines, under its own agent name.
    let out = s
        .env
        .run(&["run", "--explain", "--profile", "tester", "--", "true"]);
    out.code(0)
        .stdout_has(&["profile:     tester (agent test-agent)"]);
    let out = s
        .env
        .run(&["run", "--explain", "--profile", "nope", "--", "true"]);
    out.code(1)
        .stderr_has(&["no profile \"nope\"", "claude-code", "tester"]);
}

#[test]
fn a_project_layer_cannot_widen_the_sandbox() {
    let s = scene();
    s.env
        .write_project_policy("version = 1\n[profile.shell]\nread_write = [\"/etc\"]\n");
    let marker = s.env.ws.join("ran");
    let out = probe(&s.env, &format!("write {}", marker.display()));
    out.code(1)
        .stderr_has(&["[profile.shell]", "a project layer cannot define profiles"]);
    assert!(!marker.exists());
}

#[test]
fn the_time_limit_kills_the_tree_and_nothing_stays_mounted() {
    let s = scene();
    let mounts = || {
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .count()
    };
    let before = mounts();
    let started = std::time::Instant::now();
    let out = probe_with(&s.env, "linger forever", &["--timeout", "1s"]);
    out.code(137).stderr_has(&["the time limit (1s) is up"]);
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(mounts(), before, "the sandbox left mounts on the host");
}

/// The battery under bubblewrap with a typical agent profile (read-only
/// host, writable workspace, private /tmp, new PID and network namespaces),
/// side by side with warden: informational for bwrap, binding for warden.
#[test]
fn side_by_side_with_bubblewrap() {
    let Some(bwrap) = ["/usr/bin/bwrap", "/bin/bwrap"]
        .into_iter()
        .find(|p| Path::new(p).exists())
    else {
        assert!(
            std::env::var_os("CI").is_none(),
            "bwrap is missing in CI (scripts/test installs bubblewrap)"
        );
        println!("SKIP side_by_side_with_bubblewrap: bwrap is not installed");
        return;
    };
    let s = scene();
    let ws = s.env.ws.display().to_string();
    let o = s.outside.display().to_string();
    let key = s.env.home.join(".ssh/id_ed25519").display().to_string();
    let state = s.env.state.display().to_string();
    let docker = format!("/run/warden-test-bwrap-{}.sock", std::process::id());
    let _ = std::fs::remove_file(&docker);
    let _docker = UnixListener::bind(&docker).unwrap();
    let acts: Vec<(&str, String)> = vec![
        ("write outside the workspace", format!("write {o}")),
        (
            "write via /proc/self/root",
            format!("write /proc/self/root{o}"),
        ),
        (
            "plant .git/hooks/pre-commit",
            format!("write {ws}/.git/hooks/pre-commit"),
        ),
        (
            "plant a nested repo's hook",
            format!("write {ws}/vendor/lib/.git/hooks/x"),
        ),
        ("rewrite .git/config", format!("write {ws}/.git/config")),
        ("read ~/.ssh key", format!("read {key}")),
        ("read warden's audit log", format!("read {state}/audit.db")),
        (
            "connect to warden's socket",
            format!("connect-unix {state}/warden.sock"),
        ),
        (
            "connect to /run docker.sock",
            format!("connect-unix {docker}"),
        ),
        ("io_uring_setup", "io-uring".into()),
        ("TIOCSTI", "tiocsti".into()),
        ("unshare(CLONE_NEWUSER)", "unshare-user".into()),
        ("AF_NETLINK socket", "netlink".into()),
        ("AF_PACKET socket", "packet".into()),
        ("ptrace pid 1", "ptrace 1".into()),
    ];
    let probe_path = probe_bin().display().to_string();
    let mut table = vec![format!("{:<30} {:<8} bwrap", "act", "warden")];
    for (label, act) in &acts {
        let ours = probe(&s.env, act);
        assert_eq!(ours.code, Some(1), "warden let {label:?} through: {ours:?}");
        let theirs = std::process::Command::new(bwrap)
            .args(["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"])
            .args(["--tmpfs", "/tmp", "--bind", &ws, &ws, "--chdir", &ws])
            .args([
                "--unshare-pid",
                "--unshare-net",
                "--die-with-parent",
                "--new-session",
            ])
            .arg(&probe_path)
            .env("WARDEN_PROBE", act)
            .output()
            .expect("run bwrap");
        let verdict = match theirs.status.code() {
            Some(1) => "blocked".to_string(),
            Some(0) => "ALLOWED".to_string(),
            other => format!("error {other:?}"),
        };
        table.push(format!("{label:<30} {:<8} {verdict}", "blocked"));
    }
    let _ = std::fs::remove_file(&docker);
    println!("{}", table.join("\n"));
}

#[test]
fn the_home_directory_cannot_be_the_workspace() {
    let s = scene();
    let home = s.env.home.display().to_string();
    let out = s.env.run(&["run", "--workspace", &home, "--", "true"]);
    out.code(1).stderr_has(&["holds your home directory"]);
}

#[test]
fn agent_settings_in_a_writable_home_directory_stay_read_only() {
    let s = scene();
    let settings = write(&s.env.home.join(".claude/settings.json"), "{}\n");
    let other = s.env.home.join(".claude/projects.json");
    let bin = probe_bin().display().to_string();
    let run = |act: String| {
        s.env.run_with_env(
            &[
                "run",
                "--profile",
                "claude-code",
                "--env",
                "WARDEN_PROBE",
                "--",
                &bin,
            ],
            &[("WARDEN_PROBE", &act)],
        )
    };
    run(format!("write {}", other.display())).code(0);
    refused(&run(format!("write {}", settings.display())), &["EROFS"]);
    refused(
        &run(format!(
            "rename {} {}",
            s.env.home.join(".claude").display(),
            s.env.home.join("c2").display()
        )),
        &["EBUSY", "EXDEV", "EROFS"],
    );
    assert_eq!(std::fs::read_to_string(&settings).unwrap(), "{}\n");
}
