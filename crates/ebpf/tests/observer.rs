//! The observer on the real kernel (root, as CI runs): a process started
//! outside warden is seen exec'ing with its arguments and connecting; a
//! cgroup's denied port is refused by the kernel; the BPF LSM is probed and
//! its absence said out loud.
#![cfg(feature = "bpf")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use warden_ebpf::{Event, Observer};

fn root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
}

fn cgroup2_mount() -> Option<PathBuf> {
    std::fs::read_to_string("/proc/self/mounts")
        .ok()?
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.get(2) == Some(&"cgroup2")).then(|| PathBuf::from(f[1]))
        })
}

/// The observer, its connect programs on the cgroup v2 root.
fn load() -> Observer {
    let root = cgroup2_mount().expect("a cgroup v2 hierarchy (the observer's connect hooks)");
    Observer::load(&root).expect("the observer loads")
}

/// Drains events until `want` matches one, for at most 10 s.
fn wait_for(o: &mut Observer, want: impl Fn(&Event) -> bool) -> Event {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut found = None;
        o.drain(|e| {
            if let Ok(e) = e
                && found.is_none()
                && want(&e)
            {
                found = Some(e);
            }
        });
        if let Some(e) = found {
            return e;
        }
        assert!(Instant::now() < deadline, "no such event");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn execs_and_connects_of_any_process_are_seen() {
    if !root() {
        println!("SKIP: loading BPF programs needs root (CI runs as root)");
        return;
    }
    let mut o = load();
    let marker = format!("warden-ebpf-{}", std::process::id());
    let status = Command::new("/bin/echo")
        .args(["-n", &marker, "second"])
        .status()
        .unwrap();
    assert!(status.success());
    let e = wait_for(
        &mut o,
        |e| matches!(e, Event::Exec { argv, .. } if argv.get(1) == Some(&"-n".to_string()) && argv.contains(&marker)),
    );
    let Event::Exec {
        path,
        argv,
        truncated,
        process,
        interpreter,
    } = e
    else {
        unreachable!()
    };
    assert_eq!(path, "/bin/echo");
    // Seen once it succeeded: the process is the new program.
    assert_eq!(process.comm, "echo");
    assert_eq!(
        argv,
        vec![
            "/bin/echo".to_string(),
            "-n".into(),
            marker.clone(),
            "second".into()
        ]
    );
    assert!(!truncated && interpreter.is_empty());

    // A script: the kernel runs its interpreter, which is told apart; the
    // arguments are the caller's, from the script's path on.
    let dir = std::env::temp_dir().join(format!("warden-ebpf-script-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("hello.sh");
    std::fs::write(&script, "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let script = script.to_string_lossy().into_owned();
    assert!(
        Command::new(&script)
            .arg(&marker)
            .status()
            .unwrap()
            .success()
    );
    let e = wait_for(
        &mut o,
        |e| matches!(e, Event::Exec { path, .. } if *path == script),
    );
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        matches!(&e, Event::Exec { argv, interpreter, .. }
            if argv == &[script.clone(), marker.clone()] && interpreter == &["/bin/sh"]),
        "{e:?}"
    );

    // Any number of arguments, as long as the command line fits in the
    // record; a longer one is cut and said to be.
    let many: Vec<String> = (0..40).map(|i| format!("{marker}-{i}")).collect();
    Command::new("/bin/echo").args(&many).output().unwrap();
    let e = wait_for(
        &mut o,
        |e| matches!(e, Event::Exec { argv, .. } if argv.get(1) == Some(&many[0])),
    );
    assert!(matches!(&e, Event::Exec { argv, truncated: false, .. } if argv[1..] == many[..]));
    let long = format!("{marker}-{}", "x".repeat(3000));
    Command::new("/bin/echo").arg(&long).output().unwrap();
    let e = wait_for(
        &mut o,
        |e| matches!(e, Event::Exec { argv, .. } if argv.get(1).is_some_and(|a| a.starts_with(&format!("{marker}-x")))),
    );
    let Event::Exec {
        argv, truncated, ..
    } = e
    else {
        unreachable!()
    };
    assert!(truncated);
    assert_eq!(argv.len(), 2);
    assert!(long.starts_with(&argv[1]) && argv[1].len() == 2048 - "/bin/echo\0".len());

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let out = Command::new("python3")
        .args([
            "-c",
            &format!("import socket; socket.create_connection(('127.0.0.1', {port}))"),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let e = wait_for(
        &mut o,
        |e| matches!(e, Event::Connect { port: p, .. } if *p == port),
    );
    let Event::Connect { addr, process, .. } = e else {
        unreachable!()
    };
    assert_eq!(addr.to_string(), "127.0.0.1");
    assert!(process.comm.starts_with("python"), "{process:?}");
    assert_eq!(o.dropped(), 0);
}

/// A cgroup v2 directory of one test, removed when the test ends.
struct TestCgroup(PathBuf);

impl TestCgroup {
    fn create(mount: &std::path::Path, name: &str) -> TestCgroup {
        let dir = mount.join(format!("warden-ebpf-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TestCgroup(dir)
    }

    /// `sh -c SCRIPT ARG0`, moved into the cgroup before SCRIPT runs.
    fn run(&self, script: &str, arg0: &str) -> std::process::Output {
        let script = format!("echo $$ > '{}/cgroup.procs' && {script}", self.0.display());
        Command::new("sh")
            .args(["-c", &script, arg0])
            .output()
            .unwrap()
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}

#[test]
fn a_denied_port_is_refused_to_the_cgroup_only() {
    if !root() {
        println!("SKIP: cgroup connect programs need root (CI runs as root)");
        return;
    }
    let Some(mount) = cgroup2_mount() else {
        println!("SKIP: no cgroup v2 hierarchy mounted on this machine");
        return;
    };
    let cg = TestCgroup::create(&mount, "test");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut o = load();
    o.deny_port(&cg.0, port).unwrap();
    let connect = format!(
        "import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}))\n    print('connected')\nexcept OSError as e:\n    print('refused', e.errno)"
    );
    let inside = cg.run("exec python3 -c \"$0\"", &connect);
    let outside = Command::new("python3")
        .args(["-c", &connect])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&inside.stdout).trim(),
        "refused 1",
        "{}",
        String::from_utf8_lossy(&inside.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&outside.stdout).trim(), "connected");
}

#[test]
fn execs_in_a_marked_cgroup_are_refused_where_the_bpf_lsm_loads() {
    if !root() {
        println!("SKIP: BPF LSM: loading BPF programs needs root (CI runs as root)");
        return;
    }
    if let Err(why) = warden_ebpf::lsm_listed() {
        println!("SKIP: BPF LSM exec denial not tested: {why}");
        return;
    }
    let mut o = load();
    if let Err(why) = o.enforce_execs() {
        println!("SKIP: BPF LSM exec denial not tested: the kernel refused the program: {why}");
        return;
    }
    let Some(mount) = cgroup2_mount() else {
        println!("SKIP: BPF LSM exec denial not tested: no cgroup v2 hierarchy");
        return;
    };
    let cg = TestCgroup::create(&mount, "lsm");
    o.deny_execs_in(&cg.0).unwrap();
    let out = cg.run("/bin/true && echo ran", "sh");
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("ran"),
        "an exec in a marked cgroup ran"
    );
    println!("BPF LSM: execs in a marked cgroup refused");
}
