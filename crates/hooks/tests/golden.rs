//! Golden tests: every payload under `tests/golden/<agent>/` (most captured
//! from the real agents, the rest written from their documentation) is
//! translated, and the actions and the native replies for allow, ask and deny
//! are compared with `<name>.golden.json` next to it. `UPDATE_GOLDEN=1`
//! rewrites the golden files (review the diff before committing).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use warden_hooks::{Agent, Reply, event_name, parse, refusal, reply};
use warden_types::{Decision, Verdict};

fn verdict(d: Decision) -> Verdict {
    let mut v = Verdict::malformed(format!("the policy says {d}"));
    v.decision = d;
    v.rules = vec!["golden-rule".into()];
    v
}

fn reply_json(r: Reply) -> Value {
    let body: Value = if r.body.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&r.body).expect("replies are JSON")
    };
    json!({"body": body, "stderr": r.stderr, "exit_code": r.exit_code})
}

fn outcome(agent: Agent, payload: &[u8]) -> Value {
    match parse(agent, payload) {
        Err(e) => json!({
            "error": e.to_string(),
            "refusal": reply_json(refusal(agent, event_name(payload).as_deref(), &e.to_string())),
        }),
        Ok(ev) => {
            let actions: Vec<Value> = ev
                .actions
                .iter()
                .map(|a| json!({"origin": a.origin, "cwd": a.cwd, "kind": a.kind, "context": a.context}))
                .collect();
            let mut out = json!({
                "event": ev.name,
                "phase": format!("{:?}", ev.phase),
                "session": ev.session,
                "turn": ev.turn,
                "tool_use": ev.tool_use,
                "tool": ev.tool,
                "actions": actions,
                "note": ev.note,
            });
            for d in [Decision::Allow, Decision::Ask, Decision::Deny] {
                out[format!("reply_{d}")] = reply_json(reply(&ev, &verdict(d)));
            }
            if ev.decides() {
                // A rule rewrote the command: agents that can run the rewrite
                // get it; the others are told to run it themselves.
                let mut v = verdict(Decision::Allow);
                v.rewrite = Some("echo rewritten".into());
                out["reply_rewrite"] = reply_json(reply(&ev, &v));
            }
            out
        }
    }
}

fn cases() -> Vec<(Agent, PathBuf)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut out = Vec::new();
    for agent in Agent::ALL {
        let dir = root.join(agent.name());
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .filter(|p| {
                p.extension().is_some_and(|x| x == "json")
                    && !p.to_string_lossy().ends_with(".golden.json")
            })
            .collect();
        files.sort();
        out.extend(files.into_iter().map(|p| (agent, p)));
    }
    out
}

#[test]
fn every_adapter_matches_its_golden_files() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut failures = Vec::new();
    let all = cases();
    assert!(
        all.len() >= 50,
        "the golden payloads are there ({} found)",
        all.len()
    );
    for (agent, path) in &all {
        let got = outcome(*agent, &std::fs::read(path).unwrap());
        let golden = path.with_extension("golden.json");
        if update {
            std::fs::write(&golden, serde_json::to_string_pretty(&got).unwrap() + "\n").unwrap();
            continue;
        }
        let want: Value = std::fs::read_to_string(&golden)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(Value::Null);
        if want != got {
            failures.push(format!(
                "{}:\n want {}\n got  {}",
                path.display(),
                want,
                got
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} golden mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_agent_adapter_has_payloads_for_its_gates_and_errors() {
    let all = cases();
    for agent in Agent::ALL {
        let names: Vec<String> = all
            .iter()
            .filter(|(a, _)| *a == agent)
            .map(|(_, p)| p.file_name().unwrap().to_string_lossy().to_string())
            .collect();
        assert!(
            names.iter().any(|n| n.starts_with("error-")),
            "{agent:?} has error cases"
        );
        assert!(names.len() >= 8, "{agent:?}: {names:?}");
    }
}
