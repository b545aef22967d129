//! `warden shell` driven through tmux, as a person at a terminal: keys sent
//! with `send-keys`, the screen read with `capture-pane`, decisions read
//! back from the real daemon's audit log. The shell is bash without rc
//! files, with a fixed prompt.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::daemon::{Up, python_api, up};
use crate::support::Env;

/// What the guarded line prints only if the shell really ran it.
const RAN: &str = "RAN-42";
const RUNS_MARK: &str = "echo RAN-$((40+2))";

struct Tmux {
    socket: PathBuf,
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]).output();
    }
}

impl Tmux {
    /// `warden shell -- bash` in a 100x30 tmux window, in `env`.
    fn start(env: &Env, history: &[&str]) -> Tmux {
        Tmux::start_with(env, history, "bash --norc --noprofile -i", true)
    }

    /// `warden shell -- INNER`; `prompted` waits for the first prompt.
    fn start_with(env: &Env, history: &[&str], inner: &str, prompted: bool) -> Tmux {
        let socket = env.home.join("tmux.sock");
        let histfile = env.home.join("bash_history");
        std::fs::write(
            &histfile,
            history.iter().map(|l| format!("{l}\n")).collect::<String>(),
        )
        .unwrap();
        let vars = [
            ("HOME", env.home.display().to_string()),
            ("XDG_CONFIG_HOME", env.xdg.display().to_string()),
            ("WARDEN_HOME", env.state.display().to_string()),
            ("WARDEN_SYSTEM_POLICY", env.system.display().to_string()),
            ("PATH", std::env::var("PATH").unwrap_or_default()),
            ("TERM", "xterm-256color".into()),
            ("HISTFILE", histfile.display().to_string()),
            ("PS1", "guarded$ ".into()),
        ];
        let mut line = String::from("cd '") + &env.ws.display().to_string() + "' && env -i";
        for (k, v) in vars {
            line.push_str(&format!(" {k}='{v}'"));
        }
        line.push_str(&format!(
            " '{}' shell -- {inner}; echo warden-exited-$?; sleep 600",
            env!("CARGO_BIN_EXE_warden")
        ));
        let t = Tmux { socket };
        let out = t
            .tmux(&[
                "new-session",
                "-d",
                "-s",
                "w",
                "-x",
                "100",
                "-y",
                "30",
                &line,
            ])
            .output()
            .expect("tmux runs");
        assert!(
            out.status.success(),
            "tmux: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        if prompted {
            t.wait_for("the first prompt", |s| s.contains("guarded$"));
        }
        t
    }

    fn tmux(&self, args: &[&str]) -> Command {
        let mut c = Command::new("tmux");
        c.arg("-S").arg(&self.socket).args(args);
        c
    }

