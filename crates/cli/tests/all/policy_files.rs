//! `warden policy init | lint | test` and `--policy FILE`: a policy either loads
//! whole or not at all, and every error names the file, the line and the rule.

use std::path::Path;

use crate::support::{Env, write};

const DEFAULT_POLICY: &str = include_str!("../../../policy/default-policy.toml");

fn lint(env: &Env, file: &Path) -> crate::support::Out {
    env.run(&["policy", "lint", file.to_str().unwrap()])
}

/// Lint `text` (written to `name` in the workspace) and expect exit 1 with a message
/// naming the file and containing every `needle`.
#[track_caller]
fn lint_fails(env: &Env, name: &str, text: &str, needles: &[&str]) -> String {
    let file = env.write_ws(name, text);
    let out = lint(env, &file);
    out.code(1);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    assert!(
        out.stderr.contains(&file.display().to_string()),
        "message names the file:\n{}",
        out.stderr
    );
    for n in needles {
        assert!(out.stderr.contains(n), "expected {n:?} in:\n{}", out.stderr);
    }
    out.stderr
}

#[test]
fn init_writes_the_default_policy_under_xdg_config_home() {
    let env = Env::new();
    let out = env.run(&["policy", "init"]);
    out.code(0);
    let path = env.user_policy();
    assert!(
        out.stdout.contains(&path.display().to_string()),
        "{}",
        out.stdout
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), DEFAULT_POLICY);
    assert!(
        !env.home.join(".config/warden/policy.toml").exists(),
        "XDG_CONFIG_HOME is honoured, ~/.config is not used"
    );
}

#[test]
fn init_refuses_to_overwrite_without_force() {
    let env = Env::new();
    let path = write(&env.user_policy(), "version = 1\n# mine\n");
    let out = env.run(&["policy", "init"]);
    out.code(1);
    assert!(out.stderr.contains("--force"), "{}", out.stderr);
    assert!(
        out.stderr.contains(&path.display().to_string()),
        "{}",
        out.stderr
    );
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "version = 1\n# mine\n"
    );
}

#[test]
fn init_force_replaces_and_keeps_a_backup() {
    let env = Env::new();
    let path = write(&env.user_policy(), "version = 1\n# mine\n");
    let out = env.run(&["policy", "init", "--force"]);
    out.code(0);
    let bak = env.xdg.join("warden/policy.toml.bak");
    assert_eq!(
        std::fs::read_to_string(&bak).unwrap(),
        "version = 1\n# mine\n"
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), DEFAULT_POLICY);
    assert!(out.stderr.contains(".bak"), "{}", out.stderr);
}

#[test]
fn init_path_writes_where_told() {
    let env = Env::new();
    let target = env.home.join("elsewhere/p.toml");
    let out = env.run(&["policy", "init", "--path", target.to_str().unwrap()]);
    out.code(0);
    assert_eq!(std::fs::read_to_string(&target).unwrap(), DEFAULT_POLICY);
    assert!(!env.user_policy().exists());
    // Same refusal at an explicit path.
    env.run(&["policy", "init", "--path", target.to_str().unwrap()])
        .code(1);
}

#[test]
fn init_honours_global_policy_flag() {
    let env = Env::new();
    let target = env.home.join("via-flag.toml");
    env.run(&["--policy", target.to_str().unwrap(), "policy", "init"])
        .code(0);
    assert_eq!(std::fs::read_to_string(&target).unwrap(), DEFAULT_POLICY);
}

#[test]
fn lint_accepts_the_default_policy() {
    let env = Env::new();
    env.run(&["policy", "init"]).code(0);
    let out = env.run(&["policy", "lint"]);
    out.code(0);
    assert!(out.stdout.starts_with("ok: "), "{}", out.stdout);
    let out = lint(&env, &env.user_policy());
    out.code(0);
}

#[test]
fn lint_without_a_user_file_checks_the_built_in_default() {
    // Regression. Before the fix: `policy lint`'s FILE defaults to "the effective policy's user layer",
    // which on a machine without ~/.config/warden/policy.toml is the built-in
    // default policy (that is what `check` uses); lint instead tries to read the
    // missing file and exits 1 ("No such file or directory"). `policy test` too.
    let env = Env::new();
    let out = env.run(&["policy", "lint"]);
    out.code(0);
    let out = env.run(&["policy", "test"]);
    out.code(0);
}

#[test]
fn lint_rejects_unknown_key_naming_file_and_line() {
    let env = Env::new();
    lint_fails(
        &env,
        "unknown-key.toml",
        "version = 1\n\n[[rule]]\nid = \"a\"\ndeny = [\"Bash(x)\"]\ncolour = \"red\"\n",
        &["unknown-key.toml:6:", "colour"],
    );
    lint_fails(
        &env,
        "unknown-top.toml",
        "version = 1\nextra = 3\n",
        &["unknown-top.toml:2:", "extra"],
    );
}

