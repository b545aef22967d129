//! The session a launcher registers for what it starts (`warden run`,
//! `warden shell`): the daemon issues its id and secret, and knows it by
//! the launcher's pid (the root of the session's process tree).

use std::path::Path;

use anyhow::{Context, Result, bail};
use hyper::Method;
use serde_json::json;
use warden_daemon::client::Client;

/// A registered session.
pub struct Session {
    pub id: String,
    pub secret: String,
}

/// Registers a session for `agent`; `needs` says what the daemon is needed
/// for, in the error when it cannot be reached.
pub fn register(
    rt: &tokio::runtime::Runtime,
    api: &Client,
    agent: &str,
    autonomy: Option<u8>,
    workspace: &Path,
    needs: &'static str,
) -> Result<Session> {
    let registration = json!({
        "agent": agent,
        "autonomy": autonomy,
        "workspace": workspace.to_string_lossy(),
        "pid": std::process::id(),
    });
    let issued = rt
        .block_on(api.ok(Method::POST, "/v1/sessions", Some(&registration)))
        .context(needs)?;
    // Without a session and its secret every decision would be made for an
    // unknown caller: refuse to start instead.
    let (Some(id), Some(secret)) = (issued["session"].as_str(), issued["secret"].as_str()) else {
        bail!("the daemon's registration answer has no session or secret: {issued}");
    };
    Ok(Session {
        id: id.to_string(),
        secret: secret.to_string(),
    })
}

/// Marks the session stopped (with its own secret: the launcher is the
/// session's root, so to the daemon it is inside the session).
pub fn stop(rt: &tokio::runtime::Runtime, api: &Client, session: &Session) {
    let path = format!("/v1/sessions/{}/stop", session.id);
    let headers = [(warden_daemon::api::SECRET_HEADER, session.secret.as_str())];
    match rt.block_on(api.call(Method::POST, &path, None, &headers)) {
        Ok((status, _)) if status.is_success() => {}
        Ok((status, v)) => {
            tracing::warn!("marking the session {} stopped ({status}): {v}", session.id)
        }
        Err(e) => tracing::warn!("marking the session {} stopped: {e}", session.id),
    }
}
