//! `POST /v1/sessions` (register), `GET /v1/sessions`, and
//! `POST /v1/sessions/{id}/pause|resume|stop`. Registration and pausing need a
//! trusted caller (an interceptor); resuming a paused session needs a person,
//! since an agent resuming itself would undo the pause.
//! `POST /v1/sessions/{id}/violations` is the sandbox supervisor's report of
//! what the kernel refused the session; only the session's secret may file it.

use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use super::{ApiError, AppState, Trust};
use crate::events::Event;
use crate::governor::{Peer, lock, now_rfc3339};
use crate::registry::{Issued, Registration, RegistryError, Session, SessionState};

pub async fn register(
    State(state): State<AppState>,
    Extension(peer): Extension<Peer>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Issued>), ApiError> {
    let trusted = state.require(&peer, &headers, Trust::Trusted);
    let mut reg: Registration = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("not a session registration: {e}")))?;
    // A process inside a session may open a session nested in it for what
    // it launches (`warden run` started from `warden shell`): rooted at
    // itself, for the same agent, never more autonomous than the session it
    // is in, and only while that session is active.
    let enclosing = match (&trusted, peer) {
        (Err(_), Peer::Unix { pid: Some(pid), .. }) if reg.pid == Some(pid) => {
            state.gov.session_of_process(pid).ok().flatten()
        }
        _ => None,
    };
    match (trusted, &enclosing) {
        (Ok(_), _) => {}
        (Err(_), Some(outer)) if outer.state == crate::registry::SessionState::Active => {
            reg.agent = outer.agent.clone();
            reg.autonomy = Some(reg.autonomy.unwrap_or(outer.autonomy).min(outer.autonomy));
            // The workspace is what the policy lets the agent write: a nested
            // session gets one inside the outer's, or the outer's own.
            if !within(&reg.workspace, &outer.workspace) {
                reg.workspace = outer.workspace.clone();
            }
        }
        (Err(_), Some(outer)) => {
            return Err(ApiError::forbidden(format!(
                "session {} is not active: no session can be opened inside it",
                outer.id
            )));
        }
        (Err(e), None) => return Err(e),
    }
    if let Some(pid) = reg.pid {
        // The session is this process; a pid with no process behind it would
        // name whichever process gets it next.
        let stat = crate::procs::stat(&state.gov.config.proc_root, pid).ok_or_else(|| {
            ApiError::bad_request(format!(
                "no process {pid}: a session's root process must be running when it is registered"
            ))
        })?;
        reg.pid_start = Some(stat.start);
    }
    let autonomy = reg
        .autonomy
        .unwrap_or_else(|| lock(&state.gov.policies).base().autonomy_for(&reg.agent));
    let agent = reg.agent.clone();
    let issued = lock(&state.gov.registry)
        .register(reg, autonomy, now_rfc3339())
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    state.gov.feed.send(Event::Session {
        id: issued.session.clone(),
        agent,
        state: "registered".into(),
    });
    Ok((StatusCode::CREATED, Json(issued)))
}

/// True when `inner` is `outer` or below it, both resolved (a path that
/// does not resolve is not within anything).
fn within(inner: &str, outer: &str) -> bool {
    match (std::fs::canonicalize(inner), std::fs::canonicalize(outer)) {
        (Ok(i), Ok(o)) => i.starts_with(o),
        _ => false,
    }
}

pub async fn list(
    State(state): State<AppState>,
    Extension(peer): Extension<Peer>,
    headers: HeaderMap,
) -> Result<Json<Vec<Session>>, ApiError> {
    state.require(&peer, &headers, Trust::Viewer)?;
    Ok(Json(lock(&state.gov.registry).list().to_vec()))
}