#[test]
fn lint_rejects_bad_glob() {
    let env = Env::new();
    lint_fails(
        &env,
        "glob.toml",
        "version = 1\n\n[[rule]]\nid = \"bad-glob\"\ndeny = [\"Read([a)\"]\n",
        &["glob.toml:3:", "bad-glob", "Read([a)"],
    );
}

#[test]
fn lint_rejects_failing_inline_example_naming_rule_and_example() {
    let env = Env::new();
    lint_fails(
        &env,
        "example.toml",
        "version = 1\n\n[[rule]]\nid = \"no-push\"\nask = [\"Bash(git push:*)\"]\nmatch = [\"Bash(git pull)\"]\n",
        &[
            "example.toml:3:",
            "no-push",
            "Bash(git pull)",
            "should match",
        ],
    );
    lint_fails(
        &env,
        "not-match.toml",
        "version = 1\n\n[[rule]]\nid = \"no-push\"\nask = [\"Bash(git push:*)\"]\nnot_match = [\"Bash(git push origin)\"]\n",
        &["no-push", "Bash(git push origin)", "should not match"],
    );
}

#[test]
fn lint_rejects_duplicate_rule_ids() {
    let env = Env::new();
    lint_fails(
        &env,
        "dup.toml",
        "version = 1\n\n[[rule]]\nid = \"same\"\ndeny = [\"Bash(x)\"]\n\n[[rule]]\nid = \"same\"\ndeny = [\"Bash(y)\"]\n",
        &["dup.toml:7:", "same", "duplicate"],
    );
}

#[test]
fn lint_rejects_rule_with_both_allow_and_deny() {
    let env = Env::new();
    lint_fails(
        &env,
        "both.toml",
        "version = 1\n\n[[rule]]\nid = \"both\"\nallow = [\"Bash(x)\"]\ndeny = [\"Bash(y)\"]\n",
        &["both.toml:3:", "both", "more than one"],
    );
}

#[test]
fn lint_rejects_version_2() {
    let env = Env::new();
    lint_fails(&env, "v2.toml", "version = 2\n", &["version 2"]);
}

#[test]
fn lint_rejects_other_malformed_policies() {
    let env = Env::new();
    for (name, text, needle) in [
        (
            "nover.toml",
            "[[rule]]\nid = \"x\"\ndeny = [\"Bash(x)\"]\n",
            "version",
        ),
        ("syntax.toml", "version = 1\n[[rule]\n", "syntax.toml:2:"),
        (
            "none.toml",
            "version = 1\n[[rule]]\nid = \"x\"\n",
            "needs one of",
        ),
        (
            "emptylist.toml",
            "version = 1\n[[rule]]\nid = \"x\"\ndeny = []\n",
            "matches nothing",
        ),
        (
            "reserved.toml",
            "version = 1\n[[rule]]\nid = \"builtin:x\"\ndeny = [\"Bash(x)\"]\n",
            "reserved",
        ),
        (
            "autonomy.toml",
            "version = 1\n[defaults]\nautonomy = \"god\"\n",
            "god",
        ),
        (
            "loosen.toml",
            "version = 1\n[[rule]]\nid = \"x\"\nallow = [\"Bash(x)\"]\nloosen = [\"nope\"]\n",
            "nope",
        ),
        (
            "tool.toml",
            "version = 1\n[[rule]]\nid = \"x\"\ndeny = [\"Frobnicate(x)\"]\n",
            "Frobnicate",
        ),
        (
            "badex.toml",
            "version = 1\n[[rule]]\nid = \"x\"\ndeny = [\"Bash(x)\"]\nmatch = [\"garbage\"]\n",
            "garbage",
        ),
        (
            "deny-loosen.toml",
            "version = 1\n[[rule]]\nid = \"x\"\ndeny = [\"Bash(x)\"]\nloosen = [\"pipe-to-shell\"]\n",
            "cannot loosen",
        ),
    ] {
        lint_fails(&env, name, text, &[needle]);
    }
}

#[test]
fn lint_error_states_the_problem_once() {
    // Regression. Before the fix: `PolicyError::Spec` and `PolicyError::Io` print `{source}` in their own
    // message *and* expose it as the error source, so anyhow's `{:#}` in main
    // prints it twice: `bad pattern "[a" in "Read([a)": unclosed character class
    // [: bad pattern "[a" in "Read([a)": unclosed character class [`.
    let env = Env::new();
    let err = lint_fails(
        &env,
        "glob.toml",
        "version = 1\n\n[[rule]]\nid = \"bad-glob\"\ndeny = [\"Read([a)\"]\n",
        &["Read([a)"],
    );
    assert_eq!(
        err.matches("unclosed character class").count(),
        1,
        "the cause appears once:\n{err}"
    );
    let missing = env.ws.join("missing.toml");
    let out = lint(&env, &missing);
    out.code(1);
    assert_eq!(
        out.stderr.matches("No such file or directory").count(),
        1,
        "the cause appears once:\n{}",
        out.stderr
    );
}

