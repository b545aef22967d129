//! `warden init`/`uninstall`/`doctor` on real files, and `warden hook` as the
//! agents run it: every bad input and a missing daemon end in the agent's
//! own deny, and the daemon keeps serving.

use serde_json::Value;

use crate::daemon::up;
use crate::support::Env;

fn pre_tool_use(command: &str) -> String {
    serde_json::json!({
        "session_id": "s-1", "cwd": "/tmp", "hook_event_name": "PreToolUse",
        "tool_name": "Bash", "tool_input": {"command": command}, "tool_use_id": "toolu_1"
    })
    .to_string()
}

fn decision(stdout: &str) -> String {
    let v: Value = serde_json::from_str(stdout.trim()).unwrap_or(Value::Null);
    v["hookSpecificOutput"]["permissionDecision"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn managed_install_is_idempotent_backed_up_and_restored() {
    let env = Env::new();
    let root = env.home.join("root");
    let managed = root.join("etc/claude-code/managed-settings.json");
    crate::support::write(
        &managed,
        r#"{"model": "opus", "permissions": {"deny": ["Read(.env)"]}}"#,
    );
    let original = std::fs::read_to_string(&managed).unwrap();
    let root_arg = root.display().to_string();
    env.run(&["init", "claude-code", "--root", &root_arg])
        .code(0);
    let once = std::fs::read_to_string(&managed).unwrap();
    let v: Value = serde_json::from_str(&once).unwrap();
    assert_eq!(v["allowManagedHooksOnly"], true);
    assert_eq!(
        v["permissions"]["deny"][0], "Read(.env)",
        "the admin's settings are kept"
    );
    assert_eq!(
        v["hooks"]["PreToolUse"][0]["hooks"][0]["onFailure"],
        "block"
    );
    let secret = root.join("etc/warden/hooks/claude-code.secret");
    assert!(
        std::fs::read_to_string(&secret)
            .unwrap()
            .starts_with("wh1.claude-code.")
    );
    env.run(&["init", "claude-code", "--root", &root_arg])
        .code(0)
        .stdout_has(&["already governed"]);
    assert_eq!(std::fs::read_to_string(&managed).unwrap(), once);
    let doctor = env.run(&["doctor", "--root", &root_arg]);
    doctor.stdout_has(&["claude-code  governed: 8 hooks", "managed, locked"]);
    assert!(
        doctor.stdout.contains("codex        NOT governed"),
        "{}",
        doctor.stdout
    );
    env.run(&["uninstall", "claude-code", "--root", &root_arg])
        .code(0);
    assert_eq!(
        std::fs::read_to_string(&managed).unwrap(),
        original,
        "restored byte for byte"
    );
    assert!(!secret.exists());
    // A Codex install into a fresh root creates requirements.toml and rules,
    // and uninstall removes what it created.
    env.run(&["init", "codex", "--root", &root_arg]).code(0);
    let req = std::fs::read_to_string(root.join("etc/codex/requirements.toml")).unwrap();
    assert!(
        req.contains("allow_managed_hooks_only = true") && req.contains("[[hooks.PreToolUse]]"),
        "{req}"
    );
    assert!(root.join("etc/codex/rules/warden.rules").exists());
    env.run(&["uninstall", "codex", "--root", &root_arg])
        .code(0);
    assert!(!root.join("etc/codex/requirements.toml").exists());
    assert!(!root.join("etc/codex/rules/warden.rules").exists());
}

#[test]
fn uninstall_after_an_edit_keeps_the_admins_lock_and_comments() {
    let env = Env::new();
    let root = env.home.join("root");
    let root_arg = root.display().to_string();
    let claude = root.join("etc/claude-code/managed-settings.json");
    crate::support::write(
        &claude,
        r#"{"allowManagedHooksOnly": true, "model": "opus"}"#,
    );
    let codex = root.join("etc/codex/requirements.toml");
    crate::support::write(
        &codex,
        "# IT: hooks are locked on every laptop\nallow_managed_hooks_only = true\nmodel = \"gpt\" # pinned\n",
    );
    for agent in ["claude-code", "codex"] {
        env.run(&["init", agent, "--root", &root_arg]).code(0);
    }
    // Someone edits both files after the install: uninstall can no longer
    // restore the backup, and must still leave the admin's lock in place.
    let mut c: Value = serde_json::from_str(&std::fs::read_to_string(&claude).unwrap()).unwrap();
    c["effortLevel"] = "high".into();
    crate::support::write(&claude, &c.to_string());
    let mut t = std::fs::read_to_string(&codex).unwrap();
    t.push_str("\n# added later\n[profiles.fast]\nmodel = \"mini\"\n");
    crate::support::write(&codex, &t);
    for agent in ["claude-code", "codex"] {
        let out = env.run(&["uninstall", agent, "--root", &root_arg]);
        out.code(0);
        assert!(
            out.stdout
                .contains("kept the setting that allows only managed hooks"),
            "{}",
            out.stdout
        );
    }
    let c: Value = serde_json::from_str(&std::fs::read_to_string(&claude).unwrap()).unwrap();
    assert_eq!(c["allowManagedHooksOnly"], true, "{c}");
    assert_eq!(c["effortLevel"], "high");
    assert!(c.get("hooks").is_none(), "{c}");
    let t = std::fs::read_to_string(&codex).unwrap();
    assert!(t.contains("allow_managed_hooks_only = true"), "{t}");
    for kept in [
        "# IT: hooks are locked on every laptop",
        "# pinned",
        "# added later",
        "[profiles.fast]",
    ] {
        assert!(t.contains(kept), "{kept} lost:\n{t}");
    }
    assert!(!t.contains("hooks."), "warden's hooks left behind:\n{t}");
}

#[test]
fn a_machine_wide_init_through_sudo_uses_the_system_daemon_or_says_to_start_it() {
    let mut env = Env::new();
    env.set_env("SUDO_USER", "alice");
    env.set_env("WARDEN_HOME", "");
    let root = env.home.join("root");
    let root_arg = root.display().to_string();
    let managed = root.join("etc/claude-code/managed-settings.json");
    env.run(&["init", "claude-code", "--root", &root_arg])
        .code(1)
        .stderr_has(&["sudo warden up --system", "--home ~alice/"]);
    assert!(
        !managed.exists(),
        "nothing installed that would talk to root's daemon"
    );
    // Once the system daemon has run, its enrollment key is there.
    let system = root.join("var/lib/warden");
    crate::support::write(
        &system.join("keys/hooks.key"),
        &format!("{}\n", "ab".repeat(32)),
    );
    env.run(&["init", "claude-code", "--root", &root_arg])
        .code(0)
        .stdout_has(&["hooks talk to the system daemon"]);
    let text = std::fs::read_to_string(&managed).unwrap();
    assert!(
        text.contains(&format!("--home '{}'", system.display())),
        "{text}"
    );
    // The doctor checks the hooks against the daemon they name, and makes
    // no keys of its own while looking.
    let doctor = env.run(&["doctor", "--root", &root_arg]);
    doctor.code(0).stdout_has(&[&format!(
        "its hooks talk to the daemon in {} (NOT running)",
        system.display()
    )]);
    assert!(
        !doctor.stdout.contains("does not match"),
        "{}",
        doctor.stdout
    );
    assert!(!env.home.join(".local/state/warden/keys/hooks.key").exists());
    // A user's own install is that user's, sudo or not.
    let user = env.run(&["init", "gemini", "--user"]);
    user.code(0);
    assert!(!user.stdout.contains("system daemon"), "{}", user.stdout);
}

#[test]
fn a_settings_file_that_is_not_config_is_left_alone_with_a_clear_error() {
    let env = Env::new();
    let root = env.home.join("root");
    let managed = root.join("etc/gemini-cli/settings.json");
    crate::support::write(&managed, "{ not json");
    let out = env.run(&["init", "gemini", "--root", &root.display().to_string()]);
    out.code(1);
    assert!(
        out.stderr.contains("settings.json") && out.stderr.contains("not JSON"),
        "{}",
        out.stderr
    );
    assert_eq!(std::fs::read_to_string(&managed).unwrap(), "{ not json");
    let unknown = env.run(&["init", "vim"]);
    unknown.code(1);
    assert!(
        unknown
            .stderr
            .contains("claude-code, codex, gemini or cursor"),
        "{}",
        unknown.stderr
    );
}

#[test]
fn the_hook_denies_when_the_daemon_is_down_and_on_every_bad_input() {
    let env = Env::new();
    let down = env.run_with_stdin(&["hook", "claude-code"], pre_tool_use("ls").as_bytes());
    down.code(0);
    assert_eq!(decision(&down.stdout), "deny", "{}", down.stdout);
    assert!(down.stdout.contains("not running"), "{}", down.stdout);

    // A bad argument blocks too: agents run the tool on exit 1.
    env.run_with_stdin(&["hook", "claude-code", "--bogus"], b"{}")
        .code(2);

    let _daemon = up(&env, &[]);
    let ok = env.run_with_stdin(&["hook", "claude-code"], pre_tool_use("ls").as_bytes());
    assert_eq!(decision(&ok.stdout), "allow", "{} {}", ok.stdout, ok.stderr);
    for (bad, why) in [
        (b"not json".to_vec(), "not a JSON object"),
        (
            br#"{"hook_event_name":"Teleport","session_id":"s"}"#.to_vec(),
            "unknown claude-code hook event",
        ),
        (vec![b' '; 17 << 20], "over 16 MiB"),
    ] {
        let out = env.run_with_stdin(&["hook", "claude-code"], &bad);
        out.code(2);
        assert!(out.stderr.contains(why), "{why}: {}", out.stderr);
    }
    let unknown_tool = serde_json::json!({"session_id": "s", "cwd": "/tmp", "hook_event_name": "PreToolUse", "tool_name": "Teleport", "tool_input": {}}).to_string();
    let out = env.run_with_stdin(&["hook", "claude-code"], unknown_tool.as_bytes());
    assert_eq!(decision(&out.stdout), "deny");
    assert!(
        out.stdout.contains("unknown claude-code tool"),
        "{}",
        out.stdout
    );
    // Each agent's own deny shape.
    let gemini = serde_json::json!({"session_id": "s", "cwd": "/tmp", "hook_event_name": "BeforeTool", "tool_name": "teleport", "tool_input": {}}).to_string();
    let out = env.run_with_stdin(&["hook", "gemini"], gemini.as_bytes());
    let v: Value = serde_json::from_str(out.stdout.trim()).unwrap();
    assert_eq!(v["decision"], "deny");
    // ...and the daemon kept serving.
    let ok = env.run_with_stdin(&["hook", "codex"], pre_tool_use("git status").as_bytes());
    assert_eq!(decision(&ok.stdout), "allow", "{}", ok.stdout);
    let shown = env.run(&["audit", "search", "hook-refused", "--json"]);
    assert!(
        shown.stdout.lines().count() >= 2,
        "refusals are audited: {}",
        shown.stdout
    );
}

#[test]
fn mcp_scan_reads_agent_configs_offline() {
    let env = Env::new();
    let cfg = env.write_ws(
        ".mcp.json",
        r#"{"mcpServers": {"gh": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-github"], "env": {"GITHUB_TOKEN": "ghp_0123456789abcdef"}},
                           "ok": {"command": "warden", "args": ["mcp", "--name", "ok", "--", "/usr/bin/ok-server"]}}}"#,
    );
    let out = env.run(&["mcp", "scan", &cfg.display().to_string()]);
    out.code(2);
    assert!(
        out.stdout.contains("unpinned-package") && out.stdout.contains("inline-secret"),
        "{}",
        out.stdout
    );
    assert!(
        !out.stdout.contains("ghp_0123456789abcdef"),
        "the secret itself is never printed"
    );
    let json = env.run(&["mcp", "scan", "--json", &cfg.display().to_string()]);
    let v: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v[1]["server"], "ok");
    assert_eq!(v[1]["findings"], serde_json::json!([]));
    let missing = env.run(&["mcp", "scan", "/nonexistent.json"]);
    missing.code(1);
    assert!(
        missing.stderr.contains("/nonexistent.json"),
        "{}",
        missing.stderr
    );
}

