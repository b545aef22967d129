//! `warden watch` (built with `--features ebpf`, run as root as CI does):
//! processes started outside warden are seen by the kernel and recorded by
//! the daemon, and an agent program outside every session is an alert.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use crate::daemon::up;

use crate::support::Env;

struct Watch(Child);

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
}

/// Starts `warden watch` with `args` and waits until it observes.
fn watch(env: &Env, args: &[&str]) -> Watch {
    let mut child = env.spawn(&[&["watch"], args].concat());
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    loop {
        let line = lines.next().expect("warden watch said nothing").unwrap();
        if line.contains("observing every exec") {
            break;
        }
        assert!(!line.contains("error"), "{line}");
    }
    std::thread::spawn(move || for _ in lines {});
    Watch(child)
}

fn audit_has(env: &Env, text: &str, also: &str) -> String {
    // Every process of the machine is observed: under a loaded test run the
    // daemon may be some way behind.
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let out = env.run(&["audit", "search", text]).stdout;
        if let Some(line) = out.lines().find(|l| l.contains(also)) {
            return line.to_string();
        }
        assert!(
            Instant::now() < deadline,
            "no audit entry with {text} and {also}:\n{out}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A daemon with `warden watch` feeding it, or `None` (and a SKIP line)
/// where BPF programs cannot be loaded.
fn watched() -> Option<(Env, crate::daemon::Up, Watch)> {
    watched_with(&[])
}

fn watched_with(args: &[&str]) -> Option<(Env, crate::daemon::Up, Watch)> {
    if !root() {
        println!("SKIP: warden watch loads BPF programs, which needs root (CI runs as root)");
        return None;
    }
    let env = Env::new();
    let d = up(&env, &[]);
    let w = watch(&env, args);
    Some((env, d, w))
}

#[test]
fn execs_and_connects_outside_warden_are_recorded_with_argv() {
    let Some((env, _d, _w)) = watched() else {
        return;
    };
    let marker = format!("watched-{}", std::process::id());
    assert!(
        Command::new("/bin/echo")
            .args([&marker, "two words"])
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap()
            .success()
    );
    // (The observer sees the `warden audit search` of this test too: each
    // lookup names the line it wants.)
    let line = audit_has(&env, &marker, "exec /bin/echo");
    assert!(
        line.contains(&format!("exec /bin/echo {marker} two words")),
        "{line}"
    );
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let _ = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let line = audit_has(&env, &format!("127.0.0.1:{port}"), "connect 127.0.0.1");
    assert!(
        line.contains(&format!("connect 127.0.0.1:{port}")),
        "{line}"
    );
    // A process of a session is recorded as that session's agent: the
    // kernel's pid, placed in the process tree, not anything it claims. The
    // session outlives its short-lived child, as agents do (the echo is gone
    // when its event is read, and is placed by its parent): it waits until
    // the test has seen the record.
    let done = env.home.join("seen");
    let script = format!(
        r#"
import subprocess, time
req("POST", "/v1/sessions", {{"agent": "codex", "pid": os.getpid()}})
subprocess.run(["/bin/echo", "{marker}-in-session"], stdout=subprocess.DEVNULL)
deadline = time.time() + 90
while not os.path.exists("{}") and time.time() < deadline:
    time.sleep(0.05)
print("ran")
"#,
        done.display()
    );
    let session = {
        let env_ref = &env;
        std::thread::scope(|s| {
            let h = s.spawn(move || crate::daemon::python_api(env_ref, &script));
            let line = audit_has(env_ref, &format!("{marker}-in-session"), "exec /bin/echo");
            std::fs::write(&done, "").unwrap();
            let (out, err) = h.join().unwrap();
            assert!(out.contains("ran"), "{out} {err}");
            line
        })
    };
    assert!(session.contains("codex"), "{session}");
}

#[test]
fn an_agent_outside_every_session_is_an_ungoverned_agent_alert() {
    let Some((env, _d, _w)) = watched() else {
        return;
    };
    let claude = env.home.join("bin").join("claude");
    std::fs::create_dir_all(claude.parent().unwrap()).unwrap();
    std::fs::copy("/bin/true", &claude).unwrap();
    assert!(
        Command::new(&claude)
            .arg("--print")
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let status = env.run(&["status"]).stdout;
        if status.contains("ungoverned agent") && status.contains("claude --print") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no ungoverned-agent alert:\n{status}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_process_connecting_to_an_llm_host_outside_every_session_is_an_alert() {
    // The "LLM API host" is a loopback listener, named as the observer
    // would be told a provider's host: by a name it resolves.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let host = format!("localhost:{port}");
    let Some((env, _d, _w)) = watched_with(&["--llm-host", &host]) else {
        return;
    };
    // The names are resolved on a thread of their own: connect until the
    // observer knows the address.
    let me = std::process::id();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let _ = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let status = env.run(&["status"]).stdout;
        let alerts: Vec<&str> = status
            .lines()
            .filter(|l| l.contains("talks to the LLM API host localhost"))
            .collect();
        if let Some(a) = alerts.first() {
            assert!(a.contains(&format!("process {me} (")), "{status}");
            assert!(a.contains(&format!("connect 127.0.0.1:{port}")), "{status}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no ungoverned-agent alert for the LLM host:\n{status}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // Once per user and host, however often it connects: three more,
    // recorded, and still one alert.
    let marker = format!("127.0.0.1:{port}");
    let before = env
        .run(&["audit", "search", &marker])
        .stdout
        .matches("connect 127.0.0.1")
        .count();
    for _ in 0..3 {
        let _ = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(90);
    while env
        .run(&["audit", "search", &marker])
        .stdout
        .matches("connect 127.0.0.1")
        .count()
        < before + 3
    {
        assert!(
            Instant::now() < deadline,
            "the later connects were not recorded"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let status = env.run(&["status"]).stdout;
    let alerts = status
        .lines()
        .filter(|l| l.contains("talks to the LLM API host localhost"))
        .count();
    assert_eq!(alerts, 1, "{status}");
}

/// The cgroup v2 mount point (`/sys/fs/cgroup/unified` on a hybrid system).
fn cgroup2_mount() -> Option<std::path::PathBuf> {
    let mounts = std::fs::read_to_string("/proc/self/mounts").ok()?;
    mounts.lines().find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.get(2) == Some(&"cgroup2")).then(|| f[1].into())
    })
}

/// A `warden run` session whose probe connects to the egress relay port
/// (7421, the one port a connect inside may reach) when `go1` appears and
/// again when `go2` does, printing "first …" and "second …" ("connected" or
/// "refused ERRNO"). `None` (and a SKIP line) without root or cgroup v2.
struct Probed {
    env: Env,
    _daemon: crate::daemon::Up,
    run: Child,
    out: std::io::Lines<BufReader<std::process::ChildStdout>>,
    session: String,
    cgroup: std::path::PathBuf,
}

fn probed_session(policy_extra: &str) -> Option<Probed> {
    if !root() {
        println!("SKIP: session cgroups and BPF programs need root (CI runs as root)");
        return None;
    }
    let Some(mount) = cgroup2_mount() else {
        println!("SKIP: no cgroup v2 hierarchy mounted on this machine");
        return None;
    };
    let env = Env::new_in(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")));
    crate::support::write(
        &env.user_policy(),
        &format!("version = 1\n[defaults]\nautonomy = \"delegated\"\n{policy_extra}"),
    );
    let daemon = up(&env, &[]);
    let probe = r#"import os, socket, time
def connect(go):
    while not os.path.exists(go):
        time.sleep(0.05)
    try:
        socket.create_connection(("127.0.0.1", 7421), timeout=5).close()
        return "connected"
    except OSError as e:
        return "refused %d" % e.errno
print("first", connect("go1"), flush=True)
print("second", connect("go2"), flush=True)
"#;
    crate::support::write(&env.ws.join("probe.py"), probe);
    let mut run = env.spawn(&["run", "--timeout", "60s", "--", "python3", "probe.py"]);
    let out = BufReader::new(run.stdout.take().unwrap()).lines();
    let deadline = Instant::now() + Duration::from_secs(30);
    let session = loop {
        let (ids, _) = crate::daemon::python_api(
            &env,
            r#"print(" ".join(s["id"] for s in req("GET", "/v1/sessions")[1] if s["state"] == "active"))"#,
        );
        if let Some(id) = ids.split_whitespace().next() {
            break id.to_string();
        }
        assert!(Instant::now() < deadline, "no session for warden run");
        std::thread::sleep(Duration::from_millis(50));
    };
    let cgroup = mount.join("warden").join(&session);
    assert!(cgroup.is_dir(), "no cgroup {}", cgroup.display());
    // The sandbox's processes are in it (made there by clone3, or joined),
    // warden run itself is not.
    let procs = loop {
        let procs = std::fs::read_to_string(cgroup.join("cgroup.procs")).unwrap_or_default();
        if !procs.trim().is_empty() {
            break procs;
        }
        assert!(Instant::now() < deadline, "nothing in {}", cgroup.display());
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(
        !procs.lines().any(|p| p == run.id().to_string()),
        "warden run itself is in its session's cgroup: {procs}"
    );
    Some(Probed {
        env,
        _daemon: daemon,
        run,
        out,
        session,
        cgroup,
    })
}

impl Drop for Probed {
    fn drop(&mut self) {
        // A failed test leaves no sandbox waiting for its go files.
        let _ = self.run.kill();
        let _ = self.run.wait();
    }
}

impl Probed {
    /// Lets the probe connect (`go1` or `go2`); what it says.
    fn connect(&mut self, go: &str) -> String {
        std::fs::write(self.env.ws.join(go), "").unwrap();
        self.out.next().unwrap().unwrap()
    }

    /// Waits for the probe to end well, and its cgroup to go with it.
    fn finish(&mut self) {
        assert!(self.run.wait().unwrap().success());
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.cgroup.exists() {
            assert!(
                Instant::now() < deadline,
                "{} left behind",
                self.cgroup.display()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Starts `warden watch ARGS` and reads its stderr until `said`.
fn watch_until(env: &Env, args: &[&str], said: &str) -> Watch {
    let mut w = Watch(env.spawn(&[&["watch"], args].concat()));
    let mut lines = BufReader::new(w.0.stderr.take().unwrap()).lines();
    for line in lines.by_ref() {
        if line.unwrap().contains(said) {
            std::thread::spawn(move || for _ in lines {});
            return w;
        }
    }
    panic!("warden watch ended before saying {said:?}");
}

#[test]
fn a_session_refused_a_port_by_hand_is_refused_by_the_kernel_and_named_by_the_observer() {
    let Some(mut p) = probed_session("") else {
        return;
    };
    assert_eq!(p.connect("go1"), "first connected");
    let session = p.session.clone();
    let mut print = watch_until(
        &p.env,
        &["--print", "--deny-port", &format!("{session}:7421")],
        &format!("connects to port 7421 refused for session {session}"),
    );
    assert_eq!(p.connect("go2"), "second refused 1");
    // Each of the session's events is named from its cgroup.
    let named = format!(r#""session_cgroup":"{session}""#);
    let line = BufReader::new(print.0.stdout.take().unwrap())
        .lines()
        .find(|l| l.as_ref().is_ok_and(|l| l.contains(r#""port":7421"#)))
        .unwrap()
        .unwrap();
    assert!(line.contains(&named), "{line}");
    drop(print);
    p.finish();
}

#[test]
fn a_port_the_policy_denies_every_host_is_refused_to_a_session_by_the_kernel() {
    let Some(mut p) = probed_session(
        "[[rule]]\nid = \"no-relay-port\"\ndeny = [\"Net(*:7421)\"]\nreason = \"test\"\n",
    ) else {
        return;
    };
    assert_eq!(p.connect("go1"), "first connected");
    let session = p.session.clone();
    let fed = watch_until(
        &p.env,
        &[],
        &format!("connects to port 7421 refused for session {session}"),
    );
    assert_eq!(p.connect("go2"), "second refused 1");
    drop(fed);
    p.finish();
}
