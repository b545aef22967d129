//! Status, the live feed, the effective policy, metrics, the OpenAPI
//! description and shutdown.

use std::convert::Infallible;

use axum::Extension;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::{Stream, StreamExt};

use super::{ApiError, AppState, Trust};
use crate::governor::{Peer, lock};

pub async fn status(
    State(state): State<AppState>,
    Extension(peer): Extension<Peer>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let trust = state.trust(&peer, &headers)?;
    let gov = &state.gov;
    let (allow, ask, deny) = gov.metrics.totals();
    let size = gov.audit_size();
    let alerts = gov.alerts.read().map(|a| a.clone()).unwrap_or_default();
    Ok(Json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "pid": std::process::id(),
        "uptime_s": gov.started.elapsed().as_secs(),
        "home": gov.config.state_dir,
        "socket": gov.config.socket(),
        "tcp": gov.config.tcp,
        "sessions": lock(&gov.registry).list().len(),
        "pending_asks": lock(&gov.asks).len(),
        "decisions": { "allow": allow, "ask": ask, "deny": deny },
        "audit": { "entries": size, "origin": gov.audit().origin() },
        "alerts": if trust >= Trust::Trusted { alerts } else { Vec::new() },
        "you": { "peer": peer.to_string(), "trust": format!("{trust:?}").to_lowercase() },
    })))
}

pub async fn events(
    State(state): State<AppState>,
    Extension(peer): Extension<Peer>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    state.require(&peer, &headers, Trust::Viewer)?;
    let stream = BroadcastStream::new(state.gov.feed.subscribe()).map(|item| {
        Ok(match item {
            Ok(e) => SseEvent::default()
                .event(e.name())
                .json_data(&e)
                .unwrap_or_else(|_| SseEvent::default().event("error")),
            // A subscriber too slow for the feed is told what it missed.
            Err(BroadcastStreamRecvError::Lagged(n)) => {
                SseEvent::default().event("lagged").data(n.to_string())
            }
        })
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

pub async fn policy(
    State(state): State<AppState>,
    Extension(peer): Extension<Peer>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    state.require(&peer, &headers, Trust::Viewer)?;
    let p = lock(&state.gov.policies);
    let base = p.base();
    let rules: Vec<Value> = base
        .rules()
        .iter()
        .map(|r| {
            json!({
                "id": r.id,
                "decision": r.decision,
                "specs": r.specs.iter().map(|s| s.text.clone()).collect::<Vec<_>>(),
                "except": r.except.iter().map(|s| s.text.clone()).collect::<Vec<_>>(),
                "reason": r.reason,
                "mode": format!("{:?}", r.mode).to_lowercase(),
                "agents": r.agents,
                "layer": r.layer.as_str(),
                "file": r.file,
                "line": r.line,
            })
        })
        .collect();
    let layers: Vec<Value> = p
        .layers()
        .iter()
        .map(|l| json!({ "kind": l.kind.as_str(), "file": l.file, "rules": l.rules.len() }))
        .collect();
    let approvals: Vec<Value> = base
        .approvals()
        .iter()
        .map(|a| {
            json!({
                "id": a.id,
                "action": a.action,
                "summary": a.summary,
                "by": a.by,
                "at": a.at,
                "layer": a.layer.as_str(),
                "file": a.file,
                "line": a.line,
            })
        })
        .collect();
    Ok(Json(
        json!({ "layers": layers, "rules": rules, "approvals": approvals }),
    ))
}

pub async fn metrics(
    State(state): State<AppState>,
    Extension(peer): Extension<Peer>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    state.require(&peer, &headers, Trust::Viewer)?;
    let gov = &state.gov;
    let size = gov.audit_size();
    let text = gov.metrics.render(
        lock(&gov.asks).len(),
        lock(&gov.registry).list().len(),
        size,
        gov.audit().commits(),
    );
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response())
}

pub async fn shutdown(
    State(state): State<AppState>,
    Extension(peer): Extension<Peer>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    state.require(&peer, &headers, Trust::Trusted)?;
    tracing::info!(%peer, "shutdown requested");
    state.stop.notify_one();
    Ok(Json(json!({ "stopping": true })))
}

/// A fresh one-time dashboard login link. A link is a dashboard session, which
/// answers asks: only a person gets one.
pub async fn login_link(
    State(state): State<AppState>,
    Extension(peer): Extension<Peer>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    state.require(&peer, &headers, Trust::Human)?;
    let addr = state.tcp_addr.ok_or_else(|| {
        ApiError::not_found("the dashboard needs the TCP listener (the daemon runs with --no-tcp)")
    })?;
    Ok(Json(
        json!({ "url": format!("http://{addr}/login?token={}", state.dashboard.new_link()) }),
    ))
}

pub async fn openapi(
    State(state): State<AppState>,
    Extension(peer): Extension<Peer>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    state.check_transport(&peer, &headers)?;
    Ok(Json(super::openapi::document()))
}
