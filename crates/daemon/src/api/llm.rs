//! The LLM API gateway on the daemon's API listeners too
//! (`ANTHROPIC_BASE_URL=http://127.0.0.1:7420/llm/anthropic`): the same
//! gateway the proxy serves. Agents present no API token; they are known by
//! `SO_PEERCRED` or the session secret in `x-warden-secret`, and over TCP the
//! Host and Origin checks apply as to every endpoint.

use axum::body::Body;
use axum::extract::{Extension, Request, State};
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::governor::Peer;

pub async fn gateway(
    State(state): State<AppState>,
    Extension(peer): Extension<Peer>,
    req: Request,
) -> Response {
    if let Err(e) = state.check_transport(&peer, req.headers()) {
        return e.into_response();
    }
    let secret = req
        .headers()
        .get(warden_proxy::SECRET_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let client = crate::egress::client_of(&peer, secret);
    match state.proxy.serve_llm(client, req).await {
        Some(r) => r.map(Body::new),
        None => (axum::http::StatusCode::NOT_FOUND, "no LLM gateway").into_response(),
    }
}
