//! The dashboard at `http://127.0.0.1:7420/`: server-rendered pages plus the
//! live feed over SSE, no frontend build.
//!
//! Access: a one-time login link (printed by `warden up`, or `warden dashboard`)
//! is exchanged for an `HttpOnly; SameSite=Strict` session cookie. Every page
//! needs the cookie; every state-changing request also needs the session's CSRF
//! token in `x-csrf-token` (or a `csrf` form field) and, when the browser sends
//! one, an `Origin` of this listener. The `Host` header must name the loopback
//! listener (DNS rebinding). A strict CSP allows only this origin's script and
//! style. The pages are served on TCP only, never on the Unix socket.

mod html;
mod insights;
mod pages;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use serde::Deserialize;

use crate::api::{ApiError, AppState, constant_time_eq};
use crate::governor::{Peer, lock};

/// How long a login link stays valid.
const LINK_TTL: Duration = Duration::from_secs(600);
/// How long a dashboard session lasts without use.
const IDLE_TTL: Duration = Duration::from_secs(12 * 3600);
/// The session cookie's name.
pub const COOKIE: &str = "warden_session";

/// The Content-Security-Policy of every dashboard response.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

struct Session {
    csrf: String,
    last: Instant,
}

/// Login links and browser sessions.
#[derive(Default)]
pub struct Dashboard {
    links: Mutex<HashMap<String, Instant>>,
    sessions: Mutex<HashMap<String, Session>>,
}

/// What a request with a valid session cookie carries.
pub struct Browser {
    /// The session's CSRF token.
    pub csrf: String,
    /// Whether the request proved it came from the dashboard's own page
    /// (CSRF token and, if sent, Origin).
    pub same_origin_write: bool,
}

fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| {
            let (k, v) = kv.trim().split_once('=')?;
            (k == name).then_some(v)
        })
}

impl Dashboard {
    /// A fresh one-time login token (valid ten minutes).
    pub fn new_link(&self) -> String {
        let token = crate::random_token();
        let mut links = lock(&self.links);
        links.retain(|_, exp| *exp > Instant::now());
        links.insert(token.clone(), Instant::now() + LINK_TTL);
        token
    }

    /// Exchanges a login token for a session: `(cookie id, csrf)`. Once only.
    fn redeem(&self, token: &str) -> Option<String> {
        let valid = lock(&self.links)
            .remove(token)
            .is_some_and(|exp| exp > Instant::now());
        if !valid {
            return None;
        }
        let id = crate::random_token();
        lock(&self.sessions).insert(
            id.clone(),
            Session {
                csrf: crate::random_token(),
                last: Instant::now(),
            },
        );
        Some(id)
    }

    /// The browser session a request's cookie names, if valid. `origin_ok`
    /// says whether the request's Origin (if any) is this listener.
    pub fn browser(&self, headers: &HeaderMap, origin_ok: bool) -> Option<Browser> {
        let id = cookie_value(headers, COOKIE)?;
        let mut sessions = lock(&self.sessions);
        sessions.retain(|_, s| s.last.elapsed() < IDLE_TTL);
        let s = sessions.get_mut(id)?;
        s.last = Instant::now();
        let sent = headers
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        Some(Browser {
            csrf: s.csrf.clone(),
            same_origin_write: origin_ok && constant_time_eq(sent.as_bytes(), s.csrf.as_bytes()),
        })
    }

    /// Whether `csrf` is the token of the session in `headers`' cookie (for the
    /// one form posted without script, logout).
    fn form_csrf_ok(&self, headers: &HeaderMap, csrf: &str) -> bool {
        cookie_value(headers, COOKIE)
            .and_then(|id| lock(&self.sessions).get(id).map(|s| s.csrf.clone()))
            .is_some_and(|t| constant_time_eq(t.as_bytes(), csrf.as_bytes()))
    }

    fn logout(&self, headers: &HeaderMap) {
        if let Some(id) = cookie_value(headers, COOKIE) {
            lock(&self.sessions).remove(id);
        }
    }
}

/// The security headers every dashboard response carries.
pub fn secured(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// Query of `/login`.
#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    token: Option<String>,
}

async fn login(
    State(state): State<AppState>,
    Extension(peer): Extension<Peer>,
    headers: HeaderMap,
    Query(q): Query<LoginQuery>,
) -> Response {
    if let Err(e) = state.check_browser_transport(&peer, &headers) {
        return secured(e.into_response());
    }
    let Some(id) = q.token.as_deref().and_then(|t| state.dashboard.redeem(t)) else {
        return secured(
            (
                StatusCode::UNAUTHORIZED,
                "This login link is used up, expired or wrong. Get a new one with `warden dashboard`.",
            )
                .into_response(),
        );
    };
    let mut r = Redirect::to("/").into_response();
    let cookie = format!("{COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/");
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    secured(r)
}

/// Form of `/logout`.
#[derive(Debug, Deserialize)]
pub struct LogoutForm {
    csrf: String,
}

async fn logout(
    State(state): State<AppState>,
    Extension(peer): Extension<Peer>,
    headers: HeaderMap,
    form: Result<axum::Form<LogoutForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let ok = state.check_browser_transport(&peer, &headers).is_ok()
        && state.origin_ok(&headers)
        && form.is_ok_and(|f| state.dashboard.form_csrf_ok(&headers, &f.csrf));
    if !ok {
        return secured(
            ApiError::forbidden("logging out needs the page's CSRF token").into_response(),
        );
    }
    state.dashboard.logout(&headers);
    let mut r = Redirect::to("/login").into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("warden_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
    );
    secured(r)
}

async fn asset(path: &'static str, mime: &'static str) -> Response {
    let body = match path {
        "app.js" => include_str!("static/app.js"),
        _ => include_str!("static/app.css"),
    };
    secured(([(header::CONTENT_TYPE, mime)], body).into_response())
}

/// The dashboard's routes (merged into the API router; TCP only).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(pages::live))
        .route("/asks", get(pages::asks))
        .route("/agents", get(pages::agents))
        .route("/audit", get(pages::audit))
        .route("/audit/proof/{seq}", get(pages::proof))
        .route("/rules", get(pages::rules))
        .route("/insights", get(insights::page))
        .route("/login", get(login))
        .route("/logout", post(logout))
        .route(
            "/static/app.js",
            get(|| asset("app.js", "text/javascript; charset=utf-8")),
        )
        .route(
            "/static/app.css",
            get(|| asset("app.css", "text/css; charset=utf-8")),
        )
}
