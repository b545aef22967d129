//! `POST /v1/decide`: an Action in, a Verdict out. A body that is not an Action
//! is answered with a deny verdict naming the problem (status 400), so an
//! interceptor that forwards it verbatim still fails closed.

use std::time::Duration;

use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use warden_types::{Action, CONTRACT_VERSION, Verdict};

use super::AppState;
use crate::governor::{Caller, Peer};

/// Query parameters of `/v1/decide`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecideQuery {
    /// The caller's own deadline; the daemon answers deny past it.
    deadline_ms: Option<u64>,
}

/// The header carrying a session's secret.
pub const SECRET_HEADER: &str = "x-warden-secret";

fn refuse(status: StatusCode, reason: String) -> Response {
    (status, Json(Verdict::malformed(reason))).into_response()
}

pub async fn decide(
    State(state): State<AppState>,
    Extension(peer): Extension<Peer>,
    query: Result<Query<DecideQuery>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Ok(Query(query)) = query else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "the only query parameter is deadline_ms (milliseconds)".into(),
        );
    };
    let (action, caller) = match accept(&state, peer, &headers, &body) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let deadline = query
        .deadline_ms
        .map(Duration::from_millis)
        .unwrap_or(state.gov.config.decide_deadline);
    Json(state.gov.decide(action, &caller, deadline).await).into_response()
}

/// `POST /v1/check`: what the policy says of an Action, with no ask and no
/// record. Only for a session's root process over the Unix socket (the
/// launcher that registered it, such as `warden shell` choosing which lines
/// to hold): an agent inside a session must not probe the policy unrecorded.
pub async fn check(
    State(state): State<AppState>,
    Extension(peer): Extension<Peer>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let root = match peer {
        Peer::Unix { pid: Some(pid), .. } => state
            .gov
            .session_of_process(pid)
            .ok()
            .flatten()
            .is_some_and(|s| s.pid == Some(pid)),
        _ => false,
    };
    if !root {
        return refuse(
            StatusCode::FORBIDDEN,
            "POST /v1/check is only for a session's root process over the Unix socket; use /v1/decide".into(),
        );
    }
    match accept(&state, peer, &headers, &body) {
        Ok((action, caller)) => Json(state.gov.check(action, &caller)).into_response(),
        Err(r) => *r,
    }
}

/// The Action in `body` and who asks, or the refusal to answer.
fn accept(
    state: &AppState,
    peer: Peer,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(Action, Caller), Box<Response>> {
    if let Err(e) = state.check_transport(&peer, headers) {
        return Err(Box::new(e.into_response()));
    }
    if matches!(peer, Peer::Tcp { .. }) {
        // A browser cannot send this content type cross-origin without a
        // preflight, which is never answered: web pages cannot decide.
        let json = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if !json {
            return Err(Box::new(refuse(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "POST /v1/decide needs Content-Type: application/json".into(),
            )));
        }
    }
    let mut action: Action = match serde_json::from_slice(body) {
        Ok(a) => a,
        Err(e) => {
            state.gov.metrics.rejected();
            return Err(Box::new(refuse(
                StatusCode::BAD_REQUEST,
                format!("the body is not an Action: {e}"),
            )));
        }
    };
    if matches!(action.kind, warden_types::ActionKind::Notice { .. })
        || action.origin == warden_types::Origin::Warden
    {
        state.gov.metrics.rejected();
        return Err(Box::new(refuse(
            StatusCode::BAD_REQUEST,
            "notices and the origin \"warden\" are warden's own; no caller may submit them".into(),
        )));
    }
    // Whether the caller runs a rewritten command is for warden's own hook
    // adapters to say: a caller that claims it and then runs the original
    // would turn a rewrite into a plain allow.
    if let Some(ctx) = action.context.as_mut() {
        ctx.extra.remove(warden_types::TAKES_REWRITES);
    }
    if action.v != CONTRACT_VERSION {
        return Err(Box::new(refuse(
            StatusCode::BAD_REQUEST,
            format!(
                "Action version {} is not supported (this daemon speaks {CONTRACT_VERSION})",
                action.v
            ),
        )));
    }
    let secret = headers
        .get(SECRET_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    // An enrolled interceptor (an MCP gateway `warden init` set up) is given
    // a session per agent session it names, like a hook.
    let caller = match &secret {
        Some(s) if s.starts_with("wh1.") => {
            let agent = s.split('.').nth(1).unwrap_or_default().to_string();
            let native = action
                .context
                .as_ref()
                .and_then(|c| c.extra.get("agent_session"))
                .cloned()
                .unwrap_or_else(|| format!("{peer}"));
            super::hooks::enrolled_caller(state, peer, secret, &agent, &native, &action.cwd)
        }
        _ => Caller { peer, secret },
    };
    Ok((action, caller))
}
