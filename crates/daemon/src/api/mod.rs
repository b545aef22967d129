//! The versioned local API, served identically on the Unix socket and on
//! loopback TCP. Who may call what is decided here, from kernel identity:
//!
//! | caller | may |
//! | --- | --- |
//! | anyone who reached the socket, or TCP with a session secret | `POST /v1/decide`, proofs, `GET /v1/status`, the OpenAPI description |
//! | *trusted*: a Unix peer of the daemon's own uid outside every agent session, or TCP with the API token | the above, plus register and list sessions, the live feed, asks, audit browsing, policy, metrics, pause/stop, shutdown |
//! | *human*: trusted, and over the Unix socket holding a terminal | answering asks, resuming a paused session |
//!
//! An agent's own processes (inside a registered session's process tree) are
//! never trusted, whatever they present. Over TCP, the `Host` header must name
//! the loopback listener (DNS rebinding).

mod asks;
mod audit;
mod decide;
mod hooks;
mod llm;
pub(crate) mod observe;
mod openapi;
mod sessions;
mod status;

pub use decide::SECRET_HEADER;
pub use hooks::HookSessions;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use crate::governor::{Governor, Peer};

/// A refused request: a status and a message naming what was wrong.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    pub(crate) fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, message)
    }

    pub(crate) fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": self.message, "status": self.status.as_u16() });
        (self.status, axum::Json(body)).into_response()
    }
}

/// How far a caller is trusted (see the module table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Trust {
    /// Reached the API.
    Any,
    /// A dashboard browser without proof that this request came from the
    /// dashboard's own page: may read, not change anything.
    Viewer,
    /// An interceptor or a person's tool, not an agent.
    Trusted,
    /// A person (a terminal, or the dashboard page with its CSRF token).
    Human,
}

/// The state every handler gets.
#[derive(Clone)]
pub struct AppState {
    /// The governor.
    pub gov: Arc<Governor>,
    /// The daemon's own uid (the owner of its socket).
    pub own_uid: u32,
    /// The TCP API token.
    pub api_token: Arc<String>,
    /// The TCP listener's address, for the Host check.
    pub tcp_addr: Option<std::net::SocketAddr>,
    /// Notified to stop the daemon (`POST /v1/shutdown`).
    pub stop: Arc<tokio::sync::Notify>,
    /// Dashboard login links and browser sessions.
    pub dashboard: Arc<crate::dashboard::Dashboard>,
    /// The key hook enrollment secrets are checked with.
    pub hook_key: Arc<crate::hookauth::EnrollKey>,
    /// Sessions opened for enrolled agents' hooks.
    pub hook_sessions: Arc<HookSessions>,
    /// The egress proxy, whose LLM gateway is served under `/llm/` here too.
    pub proxy: Arc<warden_proxy::Proxy>,
    /// The processes already reported as ungoverned agents.
    pub ungoverned: Arc<observe::Reported>,
}

impl AppState {
    /// Establishes how far the request's caller is trusted, or refuses it.
    pub fn trust(&self, peer: &Peer, headers: &HeaderMap) -> Result<Trust, ApiError> {
        match peer {
            Peer::Unix { uid, pid } => {
                let Some(pid) = pid else {
                    return Ok(Trust::Any);
                };
                let proc_root = &self.gov.config.proc_root;
                let in_group = || {
                    self.gov
                        .config
                        .socket_group
                        .is_some_and(|g| crate::procs::groups(proc_root, *pid).contains(&g))
                };
                if *uid != self.own_uid && *uid != 0 && !in_group() {
                    return Ok(Trust::Any);
                }
                // In a session, or not known not to be (an ancestry that cannot
                // be read): an agent, never a person.
                if !matches!(self.gov.session_of_process(*pid), Ok(None)) {
                    return Ok(Trust::Any);
                }
                let tty = crate::procs::stat(proc_root, *pid).is_some_and(|s| s.tty_nr != 0);
                if tty || !self.gov.config.approvals_need_tty {
                    Ok(Trust::Human)
                } else {
                    Ok(Trust::Trusted)
                }
            }
            Peer::Tcp { .. } => {
                self.check_host(headers)?;
                let bearer = headers
                    .get(header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("Bearer "));
                match bearer {
                    Some(t) if constant_time_eq(t.as_bytes(), self.api_token.as_bytes()) => {
                        return Ok(Trust::Trusted);
                    }
                    Some(_) => {
                        return Err(ApiError::new(
                            StatusCode::UNAUTHORIZED,
                            "the API token is wrong",
                        ));
                    }
                    None => {}
                }
                Ok(
                    match self.dashboard.browser(headers, self.origin_ok(headers)) {
                        Some(b) if b.same_origin_write => Trust::Human,
                        Some(_) => Trust::Viewer,
                        None => Trust::Any,
                    },
                )
            }
        }
    }

    /// The checks every request passes whatever it asks for: over TCP, the
    /// Host header (DNS rebinding). Cheaper than [`AppState::trust`], which
    /// reads the caller's process tree; endpoints open to anyone use this.
    pub fn check_transport(&self, peer: &Peer, headers: &HeaderMap) -> Result<(), ApiError> {
        match peer {
            Peer::Unix { .. } => Ok(()),
            Peer::Tcp { .. } => self.check_host(headers),
        }
    }

