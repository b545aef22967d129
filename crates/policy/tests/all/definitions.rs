//! MCP tool definitions: shown unless denied, asked about when changed or flagged.

use warden_types::{Action, ActionKind, Autonomy, Decision, Threat};

use crate::engine::{at, decide, policy};

fn definition(server: &str, tool: &str, findings: &[&str], pinned: Option<&str>) -> Action {
    Action::new(
        "/work/p",
        ActionKind::ToolDefinition {
            server: server.into(),
            tool: tool.into(),
            digest: "d1".repeat(32),
            findings: findings.iter().map(|f| f.to_string()).collect(),
            pinned: pinned.map(str::to_string),
        },
    )
}

const BASE: &str = "version = 1\n[defaults]\nautonomy = \"assistant\"\n";

#[test]
fn a_clean_new_definition_is_shown_even_where_calls_ask() {
    let p = policy(&format!(
        "{BASE}[[rule]]\nid = \"ask-gh\"\nask = [\"mcp__gh__*\"]\n"
    ));
    for level in [Autonomy::Observer, Autonomy::Assistant, Autonomy::Executor] {
        let v = decide(&p, &at(definition("gh", "create_issue", &[], None), level));
        assert_eq!(v.decision, Decision::Allow, "{level:?}: {v:?}");
    }
}

#[test]
fn a_deny_rule_hides_the_tool() {
    let p = policy(&format!(
        "{BASE}[[rule]]\nid = \"no-shell\"\ndeny = [\"mcp__box__run_*\"]\n"
    ));
    let v = decide(&p, &definition("box", "run_shell", &[], None));
    assert_eq!(
        (v.decision, v.rules.clone()),
        (Decision::Deny, vec!["no-shell".into()])
    );
    assert_eq!(
        decide(&p, &definition("box", "list", &[], None)).decision,
        Decision::Allow
    );
}

#[test]
fn a_flagged_or_changed_definition_needs_a_person_at_every_level() {
    let p = policy(BASE);
    let flagged = definition("x", "add", &["T1 pseudo-markup: <IMPORTANT>"], None);
    let changed = definition("x", "add", &[], Some(&"00".repeat(32)));
    for (a, id) in [
        (flagged, "threat:tool-poisoning"),
        (changed, "threat:tool-changed"),
    ] {
        let v = decide(&p, &at(a, Autonomy::Autonomous));
        assert_eq!(v.decision, Decision::Ask, "{v:?}");
        assert_eq!(v.threat, Threat::High);
        assert!(v.rules.contains(&id.to_string()), "{v:?}");
    }
}

#[test]
fn an_approved_definition_is_shown_with_its_findings() {
    let p = policy(BASE);
    let pinned = "d1".repeat(32);
    let v = decide(
        &p,
        &definition("x", "add", &["C1 concealment"], Some(&pinned)),
    );
    assert_eq!(v.decision, Decision::Allow, "{v:?}");
}

#[test]
fn a_rule_naming_the_finding_loosens_it_and_says_so() {
    let p = policy(&format!(
        "{BASE}[[rule]]\nid = \"guard-docs\"\nallow = [\"mcp__guard__*\"]\nloosen = [\"tool-poisoning\"]\n"
    ));
    let v = decide(&p, &definition("guard", "explain", &["O1 override"], None));
    assert_eq!(v.decision, Decision::Allow, "{v:?}");
    assert_eq!(v.loosened, vec!["guard-docs:tool-poisoning".to_string()]);
    // ...for that server only.
    let v = decide(&p, &definition("other", "explain", &["O1 override"], None));
    assert_eq!(v.decision, Decision::Ask);
}
