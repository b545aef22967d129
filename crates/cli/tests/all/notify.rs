//! `warden up --notify`: a new ask reaches the desktop's notification service
//! over a real D-Bus session bus (a private `dbus-daemon`), through the real
//! `notify-send`, and says what waits without giving away the ask's id.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::daemon::{register, up};
use crate::support::Env;

/// Children killed when the test ends, however it ends.
struct Killed(Vec<Child>);

impl Drop for Killed {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn first_line(child: &mut Child) -> String {
    let out = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(out).read_line(&mut line).unwrap();
    line.trim().to_string()
}

fn tools_present() -> bool {
    let present = [
        "/usr/bin/notify-send",
        "/usr/bin/dbus-daemon",
        "/usr/bin/python3",
    ]
    .iter()
    .all(|p| std::path::Path::new(p).exists())
        && Command::new("/usr/bin/python3")
            .args(["-c", "import gi"])
            .status()
            .is_ok_and(|s| s.success());
    if !present {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have notify-send, dbus-daemon and python3-gi (scripts/test installs them)"
        );
        println!("SKIPPED: needs notify-send, dbus-daemon and python3-gi");
    }
    present
}

#[test]
fn an_ask_becomes_a_desktop_notification_without_its_id() {
    if !tools_present() {
        return;
    }
    let mut env = Env::new();
    let mut kids = Killed(Vec::new());
    let mut bus = Command::new("/usr/bin/dbus-daemon")
        .args(["--session", "--nofork", "--print-address=1"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let address = first_line(&mut bus);
    kids.0.push(bus);
    assert!(address.starts_with("unix:"), "{address}");
    let seen = env.home.join("notifications.jsonl");
    let mut service = Command::new("/usr/bin/python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/dbus/notification_service.py"
        ))
        .arg(&seen)
        .env("DBUS_SESSION_BUS_ADDRESS", &address)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    assert_eq!(first_line(&mut service), "ready");
    kids.0.push(service);
    env.set_env("DBUS_SESSION_BUS_ADDRESS", &address);
    let _up = up(&env, &["--notify"]);
    let secret = register(&env);
    let push =
        r#"{"cwd":"/tmp","kind":{"shell":{"command":"git push origin main && echo <done>"}}}"#;
    let mut asker = env.spawn(&["decide", "--json", "--secret", &secret, "--action", push]);
    let deadline = Instant::now() + Duration::from_secs(20);
    let note: Value = loop {
        if let Some(line) = std::fs::read_to_string(&seen)
            .ok()
            .and_then(|t| t.lines().next().map(str::to_string))
        {
            break serde_json::from_str(&line).unwrap();
        }
        assert!(Instant::now() < deadline, "no notification arrived");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(note["app"], "warden");
    assert_eq!(note["summary"], "warden: codex asks");
    assert_eq!(note["urgency"], 2, "critical: a person is being waited for");
    let body = note["body"].as_str().unwrap();
    assert!(
        body.starts_with("run git push origin main &amp;&amp; echo &lt;done&gt;\n"),
        "{body}"
    );
    let asks: Value = serde_json::from_str(&env.run(&["asks", "--json"]).stdout).unwrap();
    let id = asks[0]["id"].as_str().unwrap();
    assert!(
        !body.contains(id),
        "the notification must not carry the ask id"
    );
    env.run_in_pty(&["deny", id]).code(0);
    assert_eq!(asker.wait().unwrap().code(), Some(2));
}

#[test]
fn notify_without_notify_send_is_a_clear_startup_error() {
    let mut env = Env::new();
    env.set_env("PATH", "/nonexistent");
    let out = env.run(&["up", "--no-tcp", "--notify"]);
    assert!(
        out.code(1)
            .stderr
            .contains("--notify needs notify-send on PATH"),
        "{}",
        out.stderr
    );
}