    /// Refuses unless the caller is trusted at least `need`.
    pub fn require(
        &self,
        peer: &Peer,
        headers: &HeaderMap,
        need: Trust,
    ) -> Result<Trust, ApiError> {
        let t = self.trust(peer, headers)?;
        if t >= need {
            return Ok(t);
        }
        Err(match (need, peer) {
            (Trust::Human, Peer::Unix { .. }) => ApiError::forbidden(
                "this needs a person: run it from a terminal outside every agent session (e.g. `warden approve ID` in your shell)",
            ),
            (Trust::Human | Trust::Trusted, Peer::Tcp { .. })
                if self.dashboard.browser(headers, true).is_some() =>
            {
                ApiError::forbidden(
                    "a change from the dashboard needs the page's CSRF token (x-csrf-token) and its own Origin",
                )
            }
            (Trust::Human, Peer::Tcp { .. }) => {
                ApiError::forbidden("answering asks over TCP needs the dashboard session")
            }
            (_, Peer::Unix { .. }) => ApiError::forbidden(
                "this endpoint is for interceptors and people, not for processes inside an agent session",
            ),
            (_, Peer::Tcp { .. }) => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "this endpoint needs the API token (Authorization: Bearer …)",
            ),
        })
    }

    /// Whether the request's `Origin`, if it has one, is this listener.
    pub fn origin_ok(&self, headers: &HeaderMap) -> bool {
        let Some(origin) = headers.get(header::ORIGIN) else {
            return true;
        };
        let port = self.tcp_addr.map(|a| a.port()).unwrap_or(0);
        let o = origin.to_str().unwrap_or_default();
        [
            format!("http://127.0.0.1:{port}"),
            format!("http://localhost:{port}"),
        ]
        .iter()
        .any(|ok| ok.eq_ignore_ascii_case(o))
    }

    /// Dashboard pages are served over TCP only, to the loopback listener's name.
    pub fn check_browser_transport(
        &self,
        peer: &Peer,
        headers: &HeaderMap,
    ) -> Result<(), ApiError> {
        match peer {
            Peer::Unix { .. } => Err(ApiError::not_found(
                "the dashboard is served on the TCP listener",
            )),
            Peer::Tcp { .. } => self.check_host(headers),
        }
    }

    /// A TCP request must be addressed to the loopback listener by name or
    /// address, so a web page cannot reach it through a rebinding DNS name.
    fn check_host(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let host = headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let port = self.tcp_addr.map(|a| a.port()).unwrap_or(0);
        let ok = [
            format!("127.0.0.1:{port}"),
            format!("localhost:{port}"),
            format!("[::1]:{port}"),
        ]
        .iter()
        .any(|h| h.eq_ignore_ascii_case(host));
        if ok {
            Ok(())
        } else {
            self.gov.metrics.rejected();
            Err(ApiError::new(
                StatusCode::MISDIRECTED_REQUEST,
                format!(
                    "Host {host:?} is not this daemon (expected 127.0.0.1:{port} or localhost:{port})"
                ),
            ))
        }
    }
}

/// Compares secrets without leaking where they differ.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The router of `/v1` and `/metrics`.
pub fn router(state: AppState) -> Router {
    let max_body = state.gov.config.max_body;
    Router::new()
        .route("/v1/decide", post(decide::decide))
        .route("/v1/check", post(decide::check))
        // A batch of the observer's carries up to MAX_BATCH records of
        // whatever paths and arguments processes used: its own limit.
        .route(
            "/v1/observe",
            post(observe::observe).layer(DefaultBodyLimit::max(observe::MAX_BODY)),
        )
        // The hook endpoint reads its body itself, up to the hooks' own cap.
        .route(
            "/v1/hooks/{agent}",
            post(hooks::hook).layer(DefaultBodyLimit::disable()),
        )
        .route("/v1/status", get(status::status))
        .route("/v1/events", get(status::events))
        .route("/v1/policy", get(status::policy))
        .route("/v1/openapi.json", get(status::openapi))
        .route("/v1/shutdown", post(status::shutdown))
        .route("/v1/dashboard/link", post(status::login_link))
        .route("/metrics", get(status::metrics))
        .route("/v1/asks", get(asks::list))
        .route("/v1/asks/{id}/approve", post(asks::approve))
        .route("/v1/asks/{id}/deny", post(asks::deny))
        .route("/v1/sessions", get(sessions::list).post(sessions::register))
        .route("/v1/denied-ports", get(sessions::denied_ports))
        .route("/v1/sessions/{id}/violations", post(sessions::violation))
        .route("/v1/sessions/{id}/{op}", post(sessions::change))
        .route("/v1/audit/checkpoint", get(audit::checkpoint))
        .route("/v1/audit/entries", get(audit::entries))
        .route("/v1/audit/prove/{seq}", get(audit::prove))
        .route("/v1/audit/verify", post(audit::verify))
        .route(
            "/llm/{*rest}",
            axum::routing::any(llm::gateway).layer(DefaultBodyLimit::disable()),
        )
        .merge(crate::dashboard::routes())
        .fallback(|| async { ApiError::not_found("no such endpoint; see /v1/openapi.json") })
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(state)
}
