//! Rewrite rules: the matched prefix is replaced, the rewritten command is
//! decided in full, and a line that cannot be rewritten safely asks.

use std::path::Path;

use warden_policy::file::{LayerKind, parse_layer};
use warden_types::{Decision, Threat};

use crate::engine::{HOME, decide, policy};

/// A shell action from an interceptor that can run a rewritten command.
fn shell(cmd: &str) -> warden_types::Action {
    let mut a = crate::engine::shell(cmd);
    a.context
        .get_or_insert_with(Default::default)
        .extra
        .insert(warden_types::TAKES_REWRITES.into(), "yes".into());
    a
}

const LEASE: &str = r#"version = 1
[defaults]
autonomy = "executor"
[[rule]]
id = "lease"
reason = "a force push could drop a colleague's commits"
allow = ["Bash(git push --force:*)", "Bash(git push -f:*)"]
rewrite = "git push --force-with-lease"
[[rule]]
id = "pushes-ok"
allow = ["Bash(git push --force-with-lease:*)"]
loosen = ["git-destructive"]
"#;

#[test]
fn the_prefix_is_replaced_and_the_rewrite_is_decided() {
    let p = policy(LEASE);
    let v = decide(&p, &shell("git push -f origin main"));
    assert_eq!(
        v.rewrite.as_deref(),
        Some("git push --force-with-lease origin main")
    );
    assert_eq!(v.decision, Decision::Allow, "{v:?}");
    assert_eq!(v.rules[0], "lease");
    assert!(v.rules.contains(&"pushes-ok".to_string()), "{v:?}");
    assert!(
        v.reason
            .contains("rewrites it to `git push --force-with-lease origin main`"),
        "{}",
        v.reason
    );
    // Not the prefix: no rewrite.
    let v = decide(&p, &shell("git push origin main"));
    assert_eq!(v.rewrite, None);
}

#[test]
fn a_line_that_cannot_be_rewritten_asks_instead_of_allowing_the_original() {
    let p = policy(LEASE);
    for line in [
        "cd repo && git push --force",
        "git push --force \"$REMOTE\"",
        "git push --force origin > log",
    ] {
        let v = decide(&p, &shell(line));
        assert_eq!(v.rewrite, None, "{line}");
        assert_eq!(v.decision, Decision::Ask, "{line}: {v:?}");
        assert!(v.rules.contains(&"lease".to_string()), "{line}: {v:?}");
    }
}

#[test]
fn a_rewrite_cannot_launder_a_dangerous_command() {
    let p = policy(
        "version = 1\n[defaults]\nautonomy = \"autonomous\"\n[[rule]]\nid = \"oops\"\nallow = [\"Bash(make clean:*)\"]\nrewrite = \"rm -rf /\"\n",
    );
    let v = decide(&p, &shell("make clean"));
    assert_eq!(v.rewrite.as_deref(), Some("rm -rf /"));
    assert_eq!(
        (v.decision, v.threat),
        (Decision::Deny, Threat::Critical),
        "{v:?}"
    );
}

#[test]
fn rewrite_rules_are_checked_when_the_policy_loads() {
    let home = Path::new(HOME);
    let rule = |body: &str| format!("version = 1\n[[rule]]\nid = \"r\"\n{body}\n");
    for (body, why) in [
        (
            "deny = [\"Bash(git push:*)\"]\nrewrite = \"git status\"",
            "allow = [...] only",
        ),
        (
            "allow = [\"Bash(git push)\"]\nrewrite = \"git status\"",
            "Bash(<words>:*)",
        ),
        (
            "allow = [\"Read(~/x)\"]\nrewrite = \"git status\"",
            "Bash(<words>:*)",
        ),
        (
            "allow = [\"Bash(git push:*)\"]\nrewrite = \"git status; curl x\"",
            "plain words",
        ),
        (
            "allow = [\"Bash(git push:*)\"]\nrewrite = \"\"",
            "plain words",
        ),
    ] {
        let err = parse_layer(&rule(body), "p.toml", LayerKind::User, home)
            .unwrap_err()
            .to_string();
        assert!(err.contains(why), "{body}: {err}");
    }
    let project = parse_layer(
        &rule("allow = [\"Bash(git push:*)\"]\nrewrite = \"git status\""),
        "p.toml",
        LayerKind::Project,
        home,
    )
    .unwrap_err()
    .to_string();
    assert!(
        project.contains("project policy cannot rewrite"),
        "{project}"
    );
}

#[test]
fn an_interceptor_that_cannot_run_the_rewrite_is_denied_the_original() {
    let p = policy(LEASE);
    let v = decide(&p, &crate::engine::shell("git push -f origin main"));
    assert_eq!(v.decision, Decision::Deny, "{v:?}");
    assert_eq!(v.rewrite, None);
    assert!(
        v.reason
            .contains("run `git push --force-with-lease origin main` instead"),
        "{}",
        v.reason
    );
}
