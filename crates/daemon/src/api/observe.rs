//! `POST /v1/observe`: what the eBPF observer (`warden watch`) saw a
//! process do — an exec, a connect — recorded under the identity of the
//! process that did it (its place in the process tree, as for any caller),
//! with what the policy would have said. Nothing is decided: it happened.
//! A session's action the policy would not allow, an agent program running
//! outside every session, and a process outside every session talking to an
//! LLM API host raise an alert.
//!
//! The body is one observation, or `{"observations": [...]}`: the observer
//! sends what one read of its ring buffer gave in one request, and the
//! records of a batch are appended together (one commit, not one each).

use std::collections::HashSet;
use std::sync::Mutex;

use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use serde::Deserialize;
use serde_json::{Value, json};
use warden_types::{Action, ActionKind, Decision};

use super::{ApiError, AppState, Trust};
use crate::governor::{Caller, Peer, lock};
use crate::registry::SessionState;

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

/// The most observations one request may carry.
pub const MAX_BATCH: usize = 1024;

/// The largest body `/v1/observe` takes: room for a batch of `warden
/// watch`'s (it sends at most 128, each at most ~40 KB of JSON even when
/// every byte of a path, its arguments and the cwd needs escaping).
pub const MAX_BODY: usize = 16 << 20;

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
    /// Its command name as the kernel had it.
    #[serde(default)]
    pub comm: Option<String>,
    /// The session whose cgroup the process was in (`warden run` makes
    /// `<cgroup2>/warden/<session id>`, which only root can; the observer
    /// names it from the event's cgroup id): the kernel's placement, which
    /// holds when the process and its parent are both gone.
    #[serde(default)]
    pub session_cgroup: Option<String>,
    /// For a connect: the LLM API host (as the observer resolved it) whose
    /// address this is.
    #[serde(default)]
    pub llm_host: Option<String>,
    /// What it did.
    pub action: Action,
}

/// The (user, LLM host) pairs already raised as ungoverned agents, so that
/// an agent's every API call — or a user's thousand processes — is not an
/// alert of its own. Bounded: forgotten wholesale when full (a pair then
/// gets one more alert).
#[derive(Debug, Default)]
pub struct Reported(Mutex<HashSet<(u32, String)>>);

impl Reported {
    const MAX: usize = 4096;

    /// Whether `uid` reaching `host` is new (and now remembered).
    fn first(&self, uid: u32, host: &str) -> bool {
        let mut seen = lock(&self.0);
        let key = (uid, host.to_string());
        if seen.contains(&key) {
            return false;
        }
        if seen.len() >= Self::MAX {
            seen.clear();
        }
        seen.insert(key)
    }
}

/// Text a process chose (its command name, its arguments) as it may be
/// shown on a terminal: control characters as `?`.
fn printable(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

pub async fn observe(
    State(state): State<AppState>,
    Extension(peer): Extension<Peer>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    state.require(&peer, &headers, Trust::Trusted)?;
    let body: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("not JSON: {e}")))?;
    let Some(list) = body.get("observations") else {
        let o = serde_json::from_value(body)
            .map_err(|e| ApiError::bad_request(format!("not an observation: {e}")))?;
        return Ok(Json(one(state, o).await));
    };
    let list = list
        .as_array()
        .ok_or_else(|| ApiError::bad_request("observations: not an array"))?;
    if list.len() > MAX_BATCH {
        return Err(ApiError::bad_request(format!(
            "{} observations in one request; at most {MAX_BATCH}",
            list.len()
        )));
    }
    let list = list
        .iter()
        .enumerate()
        .map(|(i, o)| {
            Observation::deserialize(o)
                .map_err(|e| ApiError::bad_request(format!("observation {i}: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    // Recorded together, in the batch's order: each is started in turn (its
    // place in the audit queue taken in that order) and all then wait for
    // the same commits, in this one task.
    let answers =
        futures_util::future::join_all(list.into_iter().map(|o| one(state.clone(), o))).await;
    Ok(Json(json!({ "observations": answers })))
}

/// Records one observation; its answer (session, policy view, audit).
async fn one(state: AppState, o: Observation) -> Value {
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
    // Placed by its cgroup when the process tree cannot place it: it is then
    // identified through the session's root process, which lives as long as
    // the session does.
    let (who, session) = match (session, o.session_cgroup.as_deref()) {
        (None, Some(id)) => {
            let found = lock(&state.gov.registry).get(id).cloned();
            match found {
                Some(s) if s.state != SessionState::Stopped && s.pid.is_some() => {
                    (s.pid.unwrap_or(who), Some(s))
                }
                _ => (who, None),
            }
        }
        (s, _) => (who, s),
    };
    let caller = Caller {
        peer: Peer::Unix {
            uid: o.uid,
            pid: Some(who),
        },
        secret: None,
    };
    // The daemon's own connects (the egress proxy and the LLM gateway
    // reaching providers for governed agents) are no agent's.
    if session.is_none() && o.pid != std::process::id() {
        alert_ungoverned(
            &state,
            &o.comm,
            o.pid,
            o.uid,
            o.llm_host.as_deref(),
            &action,
        );
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
    json!({
        "session": session.map(|s| s.id),
        "policy": would.map(|w| w.decision),
        "audit": v.audit,
    })
}

/// Raises "ungoverned agent" for a process outside every session that runs
/// an agent program, or connects to an LLM API host (once per user and
/// host).
fn alert_ungoverned(
    state: &AppState,
    comm: &Option<String>,
    pid: u32,
    uid: u32,
    llm_host: Option<&str>,
    action: &Action,
) {
    let message = match (&action.kind, llm_host) {
        (ActionKind::Exec { argv, .. }, _) => {
            let program = argv
                .first()
                .map(|p| warden_policy::shell::basename(p))
                .unwrap_or_default();
            if !AGENT_PROGRAMS.contains(&program) {
                return;
            }
            format!(
                "ungoverned agent: process {pid} (uid {uid}) runs {program} outside every warden session: {}",
                printable(&argv.join(" "))
            )
        }
        (ActionKind::Net(_), Some(llm)) => {
            if !state.ungoverned.first(uid, llm) {
                return;
            }
            format!(
                "ungoverned agent: process {pid} ({}, uid {uid}) talks to the LLM API host {} ({}) outside every warden session",
                printable(comm.as_deref().unwrap_or("?")),
                printable(llm),
                action.kind.summary()
            )
        }
        _ => return,
    };
    state.gov.alert("ungoverned-agent", message);
}
