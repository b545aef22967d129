//! `GET /v1/asks` and `POST /v1/asks/{id}/approve|deny`: the human side of an
//! ask. Listing needs a trusted caller; answering needs a person. Approving
//! with `{"always": true}` also adds a standing approval of the exact action.

use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use warden_types::Decision;

use super::{ApiError, AppState, Trust};
use crate::approvals::AlwaysError;
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

/// The body of `POST /v1/asks/{id}/approve`; an empty body approves once.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ApproveBody {
    /// Also allow this exact action from now on (a standing approval in the
    /// user policy file).
    #[serde(default)]
    always: bool,
}

fn who(peer: &Peer) -> String {
    match peer {
        Peer::Unix { uid, pid } => format!("cli:uid={uid},pid={}", pid.unwrap_or(0)),
        Peer::Tcp { .. } => "dashboard".to_string(),
    }
}

fn answer(
    state: &AppState,
    peer: &Peer,
    headers: &HeaderMap,
    id: &str,
    decision: Decision,
) -> Result<Json<Value>, ApiError> {
    state.require(peer, headers, Trust::Human)?;
    let by = who(peer);
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
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let body: ApproveBody = if body.iter().all(u8::is_ascii_whitespace) {
        ApproveBody::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad_request(format!("the approve body: {e}")))?
    };
    if !body.always {
        return answer(&state, &peer, &headers, &id, Decision::Allow);
    }
    state.require(&peer, &headers, Trust::Human)?;
    let by = who(&peer);
    let gov = std::sync::Arc::clone(&state.gov);
    let (view, approval) = tokio::task::spawn_blocking(move || gov.approve_always(&id, &by))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map_err(|e| match &e {
            AlwaysError::Ask(AskError::NoAsk(_)) => {
                ApiError::new(StatusCode::NOT_FOUND, e.to_string())
            }
            AlwaysError::Ask(AskError::NotAnAnswer) => ApiError::bad_request(e.to_string()),
            AlwaysError::NotWaivable { .. } => ApiError::new(StatusCode::CONFLICT, e.to_string()),
            AlwaysError::Write { .. } => {
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
            }
        })?;
    Ok(Json(json!({
        "id": view.id,
        "decision": Decision::Allow,
        "by": approval.by,
        "always": {
            "approval": approval.id,
            "action": approval.action,
            "summary": approval.summary,
            "file": state.gov.config.user_policy.display().to_string(),
        },
    })))
}

pub async fn deny(
    State(state): State<AppState>,
    Extension(peer): Extension<Peer>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    answer(&state, &peer, &headers, &id, Decision::Deny)
}
