//! Paths: no spelling of a path (a symlink, `/proc/self/root`, `..`) may reach a
//! different decision than the file it names; warden's own state and config are
//! out of every agent's reach.

use std::os::unix::fs::symlink;

use crate::support::{Env, assert_verdict, check_json, write};

/// `~/.ssh/id_rsa` in the test HOME, and `workspace/innocent.txt` pointing at it.
fn planted_key_link(env: &Env) -> std::path::PathBuf {
    let key = write(&env.home.join(".ssh/id_rsa"), "-----BEGIN KEY-----\n");
    symlink(&key, env.ws.join("innocent.txt")).unwrap();
    key
}

#[test]
fn read_of_symlink_to_ssh_key_is_denied() {
    let env = Env::new();
    planted_key_link(&env);
    let v = check_json(&env, &["--read", "innocent.txt"]);
    assert_verdict(&v, "deny", "secrets-read");
    let v = check_json(&env, &["--read", "./innocent.txt"]);
    assert_verdict(&v, "deny", "secrets-read");
}

#[test]
fn read_through_symlinked_directory_is_denied() {
    let env = Env::new();
    planted_key_link(&env);
    symlink(env.home.join(".ssh"), env.ws.join("keys")).unwrap();
    let v = check_json(&env, &["--read", "keys/id_rsa"]);
    assert_verdict(&v, "deny", "secrets-read");
    let v = check_json(&env, &["--bash", "cat keys/id_rsa"]);
    assert_verdict(&v, "deny", "secrets-read");
}

#[test]
fn read_via_proc_self_root_is_denied() {
    let env = Env::new();
    planted_key_link(&env);
    let home = env.home.display();
    for p in [
        format!("/proc/self/root{home}/.ssh/id_rsa"),
        format!("/proc/self/root/proc/self/root{home}/.ssh/id_rsa"),
        format!("/proc/thread-self/root{home}/.ssh/id_rsa"),
        "/proc/self/cwd/innocent.txt".to_string(),
        format!("{home}/.ssh/../.ssh/./id_rsa"),
        format!("{home}//.ssh//id_rsa"),
    ] {
        let v = check_json(&env, &["--read", &p]);
        assert_verdict(&v, "deny", "secrets-read");
    }
}

#[test]
fn shell_read_of_symlink_to_ssh_key_is_denied() {
    // Regression: at 3e6ceaa the shell analysis only treated an operand as a path
    // when it contained `/` or started with `~` or `.` (`path_operands` in
    // policy/src/shell/threat/effects.rs), so a bare file name was never resolved:
    // `cat innocent.txt`, with innocent.txt -> ~/.ssh/id_rsa, was allowed while
    // `--read innocent.txt` and `cat ./innocent.txt` were denied.
    let env = Env::new();
    planted_key_link(&env);
    let v = check_json(&env, &["--bash", "cat ./innocent.txt"]);
    assert_verdict(&v, "deny", "secrets-read");
    let v = check_json(&env, &["--bash", "cat innocent.txt"]);
    assert_verdict(&v, "deny", "secrets-read");
}

#[test]
fn write_of_warden_audit_db_is_denied() {
    let env = Env::new();
    let db = env.state.join("audit.db");
    let v = check_json(&env, &["--write", db.to_str().unwrap()]);
    assert_verdict(&v, "deny", "builtin:warden-state");
}

#[test]
fn shell_read_of_dashboard_token_is_denied() {
    let env = Env::new();
    let token = write(&env.state.join("dashboard.token"), "secret\n");
    let cmd = format!("cat {}", token.display());
    let v = check_json(&env, &["--bash", &cmd]);
    assert_verdict(&v, "deny", "builtin:warden-state");
}

#[test]
fn other_touches_of_warden_state_are_denied() {
    let env = Env::new();
    let token = write(&env.state.join("dashboard.token"), "secret\n");
    let db = write(&env.state.join("audit.db"), "");
    let t = token.to_str().unwrap();
    let d = db.to_str().unwrap();
    for args in [
        vec!["--read", t],
        vec!["--delete", d],
        vec!["--bash", &format!("cp {t} /tmp/stolen")],
        vec!["--bash", &format!("echo x > {d}")],
        vec!["--bash", &format!("rm -f {d}")],
    ] {
        let v = check_json(&env, &args);
        assert_verdict(&v, "deny", "builtin:warden-state");
    }
}

#[test]
fn warden_state_cannot_be_reached_through_a_symlink() {
    let env = Env::new();
    write(&env.state.join("dashboard.token"), "secret\n");
    symlink(&env.state, env.ws.join("cache")).unwrap();
    let v = check_json(&env, &["--read", "cache/dashboard.token"]);
    assert_verdict(&v, "deny", "builtin:warden-state");
    let v = check_json(&env, &["--write", "cache/audit.db"]);
    assert_verdict(&v, "deny", "builtin:warden-state");
}

#[test]
fn shell_read_of_dashboard_token_by_bare_name_is_denied() {
    // Regression, same root cause as `shell_read_of_symlink_to_ssh_key_is_denied`:
    // with the agent's cwd inside $WARDEN_HOME, `cat dashboard.token` was allowed.
    let env = Env::new();
    write(&env.state.join("dashboard.token"), "secret\n");
    let v = check_json(
        &env,
        &[
            "--cwd",
            env.state.to_str().unwrap(),
            "--bash",
            "cat dashboard.token",
        ],
    );
    assert_verdict(&v, "deny", "builtin:warden-state");
}

#[test]
fn write_of_user_policy_is_denied() {
    let env = Env::new();
    let p = env.user_policy();
    let v = check_json(&env, &["--write", p.to_str().unwrap()]);
    assert_verdict(&v, "deny", "builtin:warden-state");
}
