//! A daemon in a tempdir, and clients for it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use hyper::{Method, StatusCode};
use serde_json::{Value, json};
use warden_daemon::client::Client;
use warden_daemon::{Config, Daemon};

pub struct Home {
    _dir: tempfile::TempDir,
    pub user_home: PathBuf,
    pub state: PathBuf,
    pub policy: PathBuf,
    pub workspace: PathBuf,
}

impl Home {
    pub fn new() -> Home {
        let dir = tempfile::Builder::new()
            .prefix("warden-daemon-test-")
            .tempdir()
            .unwrap();
        let base = dir.path().canonicalize().unwrap();
        let user_home = base.join("home");
        let workspace = base.join("workspace");
        std::fs::create_dir_all(&user_home).unwrap();
        std::fs::create_dir_all(&workspace).unwrap();
        Home {
            policy: user_home.join("config/warden/policy.toml"),
            state: user_home.join("state"),
            user_home,
            workspace,
            _dir: dir,
        }
    }

    pub fn config(&self) -> Config {
        let mut c = Config::new(self.user_home.clone(), self.state.clone());
        c.user_policy = self.policy.clone();
        c.system_policy = self.user_home.join("no-system-policy.toml");
        c.tcp = "127.0.0.1:0".parse().ok();
        c.proxy_tcp = "127.0.0.1:0".parse().ok();
        c.durability = warden_audit::Durability::Fast;
        c
    }

    pub fn socket(&self) -> PathBuf {
        self.state.join("warden.sock")
    }
}

pub async fn start(config: Config) -> Daemon {
    Daemon::start(config).await.expect("daemon starts")
}

pub fn client(socket: &Path) -> Client {
    Client::new(socket, Duration::from_secs(60))
}

/// `POST /v1/decide` of a shell command, with an optional session secret.
pub async fn decide(
    c: &Client,
    cwd: &Path,
    command: &str,
    secret: Option<&str>,
) -> (StatusCode, Value) {
    let action = json!({ "cwd": cwd, "kind": { "shell": { "command": command } } });
    let headers: Vec<(&str, &str)> = secret
        .map(|s| vec![("x-warden-secret", s)])
        .unwrap_or_default();
    c.call(Method::POST, "/v1/decide", Some(&action), &headers)
        .await
        .unwrap()
}

/// `POST /v1/decide` of any action; returns the verdict.
pub async fn decide_action(c: &Client, action: &Value, secret: Option<&str>) -> Value {
    let headers: Vec<(&str, &str)> = secret
        .map(|s| vec![("x-warden-secret", s)])
        .unwrap_or_default();
    c.call(Method::POST, "/v1/decide", Some(action), &headers)
        .await
        .unwrap()
        .1
}

/// Registers a session and returns (session id, secret).
pub async fn register(
    c: &Client,
    agent: &str,
    autonomy: &str,
    workspace: &Path,
    pid: Option<u32>,
) -> (String, String) {
    let body = json!({ "agent": agent, "autonomy": autonomy, "workspace": workspace, "pid": pid });
    let v = c
        .ok(Method::POST, "/v1/sessions", Some(&body))
        .await
        .unwrap();
    (
        v["session"].as_str().unwrap().into(),
        v["secret"].as_str().unwrap().into(),
    )
}

/// Waits until the daemon lists a pending ask, and returns it.
pub async fn pending_ask(c: &Client) -> Value {
    for _ in 0..400 {
        let asks = c.ok(Method::GET, "/v1/asks", None).await.unwrap();
        if let Some(a) = asks.as_array().and_then(|a| a.first()) {
            return a.clone();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("no ask appeared");
}

/// An HTTP request over the Unix socket from another process (python3), which
/// first waits `delay_s`, so its pid can be registered as a session's root
/// before it calls. Returns the child; its stdout is `STATUS BODY`.
pub fn spawn_caller(
    socket: &Path,
    delay_s: f64,
    method: &str,
    path: &str,
    body: &str,
) -> std::process::Child {
    const SCRIPT: &str = r#"
import http.client, socket, sys, time
class C(http.client.HTTPConnection):
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(sys.argv[1])
time.sleep(float(sys.argv[2]))
c = C("warden", timeout=60)
c.request(sys.argv[3], sys.argv[4], body=sys.argv[5].encode(), headers={"content-type": "application/json"})
r = c.getresponse()
print(r.status, r.read().decode())
"#;
    // exec: the python process keeps the pid the test registers.
    std::process::Command::new("sh")
        .arg("-c")
        .arg("exec python3 -c \"$0\" \"$@\"")
        .arg(SCRIPT)
        .arg(socket)
        .arg(delay_s.to_string())
        .arg(method)
        .arg(path)
        .arg(body)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs the caller")
}

/// The child's `STATUS BODY` output.
pub fn caller_output(child: std::process::Child) -> (u16, Value) {
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let (status, body) = text.trim().split_once(' ').unwrap_or((text.trim(), ""));
    (
        status.parse().unwrap_or(0),
        serde_json::from_str(body).unwrap_or(Value::String(body.into())),
    )
}
