//! "Always for this exact action": `warden approve --always` from a terminal
//! adds a standing approval to the user policy file; the same action is then
//! allowed without asking, anything else still asks, and the audit log says so.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::daemon::{decide, register, up};
use crate::support::Env;

const PUSH: &str = r#"{"cwd":"/tmp","kind":{"shell":{"command":"git push origin main"}}}"#;
const PUSH_DEV: &str = r#"{"cwd":"/tmp","kind":{"shell":{"command":"git push origin dev"}}}"#;

/// The pending asks once there are `n` of them.
fn wait_for_asks(env: &Env, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = env.run(&["asks", "--json"]);
        let v: Value = serde_json::from_str(&out.stdout).unwrap_or(Value::Null);
        let list = v.as_array().cloned().unwrap_or_default();
        if list.len() >= n {
            return list;
        }
        assert!(
            Instant::now() < deadline,
            "{n} asks did not appear: {}",
            out.stdout
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn verdict_of(mut child: std::process::Child) -> (Option<i32>, Value) {
    let out = std::io::read_to_string(child.stdout.take().unwrap()).unwrap();
    let code = child.wait().unwrap().code();
    (
        code,
        serde_json::from_str(out.trim()).unwrap_or(Value::Null),
    )
}

#[test]
fn always_allows_exactly_that_action_from_then_on_and_is_recorded() {
    let env = Env::new();
    let _up = up(&env, &[]);
    let secret = register(&env);
    let ask =
        |action: &str| env.spawn(&["decide", "--json", "--secret", &secret, "--action", action]);
    // The same action asked twice at once (an agent retrying), both pending.
    let first = ask(PUSH);
    let second = ask(PUSH);
    let asks = wait_for_asks(&env, 2);
    assert_eq!(asks[0]["always"], true, "{asks:?}");
    let id = asks[0]["id"].as_str().unwrap();
    let out = env.run_in_pty(&["approve", "--always", id]);
    assert!(
        out.code(0)
            .stdout
            .contains("always allowed from now on: run git push origin main (in /tmp)"),
        "{}",
        out.stdout
    );
    for child in [first, second] {
        let (code, v) = verdict_of(child);
        assert_eq!(code, Some(0), "{v}");
        assert_eq!(v["decision"], "allow");
        assert!(
            v["answered"]["by"].as_str().unwrap().contains("approval-"),
            "{v}"
        );
    }
    // The approval is in the user's own policy file, as a table they can read.
    let policy = std::fs::read_to_string(env.user_policy()).unwrap();
    assert!(policy.contains("[[approval]]"), "{policy}");
    assert!(
        policy.contains("summary = \"run git push origin main (in /tmp)\""),
        "{policy}"
    );
    assert!(
        policy.starts_with(warden_policy::defaults::DEFAULT_POLICY),
        "the rest is kept"
    );
    // From now on: no ask, an allow naming the approval.
    let started = Instant::now();
    let again = ask(PUSH);
    let (code, v) = verdict_of(again);
    assert_eq!(code, Some(0), "{v}");
    assert!(
        v["rules"][0].as_str().unwrap().starts_with("approval-"),
        "{v}"
    );
    assert!(
        v["reason"].as_str().unwrap().contains("always allowed by"),
        "{v}"
    );
    assert!(v["answered"].is_null(), "nobody was asked: {v}");
    assert!(started.elapsed() < Duration::from_secs(10));
    // Another branch is another action: it still asks.
    let dev = ask(PUSH_DEV);
    let asks = wait_for_asks(&env, 1);
    assert!(asks[0]["action"]["kind"]["shell"]["command"] == "git push origin dev");
    env.run_in_pty(&["deny", asks[0]["id"].as_str().unwrap()])
        .code(0);
    assert_eq!(verdict_of(dev).0, Some(2));
    // An unregistered caller gets nothing a person granted.
    let (code, v) = decide(&env, PUSH);
    assert_eq!(code, Some(2), "{v}");
    // The audit log holds the notice and the approved entries.
    let show = env.run(&["audit", "show", "--json"]);
    let text = &show.code(0).stdout;
    assert!(text.contains("approval-added"), "{text}");
    assert!(text.contains("always allowed by approval-"), "{text}");
    let listed = env.run(&["audit", "verify"]);
    assert!(listed.code(0).stdout.starts_with("INTACT"));
}

#[test]
fn a_system_rule_ask_can_be_approved_once_but_not_always() {
    let env = Env::new();
    env.write_system_policy(
        "version = 1\n[[rule]]\nid = \"admin-push\"\nask = [\"Bash(git push:*)\"]\nreason = \"the admin reviews pushes\"\n",
    );
    let _up = up(&env, &[]);
    let secret = register(&env);
    let child = env.spawn(&["decide", "--json", "--secret", &secret, "--action", PUSH]);
    let asks = wait_for_asks(&env, 1);
    assert_eq!(asks[0]["always"], false, "{asks:?}");
    let id = asks[0]["id"].as_str().unwrap();
    let listed = env.run(&["asks"]);
    assert!(
        listed.stdout.contains("always   not possible"),
        "{}",
        listed.stdout
    );
    // Under a pseudo-terminal stderr arrives on stdout too.
    let refused = env.run_in_pty(&["approve", "--always", id]);
    assert!(
        refused
            .code(1)
            .stdout
            .contains("(admin-push); it can be approved once, not always"),
        "{} {}",
        refused.stdout,
        refused.stderr
    );
    // Still pending; approving once works, and nothing was added to the file.
    env.run_in_pty(&["approve", id]).code(0);
    assert_eq!(verdict_of(child).0, Some(0));
    let policy = std::fs::read_to_string(env.user_policy()).unwrap();
    assert!(!policy.contains("[[approval]]"), "{policy}");
}

#[test]
fn always_from_a_script_is_refused_like_any_answer() {
    let env = Env::new();
    let _up = up(&env, &[]);
    let secret = register(&env);
    let child = env.spawn(&["decide", "--json", "--secret", &secret, "--action", PUSH]);
    let asks = wait_for_asks(&env, 1);
    let id = asks[0]["id"].as_str().unwrap();
    let refused = env.run(&["approve", "--always", id]);
    assert!(
        refused.code(1).stderr.contains("terminal"),
        "{}",
        refused.stderr
    );
    let policy = std::fs::read_to_string(env.user_policy()).unwrap();
    assert!(!policy.contains("[[approval]]"), "{policy}");
    env.run_in_pty(&["deny", id]).code(0);
    assert_eq!(verdict_of(child).0, Some(2));
}