/// `GET /v1/denied-ports`: for each live session, the ports its policy
/// denies for every host, for `warden watch` to refuse in the kernel.
pub async fn denied_ports(
    State(state): State<AppState>,
    Extension(peer): Extension<Peer>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    state.require(&peer, &headers, Trust::Trusted)?;
    let list: Vec<Value> = state
        .gov
        .ports_denied_to_sessions()
        .into_iter()
        .map(|(session, ports)| json!({"session": session, "ports": ports}))
        .collect();
    Ok(Json(Value::Array(list)))
}

pub async fn change(
    State(state): State<AppState>,
    Extension(peer): Extension<Peer>,
    headers: HeaderMap,
    Path((id, op)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let (target, need) = match op.as_str() {
        "pause" => (SessionState::Paused, Trust::Trusted),
        "stop" => (SessionState::Stopped, Trust::Trusted),
        "resume" => (SessionState::Active, Trust::Human),
        other => {
            return Err(ApiError::not_found(format!(
                "{other:?} is not a session operation (pause, resume, stop)"
            )));
        }
    };
    // A session may always end itself (its supervisor does, when the
    // sandboxed command exits): stopping only takes away.
    let own = target == SessionState::Stopped && holds_secret_of(&state, &headers, &id);
    if !own {
        state.require(&peer, &headers, need)?;
    }
    let agent = {
        let mut r = lock(&state.gov.registry);
        r.hold(&id, target)
            .map_err(|e| match e {
                RegistryError::NoSession(_) => ApiError::not_found(e.to_string()),
                _ => ApiError::new(StatusCode::CONFLICT, e.to_string()),
            })?
            .agent
            .clone()
    };
    let state_name = format!("{target:?}").to_lowercase();
    state.gov.feed.send(Event::Session {
        id: id.clone(),
        agent,
        state: state_name.clone(),
    });
    Ok(Json(json!({ "session": id, "state": state_name })))
}

/// Whether the request carries the secret of session `id`.
fn holds_secret_of(state: &AppState, headers: &HeaderMap, id: &str) -> bool {
    let secret = headers
        .get(super::decide::SECRET_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    !secret.is_empty()
        && lock(&state.gov.registry)
            .by_secret(secret)
            .is_some_and(|s| s.id == id)
}

/// What a sandbox supervisor reports.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Violation {
    /// What refused it: `seccomp`, `exec`, `landlock`.
    pub kind: String,
    /// What was refused (a system call's name, a program).
    pub detail: String,
    /// How many times (default 1).
    #[serde(default)]
    pub count: Option<u32>,
    /// The process that tried (host pid).
    #[serde(default)]
    pub pid: Option<u32>,
}

/// Longest `detail` kept; a report is a line on the dashboard, not a log.
const MAX_DETAIL: usize = 300;

pub async fn violation(
    State(state): State<AppState>,
    Extension(peer): Extension<Peer>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    state.check_transport(&peer, &headers)?;
    if !holds_secret_of(&state, &headers, &id) {
        return Err(ApiError::forbidden(format!(
            "a violation of session {id} is reported with that session's secret"
        )));
    }
    let agent = lock(&state.gov.registry)
        .get(&id)
        .map(|s| s.agent.clone())
        .unwrap_or_default();
    let v: Violation = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("not a violation report: {e}")))?;
    if !matches!(v.kind.as_str(), "seccomp" | "exec" | "landlock") {
        return Err(ApiError::bad_request(format!(
            "{:?} is not a kind of violation (seccomp, exec, landlock)",
            v.kind
        )));
    }
    let detail: String = v.detail.chars().take(MAX_DETAIL).collect();
    let times = match v.count {
        Some(n) if n > 1 => format!(" ({n} times)"),
        _ => String::new(),
    };
    let by = v
        .pid
        .map(|p| format!(" by process {p}"))
        .unwrap_or_default();
    state.gov.alert(
        "sandbox-violation",
        format!(
            "session {id} ({agent}): the sandbox refused {} {detail}{by}{times}",
            v.kind
        ),
    );
    Ok((StatusCode::ACCEPTED, Json(json!({ "recorded": true }))))
}
