//! A sealed environment for running the real `warden` binary.
//!
//! warden reads `HOME`, `XDG_CONFIG_HOME`, `WARDEN_HOME`, `WARDEN_SYSTEM_POLICY`
//! and the working directory to find its policy layers and its own state. A test
//! that inherited any of them from the developer's machine would test that
//! machine's policy (or, worse, write to it), so every run gets fresh values, all
//! inside one tempdir, and every other `WARDEN_*`/`XDG_*` variable is removed.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A run that takes longer than this is a hang, reported as a failure rather than
/// a test binary that never finishes.
const TIMEOUT: Duration = Duration::from_secs(120);

/// One isolated machine: a home, a workspace, warden's state and config dirs, and
/// a system-layer path that does not exist until [`Env::write_system_policy`].
pub struct Env {
    _root: tempfile::TempDir,
    /// `$HOME`.
    pub home: PathBuf,
    /// The agent's workspace, and the current directory of every run.
    pub ws: PathBuf,
    /// `$XDG_CONFIG_HOME` (inside `home`, deliberately not `~/.config`, so tests
    /// see whether warden honours the variable).
    pub xdg: PathBuf,
    /// `$WARDEN_HOME` (inside `home`, deliberately not the default
    /// `~/.local/state/warden`, which the default policy names by itself).
    pub state: PathBuf,
    /// `$WARDEN_SYSTEM_POLICY`: absent unless a test writes it.
    pub system: PathBuf,
    /// More environment for every run (see `set_env`).
    extra: Vec<(String, String)>,
}

impl Env {
    pub fn new() -> Env {
        Env::new_in(&std::env::temp_dir())
    }

    /// Like [`Env::new`], below `dir` (the sandbox tests need a place that
    /// is not under /tmp, which the sandbox replaces with its own).
    pub fn new_in(dir: &Path) -> Env {
        std::fs::create_dir_all(dir).expect("create the test base dir");
        let root = tempfile::Builder::new()
            .prefix("warden-cli-test-")
            .tempdir_in(dir)
            .expect("tempdir");
        // Canonical, so the paths we expect match the resolved paths warden reports.
        let base = root.path().canonicalize().expect("canonical tempdir");
        let home = base.join("home");
        let ws = base.join("workspace");
        let xdg = home.join("xdg-config");
        let state = home.join("warden-state");
        let system = base.join("etc-warden").join("policy.toml");
        for d in [&home, &ws, &xdg, &state] {
            std::fs::create_dir_all(d).expect("create test dirs");
        }
        Env {
            _root: root,
            home,
            ws,
            xdg,
            state,
            system,
            extra: Vec::new(),
        }
    }

