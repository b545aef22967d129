//! `GET /v1/asks` and `POST /v1/asks/{id}/approve|deny`: the human side of an
//! ask. Listing needs a trusted caller; answering needs a person.

use axum::Extension;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use warden_types::Decision;

use super::{ApiError, AppState, Trust};
use crate::consent::{AskError, AskView, HumanAnswer};
use crate::governor::{Peer, lock};

pub async fn list(
    State(state): State<AppState>,
    Extension(peer): Extension<Peer>,
    headers: HeaderMap,
) -> Result<Json<Vec<AskView>>, ApiError> {
    state.require(&peer, &headers, Trust::Viewer)?;
    Ok(Json(lock(&state.gov.asks).list()))
}

fn answer(
    state: &AppState,
    peer: &Peer,
    headers: &HeaderMap,
    id: &str,
    decision: Decision,
) -> Result<Json<Value>, ApiError> {
    state.require(peer, headers, Trust::Human)?;
    let by = match peer {
        Peer::Unix { uid, pid } => format!("cli:uid={uid},pid={}", pid.unwrap_or(0)),
        Peer::Tcp { .. } => "dashboard".to_string(),
    };
    let view = lock(&state.gov.asks)
        .answer(
            id,
            HumanAnswer {
                decision,
                by: by.clone(),
            },
        )
        .map_err(|e| match e {
            AskError::NoAsk(_) => ApiError::new(StatusCode::NOT_FOUND, e.to_string()),
            AskError::NotAnAnswer => ApiError::bad_request(e.to_string()),
        })?;
    Ok(Json(
        json!({ "id": view.id, "decision": decision, "by": by }),
    ))
}

pub async fn approve(
    State(state): State<AppState>,
    Extension(peer): Extension<Peer>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    answer(&state, &peer, &headers, &id, Decision::Allow)
}

pub async fn deny(
    State(state): State<AppState>,
    Extension(peer): Extension<Peer>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    answer(&state, &peer, &headers, &id, Decision::Deny)
}
