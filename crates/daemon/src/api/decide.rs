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
    if let Err(e) = state.check_transport(&peer, &headers) {
        return e.into_response();
    }
    if matches!(peer, Peer::Tcp { .. }) {
        // A browser cannot send this content type cross-origin without a
        // preflight, which is never answered: web pages cannot decide.
        let json = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if !json {
            return refuse(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "POST /v1/decide needs Content-Type: application/json".into(),
            );
        }
    }
    let Ok(Query(query)) = query else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "the only query parameter is deadline_ms (milliseconds)".into(),
        );
    };
    let mut action: Action = match serde_json::from_slice(&body) {
        Ok(a) => a,
        Err(e) => {
            state.gov.metrics.rejected();
            return refuse(
                StatusCode::BAD_REQUEST,
                format!("the body is not an Action: {e}"),
            );
        }
    };
    if matches!(action.kind, warden_types::ActionKind::Notice { .. })
        || action.origin == warden_types::Origin::Warden
    {
        state.gov.metrics.rejected();
        return refuse(
            StatusCode::BAD_REQUEST,
            "notices and the origin \"warden\" are warden's own; no caller may submit them".into(),
        );
    }
    // Whether the caller runs a rewritten command is for warden's own hook
    // adapters to say: a caller that claims it and then runs the original
    // would turn a rewrite into a plain allow.
    if let Some(ctx) = action.context.as_mut() {
        ctx.extra.remove(warden_types::TAKES_REWRITES);
    }
    if action.v != CONTRACT_VERSION {
        return refuse(
            StatusCode::BAD_REQUEST,
            format!(
                "Action version {} is not supported (this daemon speaks {CONTRACT_VERSION})",
                action.v
            ),
        );
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
            super::hooks::enrolled_caller(&state, peer, secret, &agent, &native, &action.cwd)
        }
        _ => Caller { peer, secret },
    };
    let deadline = query
        .deadline_ms
        .map(Duration::from_millis)
        .unwrap_or(state.gov.config.decide_deadline);
    Json(state.gov.decide(action, &caller, deadline).await).into_response()
}
