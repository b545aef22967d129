//! The transport alone, for `warden bench decide`: the daemon's own accept
//! loop, connection limits, deadlines and JSON handling on a Unix socket, with
//! a `/v1/decide` that parses the Action and answers a fixed allow: no
//! identity, no policy, no audit. Its throughput is the ceiling the real
//! daemon is measured against, on the same machine in the same run.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::http::StatusCode;
use axum::routing::post;
use tokio::net::UnixListener;
use tokio::sync::{Semaphore, watch};
use warden_types::{Action, Decision, Verdict};

use crate::listen::{self, Limits};

async fn decide(body: axum::body::Bytes) -> (StatusCode, Json<Verdict>) {
    match serde_json::from_slice::<Action>(&body) {
        Ok(action) => {
            let mut v = Verdict::malformed(action.kind.summary());
            v.decision = Decision::Allow;
            v.rules = vec!["baseline".into()];
            (StatusCode::OK, Json(v))
        }
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Json(Verdict::malformed(e.to_string())),
        ),
    }
}

/// Serves the baseline on `socket` until `stop` turns true.
pub async fn serve(socket: &Path, stop: watch::Receiver<bool>) -> std::io::Result<()> {
    let _ = std::fs::remove_file(socket);
    let listener = UnixListener::bind(socket)?;
    let app = listen::with_request_deadline(
        Router::new().route("/v1/decide", post(decide)),
        Duration::from_secs(10),
    );
    let limits = Limits {
        header_timeout: Duration::from_secs(5),
        connections: Arc::new(Semaphore::new(1024)),
    };
    listen::serve_unix(listener, app, limits, stop).await;
    Ok(())
}
