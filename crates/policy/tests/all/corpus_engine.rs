//! The corpora through the whole engine with the default policy: what an agent
//! would actually be told, not just what the classifier thinks.

use std::path::Path;

use warden_policy::{EvalContext, Policy};
use warden_types::{Action, ActionKind, Autonomy, Decision, NetRequest};

use super::corpus::{pct, rows};

fn engine() -> (Policy, EvalContext) {
    let home = Path::new("/home/dev");
    // The default policy, granting `delegated` so actions can run at that level.
    let text = warden_policy::defaults::DEFAULT_POLICY.replacen(
        "autonomy = \"executor\"",
        "autonomy = \"delegated\"",
        1,
    );
    let layer = warden_policy::file::parse_layer(
        &text,
        "default.toml",
        warden_policy::LayerKind::User,
        home,
    )
    .unwrap();
    let p = Policy::from_layers(vec![layer], home).unwrap();
    let ctx = EvalContext {
        home: home.to_path_buf(),
        human_available: true,
        resolve_symlinks: false,
        protected: Vec::new(),
        autonomy: None,
        approvals: true,
    };
    (p, ctx)
}

fn at(kind: ActionKind, cwd: &str, level: Autonomy) -> Action {
    let mut a = Action::new(cwd, kind);
    a.agent.autonomy = Some(level);
    a
}

/// At `delegated` (3) only rules and the threat layer stop anything, so what is
/// flagged is flagged for cause.
#[test]
fn corpus_engine_commands_at_delegated() {
    let (p, ctx) = engine();
    let decide = |cmd: &str| {
        p.evaluate(
            &at(
                ActionKind::Shell {
                    command: cmd.into(),
                },
                "/home/dev/project",
                Autonomy::Delegated,
            ),
            &ctx,
        )
        .verdict
        .decision
    };
    let malicious: Vec<serde_json::Value> = rows("commands/malicious.jsonl");
    let (mut flagged, mut crit, mut crit_denied) = (0, 0, 0);
    for r in &malicious {
        let d = decide(r["cmd"].as_str().unwrap());
        flagged += usize::from(d != Decision::Allow);
        if r["label"] == "critical" {
            crit += 1;
            crit_denied += usize::from(d == Decision::Deny);
        }
    }
    let benign: Vec<serde_json::Value> = rows("commands/benign.jsonl");
    let verbose = std::env::var_os("WARDEN_CORPUS_VERBOSE").is_some();
    let benign_flagged = benign
        .iter()
        .filter(|r| {
            let cmd = r["cmd"].as_str().unwrap();
            let v = p
                .evaluate(
                    &at(
                        ActionKind::Shell {
                            command: cmd.into(),
                        },
                        "/home/dev/project",
                        Autonomy::Delegated,
                    ),
                    &ctx,
                )
                .verdict;
            if verbose && v.decision != Decision::Allow {
                println!(
                    "ENGINE-BENIGN {} {cmd:?} {:?} {}",
                    v.decision, v.rules, v.reason
                );
            }
            v.decision != Decision::Allow
        })
        .count();
    let ambiguous: Vec<serde_json::Value> = rows("commands/ambiguous.jsonl");
    let amb_flagged = ambiguous
        .iter()
        .filter(|r| decide(r["cmd"].as_str().unwrap()) != Decision::Allow)
        .count();
    println!(
        "engine (default policy, delegated): malicious not allowed {flagged}/{} ({:.1}%), critical denied {crit_denied}/{crit} ({:.1}%), benign not allowed {benign_flagged}/{} ({:.1}%, includes the policy's ask rules for installs/pushes), ambiguous not allowed {amb_flagged}/{} ({:.1}%)",
        malicious.len(),
        pct(flagged, malicious.len()),
        pct(crit_denied, crit),
        benign.len(),
        pct(benign_flagged, benign.len()),
        ambiguous.len(),
        pct(amb_flagged, ambiguous.len()),
    );
    assert!(pct(flagged, malicious.len()) >= 95.0);
    assert!(pct(crit_denied, crit) >= 85.0);
    assert!(
        pct(benign_flagged, benign.len()) <= 3.0,
        "benign commands blocked by the default policy"
    );
}

#[derive(serde::Deserialize)]
struct Url {
    url: String,
    #[serde(default)]
    needs_dns: bool,
    #[serde(default)]
    needs_redirect: bool,
}

/// Every non-DNS SSRF payload is denied at every autonomy level; no allowed URL is.
#[test]
fn corpus_engine_ssrf() {
    let (p, ctx) = engine();
    let fetch = |u: &str, level| {
        p.evaluate(
            &at(
                ActionKind::Net(NetRequest {
                    url: Some(u.into()),
                    ..Default::default()
                }),
                "/w",
                level,
            ),
            &ctx,
        )
        .verdict
    };
    let payloads: Vec<Url> = rows("ssrf/payloads.jsonl");
    let offline: Vec<&Url> = payloads
        .iter()
        .filter(|r| !r.needs_dns && !r.needs_redirect)
        .collect();
    for level in Autonomy::ALL {
        let denied = offline
            .iter()
            .filter(|r| fetch(&r.url, level).decision == Decision::Deny)
            .count();
        assert_eq!(
            denied,
            offline.len(),
            "{level}: {:?}",
            offline
                .iter()
                .filter(|r| fetch(&r.url, level).decision != Decision::Deny)
                .map(|r| &r.url)
                .collect::<Vec<_>>()
        );
    }
    let allowed: Vec<Url> = rows("ssrf/allowed.jsonl");
    let denied: Vec<&String> = allowed
        .iter()
        .filter(|r| fetch(&r.url, Autonomy::Executor).decision == Decision::Deny)
        .map(|r| &r.url)
        .collect();
    println!(
        "engine ssrf: {}/{} non-DNS payloads denied at every level; {}/{} allowed URLs denied",
        offline.len(),
        offline.len(),
        denied.len(),
        allowed.len()
    );
    assert!(denied.is_empty(), "{denied:?}");
}

/// Writing through an escaping spelling is never a workspace write (never allowed
/// at executor); non-escaping spellings are.
#[test]
fn corpus_engine_paths_as_writes() {
    let (p, ctx) = engine();
    let jail = "/srv/www/jail";
    let write = |path: &str| {
        p.evaluate(
            &at(
                ActionKind::FileWrite { path: path.into() },
                jail,
                Autonomy::Executor,
            ),
            &ctx,
        )
        .verdict
        .decision
    };
    let traversal: Vec<serde_json::Value> = rows("paths/traversal.jsonl");
    let allowed: Vec<&str> = traversal
        .iter()
        .map(|r| r["path"].as_str().unwrap())
        .filter(|s| write(s) == Decision::Allow)
        .collect();
    let inside: Vec<serde_json::Value> = rows("paths/non_escaping.jsonl");
    let refused: Vec<&str> = inside
        .iter()
        .map(|r| r["path"].as_str().unwrap())
        .filter(|s| write(s) != Decision::Allow)
        .collect();
    println!(
        "engine paths: {}/{} escaping spellings allowed as workspace writes; {}/{} non-escaping refused",
        allowed.len(),
        traversal.len(),
        refused.len(),
        inside.len()
    );
    assert!(allowed.is_empty(), "{allowed:?}");
    assert!(refused.is_empty(), "{refused:?}");
}
