//! `[agents.NAME]` egress limits: parsed with or without an autonomy,
//! combined across layers to the strictest, and refused when meaningless.

use std::path::Path;

use warden_policy::file::{LayerKind, parse_layer};
use warden_policy::{AgentLimits, Policy, PolicyError};

use crate::engine::HOME;

fn layer(text: &str, kind: LayerKind) -> Result<warden_policy::Layer, PolicyError> {
    parse_layer(text, "limits.toml", kind, Path::new(HOME))
}

#[test]
fn an_agent_may_have_limits_with_or_without_an_autonomy() {
    let user = layer(
        "version = 1\n[agents.codex]\nrequests_per_second = 20\nmax_body_mib = 4\n[agents.claude-code]\nautonomy = \"assistant\"\nrequests_per_second = 50\n",
        LayerKind::User,
    )
    .unwrap();
    let p = Policy::from_layers(vec![user], Path::new(HOME)).unwrap();
    assert!(p.agent_limits().next().is_some());
    assert_eq!(
        p.limits_for("codex"),
        AgentLimits {
            requests_per_second: Some(20),
            max_body_mib: Some(4)
        }
    );
    assert_eq!(p.limits_for("claude-code").requests_per_second, Some(50));
    assert_eq!(p.limits_for("claude-code").max_body_mib, None);
    assert_eq!(p.limits_for("someone-else"), AgentLimits::default());
    // Limits alone leave the agent's autonomy at the default.
    assert_eq!(p.autonomy_for("codex"), p.autonomy_for("someone-else"));
    // Both agents are listed, each with what its table sets.
    let named = p.named_agents();
    assert_eq!(
        named.iter().map(|(n, a, _)| (*n, *a)).collect::<Vec<_>>(),
        vec![
            ("claude-code", Some(warden_types::Autonomy::Assistant)),
            ("codex", None)
        ]
    );
    assert_eq!(named[1].2, p.limits_for("codex"));
    assert_eq!(
        p.limits_for("codex").describe(),
        vec![
            "at most 20 requests per second per session (bursts of 40)",
            "request bodies up to 4 MiB"
        ]
    );
    let none = Policy::from_layers(
        vec![layer("version = 1\n", LayerKind::User).unwrap()],
        Path::new(HOME),
    )
    .unwrap();
    assert!(none.agent_limits().next().is_none());
    assert!(none.named_agents().is_empty());
    assert!(AgentLimits::default().describe().is_empty());
}

#[test]
fn layers_combine_to_the_strictest_limit_whichever_sets_it() {
    let user = layer(
        "version = 1\n[agents.codex]\nrequests_per_second = 20\n",
        LayerKind::User,
    )
    .unwrap();
    // A project layer can only tighten: a higher rate than the user's is
    // not a loosening error, it simply does not win.
    for (project, rate, body) in [
        ("[agents.codex]\nrequests_per_second = 5\n", Some(5), None),
        (
            "[agents.codex]\nrequests_per_second = 500\n",
            Some(20),
            None,
        ),
        ("[agents.codex]\nmax_body_mib = 2\n", Some(20), Some(2)),
    ] {
        let project = layer(&format!("version = 1\n{project}"), LayerKind::Project).unwrap();
        let p = Policy::from_layers(vec![user.clone(), project], Path::new(HOME)).unwrap();
        assert_eq!(p.limits_for("codex").requests_per_second, rate);
        assert_eq!(p.limits_for("codex").max_body_mib, body);
    }
}

#[test]
fn a_zero_or_an_empty_agent_table_or_an_unknown_key_is_an_error_naming_the_agent() {
    for (text, says) in [
        ("[agents.codex]\nrequests_per_second = 0\n", "limit of 0"),
        ("[agents.codex]\nmax_body_mib = 0\n", "limit of 0"),
        ("[agents.codex]\n", "sets nothing"),
    ] {
        let e = layer(&format!("version = 1\n{text}"), LayerKind::User).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("[agents.codex]") && msg.contains(says),
            "{msg}"
        );
        assert!(msg.contains("limits.toml"), "{msg}");
    }
    let e = layer(
        "version = 1\n[agents.codex]\nrequests_per_minute = 3\n",
        LayerKind::User,
    )
    .unwrap_err();
    assert!(e.to_string().contains("requests_per_minute"), "{e}");
    let e = layer(
        "version = 1\n[agents.codex]\nrequests_per_second = -1\n",
        LayerKind::User,
    )
    .unwrap_err();
    assert!(matches!(e, PolicyError::Toml { .. }), "{e}");
}