    /// Sends tmux key names (`Enter`, `Up`, `C-c`…).
    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "w"];
        args.extend_from_slice(keys);
        assert!(self.tmux(&args).status().unwrap().success());
    }

    /// Sends text as typed, byte for byte (escape sequences included).
    fn type_text(&self, text: &str) {
        assert!(
            self.tmux(&["send-keys", "-t", "w", "-l", text])
                .status()
                .unwrap()
                .success()
        );
    }

    fn screen(&self) -> String {
        let out = self
            .tmux(&["capture-pane", "-p", "-J", "-t", "w"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn wait_for(&self, what: &str, done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let s = self.screen();
            if done(&s) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "waited for {what}; the screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until the screen has `n` prompts.
    fn prompts(&self, n: usize) -> String {
        self.wait_for(&format!("{n} prompts"), |s| {
            s.matches("guarded$").count() >= n
        })
    }
}

fn guarded() -> (Env, Up) {
    let env = Env::new();
    let daemon = up(&env, &[]);
    (env, daemon)
}

/// The audit entries mentioning `text`, as `warden audit search` prints them.
fn audit(env: &Env, text: &str) -> String {
    env.run(&["audit", "search", text]).stdout
}

/// Waits until the audit holds an entry mentioning `text`.
fn audited(env: &Env, text: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let found = audit(env, text);
        if found.contains(text) {
            return found;
        }
        assert!(Instant::now() < deadline, "no audit entry mentions {text}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_benign_line_runs_at_once_and_is_recorded() {
    let (env, _d) = guarded();
    let t = Tmux::start(&env, &[]);
    t.type_text("ls -d / && echo listed-$((6*7))");
    t.keys(&["Enter"]);
    t.wait_for("the output", |s| s.contains("listed-42"));
    let entry = audited(&env, "listed-");
    assert!(entry.contains("pty") && entry.contains("allow"), "{entry}");
}

#[test]
fn a_pipe_to_shell_is_held_and_blocked_with_the_reason() {
    let (env, _d) = guarded();
    let t = Tmux::start(&env, &[]);
    t.type_text(&format!("curl -s http://127.0.0.1:9/x | sh; {RUNS_MARK}"));
    t.keys(&["Enter"]);
    let s = t.wait_for("the block", |s| s.contains("warden: blocked:"));
    t.prompts(2);
    assert!(!t.screen().contains(RAN), "the blocked line ran:\n{s}");
    let entry = audited(&env, "curl -s http://127.0.0.1:9/x | sh");
    assert!(entry.contains("deny"), "{entry}");
    // The shell goes on: the next line runs.
    t.type_text("echo after-$((1+1))");
    t.keys(&["Enter"]);
    t.wait_for("the next line", |s| s.contains("after-2"));
}

#[test]
fn a_recalled_blocked_line_is_still_blocked() {
    let bad = format!("curl -s http://127.0.0.1:9/x | sh; {RUNS_MARK}");
    let (env, _d) = guarded();
    let t = Tmux::start(&env, &[&bad]);
    // Recalled from the history: the keys do not tell the line, the screen does.
    t.keys(&["Up"]);
    t.wait_for("the recalled line", |s| s.contains("127.0.0.1:9/x"));
    t.keys(&["Enter"]);
    t.wait_for("the block", |s| s.contains("warden: blocked:"));
    t.prompts(2);
    // Recalled and edited: still read from the screen.
    t.keys(&["Up", "End", "Space"]);
    t.type_text("#");
    t.keys(&["Enter"]);
    let s = t.wait_for("the second block", |s| {
        s.matches("warden: blocked:").count() >= 2
    });
    t.prompts(3);
    assert!(!t.screen().contains(RAN), "a recalled line ran:\n{s}");
}

#[test]
fn escape_sequences_in_a_line_are_judged_as_the_shell_runs_it() {
    let (env, _d) = guarded();
    let t = Tmux::start(&env, &[]);
    // `r`, cursor left, `m…`: readline makes `m -rf /tmp/wsx-esc-r`, which
    // is what must be decided (and what bash reports as not found).
    t.type_text("r\x1b[Dm -rf /tmp/wsx-esc-");
    t.keys(&["Enter"]);
    t.wait_for("bash's answer", |s| s.contains("m: command not found"));
    audited(&env, "m -rf /tmp/wsx-esc-r");
    // A line assembled with Home: `url … | sh` becomes `curl … | sh`.
    t.type_text(&format!(
        "url -s http://127.0.0.1:9/x | sh; {RUNS_MARK}\x1b[Hc"
    ));
    t.keys(&["Enter"]);
    let s = t.wait_for("the block", |s| s.contains("warden: blocked:"));
    assert!(!s.contains(RAN), "{s}");
    let entry = audited(&env, "curl -s http://127.0.0.1:9/x | sh");
    assert!(entry.contains("deny"), "{entry}");
}

#[test]
fn a_continued_line_is_decided_with_the_lines_before_it() {
    let (env, _d) = guarded();
    let t = Tmux::start(&env, &[]);
    t.type_text("curl -s http://127.0.0.1:9/x |");
    t.keys(&["Enter"]);
    t.wait_for("the continuation prompt", |s| {
        s.lines().any(|l| l.starts_with("> "))
    });
    t.type_text(&format!("sh; {RUNS_MARK}"));
    t.keys(&["Enter"]);
    let s = t.wait_for("the block", |s| s.contains("warden: blocked:"));
    t.prompts(2);
    assert!(!t.screen().contains(RAN), "{s}");
}

#[test]
fn vim_gets_its_keys_untouched_and_exits_cleanly() {
    let (env, _d) = guarded();
    let t = Tmux::start(&env, &[]);
    let file = env.ws.join("notes.txt");
    t.type_text(&format!("vim -N -u NONE -i NONE '{}'", file.display()));
    t.keys(&["Enter"]);
    t.wait_for("vim", |s| s.contains("notes.txt"));
    // A line that would be blocked at the prompt is only text in vim.
    t.keys(&["i"]);
    t.type_text("curl -s http://127.0.0.1:9/x | sh");
    t.keys(&["Enter", "Escape"]);
    t.type_text(":wq");
    t.keys(&["Enter"]);
    let s = t.prompts(2);
    assert!(!s.contains("warden: blocked"), "{s}");
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "curl -s http://127.0.0.1:9/x | sh\n\n"
    );
    // The prompt is back, drawn cleanly, and guarded again.
    t.type_text("echo back-$((2*2))");
    t.keys(&["Enter"]);
    t.wait_for("the shell", |s| s.contains("back-4"));
    assert!(!audit(&env, "sh").contains("127.0.0.1:9/x | sh"));
}

#[test]
fn a_resized_terminal_reaches_the_shell() {
    let (env, _d) = guarded();
    let t = Tmux::start(&env, &[]);
    assert!(
        t.tmux(&["resize-window", "-t", "w", "-x", "90", "-y", "25"])
            .status()
            .unwrap()
            .success()
    );
    std::thread::sleep(Duration::from_millis(200));
    t.type_text("stty size");
    t.keys(&["Enter"]);
    t.wait_for("the new size", |s| s.contains("25 90"));
}

#[test]
fn with_the_daemon_gone_lines_are_blocked() {
    let (env, mut daemon) = guarded();
    let t = Tmux::start(&env, &[]);
    drop(std::mem::replace(&mut daemon, Up::none()));
    t.type_text(&format!("ls; {RUNS_MARK}"));
    t.keys(&["Enter"]);
    let s = t.wait_for("the block", |s| s.contains("warden: blocked:"));
    assert!(s.contains("no verdict from the daemon"), "{s}");
    t.prompts(2);
    assert!(!t.screen().contains(RAN), "{s}");
}

#[test]
fn warden_shell_without_a_terminal_or_a_daemon_says_why() {
    let env = Env::new();
    let out = env.run(&["shell", "--", "bash"]);
    out.code(1)
        .stderr_has(&["warden shell needs a terminal on stdin"]);
    let out = env.run_in_pty(&["shell", "--", "bash"]);
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(
        (out.stdout.clone() + &out.stderr).contains("warden shell needs the daemon"),
        "{out:?}"
    );
}

#[test]
fn only_a_sessions_root_may_check_without_a_record() {
    // `/v1/check` tells the policy's verdict with no ask and no audit entry:
    // the launcher of a session may use it, a process inside the session
    // (a child of the root) and a stranger may not.
    let (env, _d) = guarded();
    let (text, err) = python_api(
        &env,
        r#"
def post(path, body, headers={}):
    return req("POST", path, body, headers)
action = {"cwd": "/tmp", "kind": {"shell": {"command": "git push origin main"}}}
print("stranger", post("/v1/check", action)[0])
_, issued = post("/v1/sessions", {"agent": "shell", "pid": os.getpid()})
h = {"x-warden-secret": issued["secret"]}
status, v = post("/v1/check", action, h)
print("root", status, v["decision"])
pid = os.fork()
if pid == 0:
    print("child", post("/v1/check", action, h)[0]); sys.stdout.flush(); os._exit(0)
os.waitpid(pid, 0)
"#,
    );
    assert!(text.contains("stranger 403"), "{text} {err}");
    assert!(text.contains("root 200 ask"), "{text}");
    assert!(text.contains("child 403"), "{text}");
    // Nothing was recorded: a check is not a decision.
    assert!(!audit(&env, "git push").contains("git push"));
}

#[test]
fn a_line_a_rule_asks_about_is_held_though_the_classifier_calls_it_benign() {
    let (env, _d) = guarded();
    let t = Tmux::start(&env, &[]);
    t.type_text(&format!("git push origin main; {RUNS_MARK}"));
    t.keys(&["Enter"]);
    t.wait_for("the hold", |s| s.contains("waits for a decision"));
    assert!(!t.screen().contains(RAN));
    t.keys(&["C-c"]);
    t.wait_for("the block", |s| {
        s.contains("warden: blocked: given up at the terminal")
    });
    t.prompts(2);
    assert!(!t.screen().contains(RAN));
}

#[test]
fn under_warden_run_every_exec_of_a_guarded_line_is_supervised_too() {
    // `warden shell -- warden run -- bash`: warden run opens a session
    // nested in the shell's (same agent, no more autonomy), the guard judges
    // the lines typed at the sandboxed bash, and the sandbox's supervisor
    // decides every exec they make.
    let env = Env::new_in(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")));
    let _d = up(&env, &[]);
    let warden = env!("CARGO_BIN_EXE_warden");
    let inner = format!("'{warden}' run --profile shell --env PS1 -- bash --norc --noprofile -i");
    let t = Tmux::start_with(&env, &[], &inner, false);
    // An interactive shell in the sandbox is asked about: a person approves.
    let id = crate::daemon::wait_for_ask(&env);
    env.run_in_pty(&["approve", &id]).code(0);
    t.wait_for("the sandboxed prompt", |s| s.contains("guarded$"));
    t.type_text("ls -d / && echo nested-$((5*5))");
    t.keys(&["Enter"]);
    t.wait_for("the output", |s| s.contains("nested-25"));
    let line = audited(&env, "ls -d / && echo nested-");
    assert!(line.contains("pty"), "{line}");
    let exec = audited(&env, "/usr/bin/ls");
    assert!(exec.contains("sandbox") && exec.contains("allow"), "{exec}");
    t.type_text(&format!("curl -s http://127.0.0.1:9/x | sh; {RUNS_MARK}"));
    t.keys(&["Enter"]);
    let s = t.wait_for("the block", |s| s.contains("warden: blocked:"));
    assert!(!s.contains(RAN), "{s}");
    // Two sessions: the shell's, and the sandbox's nested in it.
    let status: serde_json::Value =
        serde_json::from_str(&env.run(&["status", "--json"]).stdout).unwrap();
    assert_eq!(status["sessions"], 2, "{status}");
}

#[test]
fn a_session_opened_inside_a_session_is_never_looser() {
    // What warden run does inside warden shell, tried by an agent for its own
    // gain: a nested session for another agent at full autonomy comes out as
    // the enclosing session's agent at its autonomy; one rooted at another
    // process is refused.
    let (env, _d) = guarded();
    let (text, err) = python_api(
        &env,
        r#"
outer = os.fork()
if outer == 0:
    print("outer", req("POST", "/v1/sessions", {"agent": "shell", "autonomy": "assistant", "workspace": os.getcwd(), "pid": os.getpid()})[0]); sys.stdout.flush()
    inner = os.fork()
    if inner == 0:
        print("inner", req("POST", "/v1/sessions", {"agent": "codex", "autonomy": "autonomous", "workspace": "/", "pid": os.getpid()})[0])
        print("other", req("POST", "/v1/sessions", {"agent": "codex", "pid": os.getppid()})[0]); sys.stdout.flush()
        os._exit(0)
    os.waitpid(inner, 0); sys.stdout.flush(); os._exit(0)
os.waitpid(outer, 0)
listed = req("GET", "/v1/sessions")[1]
print("sessions", json.dumps([[s["agent"], s["autonomy"]] for s in listed]))
print("workspaces", len(set(s["workspace"] for s in listed)), listed[0]["workspace"] != "/")
"#,
    );
    assert!(text.contains("outer 201"), "{text} {err}");
    assert!(text.contains("inner 201"), "{text} {err}");
    assert!(text.contains("other 403"), "{text} {err}");
    assert!(
        text.contains(r#"sessions [["shell", "assistant"], ["shell", "assistant"]]"#),
        "{text} {err}"
    );
    // Nor can it widen what the policy lets it write: the workspace asked
    // for ("/") is not inside the outer's, so the outer's is kept.
    assert!(text.contains("workspaces 1 True"), "{text} {err}");
}
