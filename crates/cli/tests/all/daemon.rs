//! `warden up` as a real process: decisions through `warden decide`, asks
//! answered from a real pseudo-terminal, `warden down`/`status`/`--detach`,
//! and a daemon killed with SIGKILL while an ask is pending.

use std::io::{BufRead, BufReader};
use std::process::Child;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::Env;

/// A `warden up` child, killed if the test ends early.
pub(crate) struct Up(Option<Child>);

impl Up {
    /// No daemon (to put in place of one that is stopped).
    pub(crate) fn none() -> Up {
        Up(None)
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Starts `warden up --no-tcp …` and waits until it answers.
pub(crate) fn up(env: &Env, extra: &[&str]) -> Up {
    let mut args = vec!["up", "--no-tcp", "--mode", "fast"];
    args.extend_from_slice(extra);
    started(env, &args)
}

/// Starts `warden up` with its API on loopback TCP at `listen` as well.
pub(crate) fn up_listening(env: &Env, listen: &str) -> Up {
    started(env, &["up", "--listen", listen, "--mode", "fast"])
}

fn started(env: &Env, args: &[&str]) -> Up {
    let mut child = env.spawn(args);
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let first = lines.next().expect("the daemon printed nothing").unwrap();
    assert!(first.starts_with("warden is up"), "{first}");
    // Keep draining its output so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Up(Some(child))
}

pub(crate) fn decide(env: &Env, action: &str) -> (Option<i32>, Value) {
    let out = env.run(&["decide", "--json", "--action", action]);
    let v = serde_json::from_str(out.stdout.trim()).unwrap_or(Value::Null);
    (out.code, v)
}

pub(crate) fn wait_for_ask(env: &Env) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = env.run(&["asks", "--json"]);
        let v: Value = serde_json::from_str(&out.stdout).unwrap_or(Value::Null);
        if let Some(id) = v[0]["id"].as_str() {
            return id.to_string();
        }
        assert!(
            Instant::now() < deadline,
            "no ask appeared: {} {}",
            out.stdout,
            out.stderr
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

const PUSH: &str = r#"{"cwd":"/tmp","kind":{"shell":{"command":"git push origin main"}}}"#;

/// Runs a python3 `script` that talks to the daemon's socket as any HTTP
/// client would: it gets `req(method, path, body=None, headers={})`
/// returning `(status, json)`. Its stdout, and its stderr.
pub(crate) fn python_api(env: &Env, script: &str) -> (String, String) {
    const PREAMBLE: &str = r#"
import http.client, json, os, socket, sys
class C(http.client.HTTPConnection):
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX); self.sock.connect(sys.argv[1])
def req(method, path, body=None, headers={}):
    c = C("warden"); c.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    r = c.getresponse(); return r.status, json.loads(r.read() or b"null")
"#;
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(format!("{PREAMBLE}{script}"))
        .arg(env.state.join("warden.sock"))
        .output()
        .unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub(crate) fn register(env: &Env) -> String {
    register_as(env, "codex")
}

/// The secret of a session registered for `agent` (a plain name).
pub(crate) fn register_as(env: &Env, agent: &str) -> String {
    // A trusted interceptor registers a session over the socket.
    let (out, _) = python_api(
        env,
        &format!(
            r#"print(req("POST", "/v1/sessions", {{"agent": "{agent}", "autonomy": "executor"}})[1]["secret"])"#
        ),
    );
    out.trim().to_string()
}

#[test]
fn decisions_go_through_the_daemon_and_land_in_the_audit_log() {
    let env = Env::new();
    let _up = up(&env, &[]);
    let (code, v) = decide(
        &env,
        r#"{"cwd":"/tmp","kind":{"shell":{"command":"git status"}}}"#,
    );
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(v["audit"]["seq"], 0);
    let show = env.run(&["audit", "show"]);
    assert!(
        show.code(0).stdout.contains("git status"),
        "{}",
        show.stdout
    );
    let status = env.run(&["status"]);
    assert!(
        status.code(0).stdout.contains("1 allowed"),
        "{}",
        status.stdout
    );
    // A second daemon for the same home is refused.
    let second = env.run(&["up", "--no-tcp"]);
    assert!(
        second.code(1).stderr.contains("already running"),
        "{}",
        second.stderr
    );
    env.run(&["down"]).code(0);
    env.run(&["status"]).code(1);
    // No daemon: `warden decide` fails closed.
    let (code, v) = decide(&env, r#"{"cwd":"/tmp","kind":{"shell":{"command":"ls"}}}"#);
    assert_eq!(code, Some(2));
    assert!(
        v["reason"]
            .as_str()
            .unwrap()
            .contains("no verdict from the daemon"),
        "{v}"
    );
}

#[test]
fn an_ask_is_approved_from_a_terminal_and_refused_without_one() {
    let env = Env::new();
    let _up = up(&env, &[]);
    let secret = register(&env);
    let asker = {
        let mut c = env.spawn(&["decide", "--json", "--secret", &secret, "--action", PUSH]);
        let out = c.stdout.take().unwrap();
        (c, out)
    };
    let id = wait_for_ask(&env);
    // Not a terminal (a script, an agent's tool): refused.
    let refused = env.run(&["approve", &id]);
    assert!(
        refused.code(1).stderr.contains("terminal"),
        "{}",
        refused.stderr
    );
    // A real pseudo-terminal, as a person has.
    let ok = env.run_in_pty(&["approve", &id]);
    assert!(
        ok.code(0).stdout.contains("approved"),
        "{} {}",
        ok.stdout,
        ok.stderr
    );
    let (mut child, out) = asker;
    let text = std::io::read_to_string(out).unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(0), "{text}");
    let v: Value = serde_json::from_str(text.trim()).unwrap();
    assert_eq!(v["decision"], "allow");
    assert!(
        v["answered"]["by"]
            .as_str()
            .unwrap()
            .starts_with("cli:uid="),
        "{v}"
    );
}

#[test]
fn a_daemon_killed_during_an_ask_leaves_the_asker_denied_and_restarts_intact() {
    let env = Env::new();
    let mut daemon = up(&env, &[]);
    let secret = register(&env);
    let mut asker = env.spawn(&["decide", "--json", "--secret", &secret, "--action", PUSH]);
    wait_for_ask(&env);
    let mut d = daemon.0.take().unwrap();
    d.kill().unwrap(); // SIGKILL
    d.wait().unwrap();
    let out = std::io::read_to_string(asker.stdout.take().unwrap()).unwrap();
    assert_eq!(asker.wait().unwrap().code(), Some(2), "{out}");
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["decision"], "deny", "{v}");
    // It comes back up over its own stale socket and lock, with the log intact.
    let _again = up(&env, &[]);
    let (code, _) = decide(
        &env,
        r#"{"cwd":"/tmp","kind":{"shell":{"command":"git status"}}}"#,
    );
    assert_eq!(code, Some(0));
    let verify = env.run(&["audit", "verify"]);
    assert!(
        verify.code(0).stdout.starts_with("INTACT"),
        "{}",
        verify.stdout
    );
}

#[test]
fn detach_status_and_down() {
    let env = Env::new();
    let out = env.run(&["up", "--detach", "--no-tcp", "--mode", "fast"]);
    assert!(
        out.code(0).stdout.contains("in the background"),
        "{}",
        out.stdout
    );
    let pid: u32 = std::fs::read_to_string(env.state.join("warden.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let status = env.run(&["status", "--json"]);
    let v: Value = serde_json::from_str(&status.code(0).stdout).unwrap();
    assert_eq!(v["pid"], pid);
    env.run(&["down"]).code(0);
    assert!(!env.state.join("warden.sock").exists());
    let out = env.run(&["down"]);
    assert!(out.code(0).stdout.contains("not running"), "{}", out.stdout);
}

/// The name and gid of this process's effective group.
fn own_group() -> (String, u32) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let gid: u32 = status
        .lines()
        .find_map(|l| l.strip_prefix("Gid:"))
        .and_then(|g| g.split_whitespace().nth(1))
        .unwrap()
        .parse()
        .unwrap();
    let groups = std::fs::read_to_string("/etc/group").unwrap();
    let name = groups
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() > 2 && f[2].parse::<u32>().ok() == Some(gid)).then(|| f[0].to_string())
        })
        .unwrap();
    (name, gid)
}

