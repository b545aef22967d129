//! `GET /v1/audit/checkpoint`, `/entries`, `/prove/{seq}` and
//! `POST /v1/audit/verify`. Reads run on the blocking pool on their own read
//! connections, never on the writer.

use axum::Extension;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use warden_audit::AuditReader;
use warden_audit::export::entry_json;

use super::{ApiError, AppState, Trust};
use crate::governor::Peer;

fn audit_err(e: impl std::fmt::Display) -> ApiError {
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("audit log: {e}"))
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the audit reader failed: {e}"),
        )
    })?
}

pub async fn checkpoint(
    State(state): State<AppState>,
    Extension(peer): Extension<Peer>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    state.check_transport(&peer, &headers)?;
    let home = state.gov.config.state_dir.clone();
    blocking(move || {
        let r = AuditReader::open(&home).map_err(audit_err)?;
        let c = r.checkpoint().map_err(audit_err)?;
        Ok(Json(json!({
            "size": c.checkpoint.size,
            "root": hex::encode(c.checkpoint.root),
            "note": c.note,
            "verifier_key": r.verifier().to_string(),
        })))
    })
    .await
}

/// Query of `/v1/audit/entries`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntriesQuery {
    /// First sequence number (default: the newest `limit`).
    from: Option<u64>,
    /// At most this many (default 100, at most 1,000).
    limit: Option<usize>,
}

pub async fn entries(
    State(state): State<AppState>,
    Extension(peer): Extension<Peer>,
    headers: HeaderMap,
    query: Result<Query<EntriesQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<Value>>, ApiError> {
    state.require(&peer, &headers, Trust::Viewer)?;
    let Query(q) = query.map_err(|e| ApiError::bad_request(format!("{e} (from, limit)")))?;
    let limit = q.limit.unwrap_or(100).min(1000);
    let home = state.gov.config.state_dir.clone();
    blocking(move || {
        let r = AuditReader::open(&home).map_err(audit_err)?;
        let mut dec = r.decryptor().map_err(audit_err)?;
        let mut out = Vec::new();
        match q.from {
            Some(from) => r.for_each(from, u64::MAX, &mut dec, |e| {
                out.push(entry_json(&e));
                out.len() < limit
            }),
            None => r.for_each_back(u64::MAX, &mut dec, |e| {
                out.push(entry_json(&e));
                out.len() < limit
            }),
        }
        .map_err(audit_err)?;
        Ok(Json(out))
    })
    .await
}

pub async fn prove(
    State(state): State<AppState>,
    Extension(peer): Extension<Peer>,
    headers: HeaderMap,
    Path(seq): Path<u64>,
) -> Result<Json<warden_audit::InclusionProof>, ApiError> {
    state.check_transport(&peer, &headers)?;
    let home = state.gov.config.state_dir.clone();
    blocking(move || {
        let mut r = AuditReader::open(&home).map_err(audit_err)?;
        r.prove(seq, None).map(Json).map_err(|e| match e {
            warden_audit::AuditError::NoSuchEntry { .. } => ApiError::not_found(e.to_string()),
            e => audit_err(e),
        })
    })
    .await
}

pub async fn verify(
    State(state): State<AppState>,
    Extension(peer): Extension<Peer>,
    headers: HeaderMap,
) -> Result<Json<warden_audit::verify::VerifyReport>, ApiError> {
    state.require(&peer, &headers, Trust::Trusted)?;
    let home = state.gov.config.state_dir.clone();
    blocking(move || {
        let mut r = AuditReader::open(&home).map_err(audit_err)?;
        warden_audit::verify::verify_log(&mut r)
            .map(Json)
            .map_err(audit_err)
    })
    .await
}
