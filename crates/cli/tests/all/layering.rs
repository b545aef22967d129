//! Policy layers: system → user → project. The project layer lives in the
//! workspace, which the agent can write (ARCHITECTURE §5: the project directory's
//! files are untrusted), so it may only tighten; anything else must refuse to load.

use crate::support::{Env, assert_verdict, check_json, decision, write};

/// A user policy without allow rules, so a system layer above it can load.
const TIGHT_USER: &str = r#"version = 1

[[rule]]
id = "user-push"
ask = ["Bash(git push:*)"]
reason = "the user asks about pushes"
"#;

#[test]
fn project_deny_rule_tightens() {
    let env = Env::new();
    let before = check_json(&env, &["--bash", "ls -la"]);
    assert_eq!(decision(&before), "allow", "{before}");
    env.write_project_policy(
        "version = 1\n\n[[rule]]\nid = \"no-ls\"\ndeny = [\"Bash(ls:*)\"]\nreason = \"project forbids ls\"\n",
    );
    let v = check_json(&env, &["--bash", "ls -la"]);
    assert_verdict(&v, "deny", "no-ls");
    // The rest of the user layer still applies.
    let v = check_json(&env, &["--bash", "git push origin main"]);
    assert_verdict(&v, "ask", "git-push");
}

#[test]
fn project_layer_is_found_via_cwd_flag() {
    let env = Env::new();
    env.write_project_policy("version = 1\n\n[[rule]]\nid = \"no-ls\"\ndeny = [\"Bash(ls:*)\"]\n");
    let elsewhere = env.home.join("other");
    std::fs::create_dir_all(&elsewhere).unwrap();
    // From another cwd, --cwd names the workspace whose project layer applies.
    let out = env.run(&[
        "check",
        "--json",
        "--cwd",
        env.ws.to_str().unwrap(),
        "--bash",
        "ls",
    ]);
    out.code(2);
    let v = check_json(
        &env,
        &["--cwd", elsewhere.to_str().unwrap(), "--bash", "ls"],
    );
    assert_eq!(decision(&v), "allow", "{v}");
}

#[track_caller]
fn assert_refused(env: &Env, text: &str, needles: &[&str]) {
    let project = env.write_project_policy(text);
    let out = env.run(&["check", "--bash", "git status"]);
    out.code(1);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    assert!(
        out.stderr.contains(&project.display().to_string()),
        "names the project file:\n{}",
        out.stderr
    );
    assert!(out.stderr.contains("may only tighten"), "{}", out.stderr);
    for n in needles {
        assert!(out.stderr.contains(n), "expected {n:?} in:\n{}", out.stderr);
    }
}

#[test]
fn project_allow_rule_is_refused() {
    assert_refused(
        &Env::new(),
        "version = 1\n\n[[rule]]\nid = \"let-me-push\"\nallow = [\"Bash(git push:*)\"]\n",
        &["let-me-push", "allow"],
    );
}

#[test]
fn project_audit_mode_allow_rule_is_refused() {
    assert_refused(
        &Env::new(),
        "version = 1\n\n[[rule]]\nid = \"quiet\"\nmode = \"audit\"\nallow = [\"Bash(git push:*)\"]\n",
        &["quiet"],
    );
}

#[test]
fn project_raising_default_autonomy_is_refused() {
    assert_refused(
        &Env::new(),
        "version = 1\n\n[defaults]\nautonomy = \"autonomous\"\n",
        &["autonomy"],
    );
}

#[test]
fn project_raising_an_agents_autonomy_is_refused() {
    assert_refused(
        &Env::new(),
        "version = 1\n\n[agents.claude-code]\nautonomy = \"delegated\"\n",
        &["claude-code"],
    );
}

#[test]
fn project_loosen_is_refused() {
    assert_refused(
        &Env::new(),
        "version = 1\n\n[[rule]]\nid = \"installer\"\nask = [\"Bash(curl:*)\"]\nloosen = [\"pipe-to-shell\"]\n",
        &["installer", "loosen"],
    );
}

#[test]
fn project_redefining_a_user_rule_id_is_refused_with_one_line_number() {
    // Refused (exit 1) as it should be, but
    // Regression. Before the fix: the message prints the line twice, `.warden/policy.toml:3:3: rule
    // "git-push": rule id already defined in a higher layer` — engine.rs builds the
    // error with `file: r.source` (already `file:line`) and then adds `line` again.
    let env = Env::new();
    let project = env.write_project_policy(
        "version = 1\n\n[[rule]]\nid = \"git-push\"\ndeny = [\"Bash(git push:*)\"]\n",
    );
    let out = env.run(&["check", "--bash", "git status"]);
    out.code(1);
    assert!(out.stderr.contains("already defined"), "{}", out.stderr);
    let expected = format!("{}:3: rule", project.display());
    assert!(
        out.stderr.contains(&expected),
        "expected {expected:?} in:\n{}",
        out.stderr
    );
}