#[test]
fn system_mode_shares_the_socket_with_a_group_and_trusts_only_its_members() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let env = Env::new();
    let (group, gid) = own_group();
    let _up = up(&env, &["--socket-group", &group]);
    let socket = env.state.join("warden.sock");
    let meta = std::fs::metadata(&socket).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o660);
    assert_eq!(meta.gid(), gid);
    let root = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"));
    if !root {
        println!("SKIPPED (not root): callers of another uid, with and without the group");
        return;
    }
    // The state directory must be traversable for another uid to reach the socket.
    for d in [&env.state, env.state.parent().unwrap()] {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o711)).unwrap();
    }
    let call = |groups: &str| {
        let script = format!(
            r#"
import http.client, os, socket, sys
os.setgroups([{groups}]); os.setgid(65534); os.setuid(65534)
class C(http.client.HTTPConnection):
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX); self.sock.connect(sys.argv[1])
try:
    c = C("warden"); c.request("GET", "/v1/asks"); print(c.getresponse().status)
except OSError as e:
    print("refused", e.errno)
"#
        );
        let out = std::process::Command::new("python3")
            .arg("-c")
            .arg(script)
            .arg(&socket)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(
        call(&gid.to_string()),
        "200",
        "a member of the group is trusted"
    );
    let outsider = call("");
    assert!(
        outsider.starts_with("refused 13"),
        "a non-member cannot reach the socket: {outsider}"
    );
}

#[test]
fn the_systemd_unit_verifies() {
    let Ok(analyze) = which("systemd-analyze") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have systemd-analyze (scripts/test installs it)"
        );
        println!("SKIPPED: systemd-analyze is not installed");
        return;
    };
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../contrib/systemd/warden.service"
    ))
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("warden.service");
    std::fs::write(
        &path,
        unit.replace("/usr/local/bin/warden", env!("CARGO_BIN_EXE_warden")),
    )
    .unwrap();
    let out = std::process::Command::new(analyze)
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(
        !text.contains("Unknown key") && !text.contains("Unknown section"),
        "{text}"
    );
}

fn which(prog: &str) -> Result<std::path::PathBuf, ()> {
    std::env::var_os("PATH")
        .and_then(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join(prog))
                .find(|f| f.is_file())
        })
        .ok_or(())
}