#[test]
fn test_lists_every_example() {
    let env = Env::new();
    let file = env.write_ws(
        "p.toml",
        r#"version = 1

[[rule]]
id = "no-push"
ask = ["Bash(git push:*)"]
match = ["Bash(git push origin main)", "Bash(git add . && git push)"]
not_match = ["Bash(git pull)"]

[[rule]]
id = "no-keys"
deny = ["Read(~/.ssh/**)"]
match = ["Read(~/.ssh/id_rsa)"]
"#,
    );
    let out = env.run(&["policy", "test", file.to_str().unwrap()]);
    out.code(0);
    for (id, example) in [
        ("no-push", "Bash(git push origin main)"),
        ("no-push", "Bash(git add . && git push)"),
        ("no-push", "Bash(git pull)"),
        ("no-keys", "Read(~/.ssh/id_rsa)"),
    ] {
        assert!(
            out.stdout
                .lines()
                .any(|l| l.starts_with("ok") && l.contains(id) && l.contains(example)),
            "{id} {example} listed:\n{}",
            out.stdout
        );
    }
    assert!(
        out.stdout.contains("4 examples passed in 2 rules"),
        "{}",
        out.stdout
    );
}

#[test]
fn test_lists_the_default_policy_examples() {
    let env = Env::new();
    env.run(&["policy", "init"]).code(0);
    let out = env.run(&["policy", "test"]);
    out.code(0);
    assert!(
        out.stdout.contains("secrets-read") && out.stdout.contains("Read(~/.ssh/id_ed25519)"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("examples passed in"), "{}", out.stdout);
}

#[test]
fn test_fails_on_a_failing_example() {
    let env = Env::new();
    let file = env.write_ws(
        "p.toml",
        "version = 1\n[[rule]]\nid = \"no-push\"\nask = [\"Bash(git push:*)\"]\nmatch = [\"Bash(git pull)\"]\n",
    );
    let out = env.run(&["policy", "test", file.to_str().unwrap()]);
    out.code(1);
    assert!(out.stderr.contains("no-push"), "{}", out.stderr);
}

#[test]
fn missing_policy_file_is_error_exit_1_naming_it() {
    let env = Env::new();
    let missing = env.home.join("no-such-policy.toml");
    let m = missing.to_str().unwrap();
    for args in [
        vec!["--policy", m, "check", "--bash", "git status"],
        vec!["check", "--policy", m, "--bash", "git status"],
        vec!["--policy", m, "policy", "explain", "ls"],
        vec!["--policy", m, "policy", "lint"],
    ] {
        let out = env.run(&args);
        out.code(1);
        assert!(out.stdout.is_empty(), "{args:?}: {}", out.stdout);
        assert!(out.stderr.contains(m), "{args:?}: {}", out.stderr);
    }
}

#[test]
fn user_policy_file_is_used_when_present() {
    let env = Env::new();
    write(
        &env.user_policy(),
        "version = 1\n\n[[rule]]\nid = \"no-ls\"\ndeny = [\"Bash(ls:*)\"]\nreason = \"mine\"\n",
    );
    let v = crate::support::check_json(&env, &["--bash", "ls -la"]);
    crate::support::assert_verdict(&v, "deny", "no-ls");
}

#[test]
fn broken_user_policy_fails_closed_with_exit_1() {
    let env = Env::new();
    write(&env.user_policy(), "version = 1\n[[rule]]\nid = \"x\"\n");
    let out = env.run(&["check", "--bash", "git status"]);
    out.code(1);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    let at = format!("{}:2:", env.user_policy().display());
    assert!(out.stderr.contains(&at), "{}", out.stderr);
}

#[test]
fn lint_reports_each_agents_autonomy_and_egress_limits_and_refuses_a_zero() {
    let env = Env::new();
    let file = env.write_ws(
        "limits.toml",
        "version = 1\n[agents.codex]\nrequests_per_second = 20\nmax_body_mib = 4\n[agents.bot]\nmax_body_mib = 1\n[agents.reviewer]\nautonomy = \"assistant\"\n[agents.runner]\nautonomy = \"delegated\"\nrequests_per_second = 3\n",
    );
    let out = lint(&env, &file);
    out.code(0);
    assert!(
        out.stdout.contains(
            "agent codex: at most 20 requests per second per session (bursts of 40), request bodies up to 4 MiB"
        ),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("agent bot: request bodies up to 1 MiB"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .lines()
            .any(|l| l == "agent reviewer: autonomy assistant (1)"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(
            "agent runner: autonomy delegated (3); at most 3 requests per second per session (bursts of 6) through the proxy"
        ),
        "{}",
        out.stdout
    );
    lint_fails(
        &env,
        "zero.toml",
        "version = 1\n[agents.codex]\nrequests_per_second = 0\n",
        &["[agents.codex]", "limit of 0"],
    );
}