#[test]
fn project_lowering_default_autonomy_tightens() {
    let env = Env::new();
    let v = check_json(&env, &["--write", "src/new.rs"]);
    assert_eq!(decision(&v), "allow", "{v}");
    env.write_project_policy("version = 1\n\n[defaults]\nautonomy = \"observer\"\n");
    let v = check_json(&env, &["--write", "src/new.rs"]);
    assert_verdict(&v, "deny", "default:autonomy");
}

#[test]
fn project_ask_rule_cannot_open_a_non_public_address() {
    // Regression (security). Before the fix: builtin:non-public-address is lifted by any enforced
    // non-deny rule that names the host literally — including an `ask` rule in the
    // untrusted project layer. A planted `.warden/policy.toml` (which the agent may
    // itself write: `--write .warden/policy.toml` is allowed) turns the metadata
    // fetch from deny into ask, and into allow at autonomy `autonomous`, where ask
    // rules allow.
    let env = Env::new();
    env.write_project_policy(
        "version = 1\n\n[[rule]]\nid = \"innocent-looking\"\nask = [\"WebFetch(domain:169.254.169.254)\"]\n",
    );
    let url = "http://169.254.169.254/latest/meta-data/";
    let v = check_json(&env, &["--fetch", url]);
    assert_verdict(&v, "deny", "builtin:non-public-address");
    let v = check_json(&env, &["--fetch", url, "--autonomy", "autonomous"]);
    assert_verdict(&v, "deny", "builtin:non-public-address");
}

#[test]
fn project_ask_rule_cannot_loosen_an_autonomy_deny() {
    // Regression (security). Before the fix: a matching rule's decision replaces the autonomy default
    // instead of being combined with it, so a project-layer `ask` rule turns the
    // observer level's deny of a write into an ask — a lower layer loosening.
    let env = Env::new();
    let user = write(
        &env.home.join("observer.toml"),
        "version = 1\n\n[defaults]\nautonomy = \"observer\"\n",
    );
    let user = user.to_str().unwrap();
    let v = check_json(&env, &["--policy", user, "--write", "src/new.rs"]);
    assert_verdict(&v, "deny", "default:autonomy");
    env.write_project_policy(
        "version = 1\n\n[[rule]]\nid = \"review-src\"\nask = [\"Write(./src/**)\"]\n",
    );
    let v = check_json(&env, &["--policy", user, "--write", "src/new.rs"]);
    assert_eq!(decision(&v), "deny", "{v}");
}

#[test]
fn system_layer_is_applied_above_a_tight_user_layer() {
    let env = Env::new();
    env.write_system_policy(
        "version = 1\n\n[[rule]]\nid = \"sys-no-curl\"\ndeny = [\"Bash(curl:*)\"]\nreason = \"the administrator forbids curl\"\n",
    );
    write(&env.user_policy(), TIGHT_USER);
    let v = check_json(&env, &["--bash", "curl -s https://example.com/"]);
    assert_verdict(&v, "deny", "sys-no-curl");
    let v = check_json(&env, &["--bash", "git push"]);
    assert_verdict(&v, "ask", "user-push");
}

#[test]
fn system_layer_autonomy_caps_the_user_layer() {
    let env = Env::new();
    env.write_system_policy("version = 1\n\n[defaults]\nautonomy = \"assistant\"\n");
    write(
        &env.user_policy(),
        "version = 1\n\n[defaults]\nautonomy = \"autonomous\"\n",
    );
    let out = env.run(&["check", "--bash", "git status"]);
    out.code(1);
    assert!(out.stderr.contains("may only tighten"), "{}", out.stderr);
    // Without the user's attempt, the system's level applies.
    write(&env.user_policy(), TIGHT_USER);
    let v = check_json(&env, &["--write", "src/new.rs"]);
    assert_verdict(&v, "ask", "default:autonomy");
}

#[test]
fn system_layer_is_applied_with_the_default_user_policy() {
    // Regression. Before the fix: with any system layer present (/etc/warden/policy.toml or
    // $WARDEN_SYSTEM_POLICY) and no user file, warden refuses to run at all: the
    // built-in default user policy has allow rules (everyday-development), which
    // the tighten-only check rejects in every layer below the first —
    // `<default policy>:127: rule "everyday-development": the user layer may only
    // tighten the policy above it`. Every `check` exits 1.
    let env = Env::new();
    env.write_system_policy(
        "version = 1\n\n[[rule]]\nid = \"sys-no-curl\"\ndeny = [\"Bash(curl:*)\"]\nreason = \"the administrator forbids curl\"\n",
    );
    let v = check_json(&env, &["--bash", "curl -s https://example.com/"]);
    assert_verdict(&v, "deny", "sys-no-curl");
    let v = check_json(&env, &["--bash", "git status"]);
    assert_eq!(decision(&v), "allow", "{v}");
}

#[test]
fn broken_system_layer_fails_closed_with_exit_1() {
    let env = Env::new();
    let sys = env.write_system_policy("version = 1\n[[rule]]\nid = \"x\"\n");
    let out = env.run(&["check", "--bash", "git status"]);
    out.code(1);
    assert!(
        out.stderr.contains(&sys.display().to_string()),
        "{}",
        out.stderr
    );
}
