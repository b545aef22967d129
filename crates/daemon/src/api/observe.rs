//! `POST /v1/observe`: what the eBPF observer (`warden watch`) saw a
//! process do — an exec, a connect — recorded under the identity of the
//! process that did it (its place in the process tree, as for any caller),
//! with what the policy would have said. Nothing is decided: it happened.
//! A session's action the policy would not allow, and an agent program
//! running outside every session, raise an alert.

use axum::Extension;
use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use serde::Deserialize;
use serde_json::{Value, json};
use warden_types::{Action, ActionKind, Decision};

use super::{ApiError, AppState, Trust};
use crate::governor::{Caller, Peer};

/// Agent programs that should run inside a session.
const AGENT_PROGRAMS: &[&str] = &[
    "claude",
    "codex",
    "gemini",
    "cursor-agent",
    "aider",
    "goose",
    "opencode",
];

/// One observation.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Observation {
    /// The process that acted.
    pub pid: u32,
    /// Its parent when it acted (it may be gone by now; its parent often
    /// is not, and places it in the process tree).
    #[serde(default)]
    pub ppid: Option<u32>,
    /// Its uid.
    pub uid: u32,
    /// What it did.
    pub action: Action,
}

pub async fn observe(
    State(state): State<AppState>,
    Extension(peer): Extension<Peer>,
    headers: HeaderMap,
    Json(o): Json<Observation>,
) -> Result<Json<Value>, ApiError> {
    state.require(&peer, &headers, Trust::Trusted)?;
    let mut action = o.action;
    action.origin = warden_types::Origin::Ebpf;
    // A process inside a session is that session's agent; else unknown. A
    // process already gone is placed by its parent.
    let (who, session) = match state.gov.session_of_process(o.pid) {
        Ok(s) => (o.pid, s),
        Err(_) => match o.ppid {
            Some(pp) => (pp, state.gov.session_of_process(pp).ok().flatten()),
            None => (o.pid, None),
        },
    };
    let caller = Caller {
        peer: Peer::Unix {
            uid: o.uid,
            pid: Some(who),
        },
        secret: None,
    };
    if let ActionKind::Exec { argv, .. } = &action.kind {
        let program = argv
            .first()
            .map(|p| warden_policy::shell::basename(p))
            .unwrap_or_default();
        if session.is_none() && AGENT_PROGRAMS.contains(&program) {
            state.gov.alert(
                "ungoverned-agent",
                format!(
                    "ungoverned agent: process {} (uid {}) runs {program} outside every warden session: {}",
                    o.pid,
                    o.uid,
                    argv.join(" ")
                ),
            );
        }
    }
    // Outside every session the policy's view is of an unknown agent, which
    // is not what an ordinary process is: only a session's actions are held
    // to it (and only they pay for the policy's look, most of the machine's
    // execs being no agent's).
    let would = session
        .as_ref()
        .map(|_| state.gov.check(action.clone(), &caller));
    let rule = match &would {
        Some(w) if w.decision != Decision::Allow => {
            state.gov.alert(
                "ebpf-against-policy",
                format!(
                    "process {} did what the policy would {}: {} ({})",
                    o.pid,
                    match w.decision {
                        Decision::Deny => "deny",
                        _ => "ask about",
                    },
                    action.kind.summary(),
                    w.reason
                ),
            );
            format!("ebpf:observed-against:{}", w.rules.join(","))
        }
        _ => "ebpf:observed".to_string(),
    };
    let v = state
        .gov
        .observe(action, &caller, &rule, Decision::Allow)
        .await;
    Ok(Json(json!({
        "session": session.map(|s| s.id),
        "policy": would.map(|w| w.decision),
        "audit": v.audit,
    })))
}
