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
    let mut o = Observer::load().expect("the observer loads");
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
        ..
    } = e
    else {
        unreachable!()
    };
    assert_eq!(path, "/bin/echo");
    assert_eq!(
        argv,
        vec![
            "/bin/echo".to_string(),
            "-n".into(),
            marker.clone(),
            "second".into()
        ]
    );
    assert!(!truncated);

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

fn cgroup2_mount() -> Option<PathBuf> {
    std::fs::read_to_string("/proc/self/mounts")
        .ok()?
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.get(2) == Some(&"cgroup2")).then(|| PathBuf::from(f[1]))
        })
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
    let mut o = Observer::load().unwrap();
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
    let mut o = Observer::load().unwrap();
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