    /// Sets `key=value` in the environment of every later run.
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.extra.push((key.into(), value.into()));
    }

    /// The user layer's default location: `$XDG_CONFIG_HOME/warden/policy.toml`.
    pub fn user_policy(&self) -> PathBuf {
        self.xdg.join("warden").join("policy.toml")
    }

    /// The project layer: `<workspace>/.warden/policy.toml`.
    pub fn project_policy(&self) -> PathBuf {
        self.ws.join(".warden").join("policy.toml")
    }

    pub fn write_project_policy(&self, text: &str) -> PathBuf {
        write(&self.project_policy(), text)
    }

    pub fn write_system_policy(&self, text: &str) -> PathBuf {
        write(&self.system, text)
    }

    /// A file at `rel` under the workspace.
    pub fn write_ws(&self, rel: &str, text: &str) -> PathBuf {
        write(&self.ws.join(rel), text)
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_warden"));
        for (k, _) in std::env::vars_os() {
            let k = k.to_string_lossy().into_owned();
            if k.starts_with("WARDEN_") || k.starts_with("XDG_") {
                c.env_remove(&k);
            }
        }
        c.args(args)
            .current_dir(&self.ws)
            .env("HOME", &self.home)
            .env("XDG_CONFIG_HOME", &self.xdg)
            .env("WARDEN_HOME", &self.state)
            .env("WARDEN_SYSTEM_POLICY", &self.system);
        c.envs(self.extra.iter().map(|(k, v)| (k, v)));
        c
    }

    /// Start `warden ARGS` in the background (stdout and stderr piped).
    pub fn spawn(&self, args: &[&str]) -> std::process::Child {
        self.command(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn warden")
    }

    /// Run `warden ARGS` under a pseudo-terminal (util-linux `script`), as a
    /// person at a terminal would.
    pub fn run_in_pty(&self, args: &[&str]) -> Out {
        let quoted: Vec<String> = std::iter::once(env!("CARGO_BIN_EXE_warden"))
            .chain(args.iter().copied())
            .map(|a| format!("'{}'", a.replace('\'', "'\\''")))
            .collect();
        let c = self.command(&[]);
        let mut script = Command::new("script");
        script.args(["-qec", &quoted.join(" "), "/dev/null"]);
        for (k, v) in c.get_envs() {
            match v {
                Some(v) => script.env(k, v),
                None => script.env_remove(k),
            };
        }
        script.current_dir(&self.ws);
        let out = script.output().expect("script(1) runs");
        Out {
            args: args.iter().map(|s| s.to_string()).collect(),
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n"),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Run `warden ARGS` with an empty stdin.
    pub fn run(&self, args: &[&str]) -> Out {
        self.run_with_stdin(args, &[])
    }

    /// Run `warden ARGS` with more environment for this run only.
    pub fn run_with_env(&self, args: &[&str], envs: &[(&str, &str)]) -> Out {
        let mut c = self.command(args);
        c.envs(envs.iter().copied());
        self.finish(c, args, &[])
    }

    /// Run `warden ARGS` with `stdin` written to it (raw bytes, any size).
    pub fn run_with_stdin(&self, args: &[&str], stdin: &[u8]) -> Out {
        self.finish(self.command(args), args, stdin)
    }

    fn finish(&self, mut c: Command, args: &[&str], stdin: &[u8]) -> Out {
        let mut child = c
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn warden");
        // Feed and drain on threads: a large stdin or stdout must not deadlock on
        // full pipes, and a hang must surface as a timeout.
        let mut sin = child.stdin.take().expect("stdin");
        let input = stdin.to_vec();
        let writer = std::thread::spawn(move || {
            // warden may exit before reading everything (e.g. a usage error).
            let _ = sin.write_all(&input);
        });
        let mut sout = child.stdout.take().expect("stdout");
        let mut serr = child.stderr.take().expect("stderr");
        let out_reader = std::thread::spawn(move || {
            let mut b = Vec::new();
            let _ = sout.read_to_end(&mut b);
            b
        });
        let err_reader = std::thread::spawn(move || {
            let mut b = Vec::new();
            let _ = serr.read_to_end(&mut b);
            b
        });
        let deadline = Instant::now() + TIMEOUT;
        let status = loop {
            if let Some(s) = child.try_wait().expect("wait for warden") {
                break s;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("warden {args:?} did not finish within {TIMEOUT:?}");
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        writer.join().expect("stdin writer");
        let stdout = out_reader.join().expect("stdout reader");
        let stderr = err_reader.join().expect("stderr reader");
        Out {
            args: args.iter().map(|s| s.to_string()).collect(),
            code: status.code(),
            stdout: String::from_utf8(stdout).expect("warden's stdout is UTF-8"),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        }
    }
}

/// Write `text` to `path`, creating its directory.
pub fn write(path: &Path, text: &str) -> PathBuf {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).expect("create parent dir");
    }
    std::fs::write(path, text).expect("write file");
    path.to_path_buf()
}

/// What one run produced.
#[derive(Debug)]
pub struct Out {
    pub args: Vec<String>,
    /// `None` if the process died from a signal (a crash).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    /// Assert the exit code, showing everything the run printed if it differs.
    #[track_caller]
    pub fn code(&self, expected: i32) -> &Self {
        assert_eq!(
            self.code,
            Some(expected),
            "warden {:?}: expected exit {expected}\n--- stdout\n{}\n--- stderr\n{}",
            self.args,
            self.stdout,
            self.stderr
        );
        self
    }

    /// Assert that stdout holds every one of `parts`.
    #[track_caller]
    pub fn stdout_has(&self, parts: &[&str]) -> &Self {
        self.has("stdout", &self.stdout, parts)
    }

    /// Assert that stderr holds every one of `parts`.
    #[track_caller]
    pub fn stderr_has(&self, parts: &[&str]) -> &Self {
        self.has("stderr", &self.stderr, parts)
    }

    #[track_caller]
    fn has(&self, name: &str, text: &str, parts: &[&str]) -> &Self {
        for p in parts {
            assert!(
                text.contains(p),
                "warden {:?}: {p:?} not in {name}:\n{text}",
                self.args
            );
        }
        self
    }

    /// stdout is exactly one JSON object (one line): the Verdict.
    #[track_caller]
    pub fn verdict(&self) -> Value {
        let lines: Vec<&str> = self.stdout.lines().collect();
        assert_eq!(
            lines.len(),
            1,
            "warden {:?}: expected one JSON line on stdout, got:\n{}\n--- stderr\n{}",
            self.args,
            self.stdout,
            self.stderr
        );
        serde_json::from_str(lines[0]).unwrap_or_else(|e| {
            panic!(
                "warden {:?}: stdout is not JSON ({e}):\n{}",
                self.args, self.stdout
            )
        })
    }

    /// Every stdout line parsed as JSON (for `--jsonl`).
    #[track_caller]
    pub fn verdicts(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .map(|l| {
                serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("verdict line is not JSON ({e}): {l}"))
            })
            .collect()
    }
}

/// The verdict's decision.
pub fn decision(v: &Value) -> &str {
    v["decision"].as_str().expect("decision is a string")
}

/// The verdict's rule ids.
pub fn rules(v: &Value) -> Vec<&str> {
    v["rules"]
        .as_array()
        .expect("rules is an array")
        .iter()
        .map(|r| r.as_str().expect("rule id is a string"))
        .collect()
}

/// The verdict's reason.
pub fn reason(v: &Value) -> &str {
    v["reason"].as_str().expect("reason is a string")
}

/// Run `warden check --json ARGS` and return its verdict, asserting that the exit
/// code agrees with the decision.
#[track_caller]
pub fn check_json(env: &Env, args: &[&str]) -> Value {
    let mut full = vec!["check", "--json"];
    full.extend_from_slice(args);
    let out = env.run(&full);
    let v = out.verdict();
    let expected = match decision(&v) {
        "allow" => 0,
        "deny" => 2,
        "ask" => 3,
        other => panic!("unknown decision {other:?}"),
    };
    out.code(expected);
    v
}

/// Assert a verdict's decision and that `rule` is among its rules.
#[track_caller]
pub fn assert_verdict(v: &Value, want_decision: &str, rule: &str) {
    assert_eq!(decision(v), want_decision, "verdict: {v}");
    assert!(
        rules(v).contains(&rule),
        "expected rule {rule:?} in verdict: {v}"
    );
}

/// A loopback TCP port free a moment ago, for a listener a test starts.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