#[test]
fn mcp_wrap_puts_the_gateway_in_front_and_unwrap_takes_it_out() {
    let env = Env::new();
    let original = r#"{"mcpServers": {"gh": {"command": "npx", "args": ["-y", "pkg@1.0.0"]}, "web": {"type": "http", "url": "http://127.0.0.1:9/mcp"}}}"#;
    let cfg = env.write_ws(".mcp.json", original);
    let path = cfg.display().to_string();
    let out = env.run(&["mcp", "wrap", &path]);
    out.code(0);
    assert!(
        out.stdout.contains("wrapped gh") && out.stdout.contains("web is a remote server"),
        "{}",
        out.stdout
    );
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&cfg).unwrap()).unwrap();
    assert_eq!(
        v["mcpServers"]["gh"]["command"],
        env!("CARGO_BIN_EXE_warden")
    );
    let args: Vec<&str> = v["mcpServers"]["gh"]["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(
        &args[2..],
        [
            "mcp",
            "--name",
            "gh",
            "--agent",
            "claude-code",
            "--",
            "npx",
            "-y",
            "pkg@1.0.0"
        ]
    );
    let scan = env.run(&["mcp", "scan", &path]);
    assert!(!scan.stdout.contains("ungoverned"), "{}", scan.stdout);
    // `warden init --wrap-mcp` does the same, and leaves a wrapped file alone.
    let init = env.run(&["init", "claude-code", "--user", "--wrap-mcp", &path]);
    init.code(0);
    assert!(
        init.stdout.contains("all are wrapped already"),
        "{}",
        init.stdout
    );
    env.run(&["mcp", "wrap", &path]).code(0);
    let twice: Value = serde_json::from_str(&std::fs::read_to_string(&cfg).unwrap()).unwrap();
    assert_eq!(twice, v, "wrapping twice changes nothing");
    env.run(&["mcp", "unwrap", &path]).code(0);
    let back: Value = serde_json::from_str(&std::fs::read_to_string(&cfg).unwrap()).unwrap();
    assert_eq!(back, serde_json::from_str::<Value>(original).unwrap());
}

#[test]
fn an_http_hook_over_tcp_roots_its_session_at_the_agent_process_that_sent_it() {
    let env = Env::new();
    let port = crate::support::free_port();
    let _d = crate::daemon::up_listening(&env, &format!("127.0.0.1:{port}"));
    let root = env.home.join("root");
    env.run(&["init", "claude-code", "--root", &root.display().to_string()])
        .code(0);
    let secret = std::fs::read_to_string(root.join("etc/warden/hooks/claude-code.secret")).unwrap();
    // The "agent" sends its hook over TCP with its enrollment secret, then its
    // shell tool (a child, over the Unix socket, presenting nothing) decides.
    let (out, err) = crate::daemon::python_api(
        &env,
        &format!(
            r#"
import subprocess
hook = json.dumps({{"session_id": "tcp-session", "cwd": "/tmp", "hook_event_name": "PreToolUse",
    "tool_name": "Bash", "tool_input": {{"command": "ls"}}, "tool_use_id": "toolu_tcp"}}).encode()
s = socket.create_connection(("127.0.0.1", {port}))
s.sendall(b"POST /v1/hooks/claude-code HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
    + b"x-warden-secret: {secret}\r\nConnection: close\r\nContent-Length: " + str(len(hook)).encode() + b"\r\n\r\n" + hook)
print("hook", s.recv(4096).split(b"\r\n")[0].decode())
TOOL = '''
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
body = json.dumps({{"cwd": "/tmp", "kind": {{"shell": {{"command": "echo from-the-agent-tool"}}}}}}).encode()
s.sendall(b"POST /v1/decide HTTP/1.1\\r\\nHost: warden\\r\\nContent-Type: application/json\\r\\nConnection: close\\r\\nContent-Length: " + str(len(body)).encode() + b"\\r\\n\\r\\n" + body)
print("tool", s.recv(4096).split(b"\\r\\n")[0].decode())
'''
print(subprocess.run([sys.executable, "-c", TOOL, sys.argv[1]], capture_output=True, text=True).stdout.strip())
"#,
            secret = secret.trim()
        ),
    );
    assert!(out.contains("hook HTTP/1.1 200"), "{out}{err}");
    assert!(out.contains("tool HTTP/1.1 200"), "{out}{err}");
    let entries = crate::agents::audit_entries(&env);
    let tool = entries
        .iter()
        .find(|e| e.to_string().contains("echo from-the-agent-tool"))
        .unwrap_or_else(|| panic!("the tool's decision is not in the audit: {entries:?}"));
    assert_eq!(
        tool["action"]["agent"]["name"], "claude-code",
        "the tool of the agent that sent the HTTP hook is that agent: {tool}"
    );
}
