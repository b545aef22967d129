//! Accept loops for the two listeners. Each connection is served by hyper with
//! a header deadline (a client that trickles its headers is cut off), a
//! request deadline (nor may it trickle its body), a cap on open connections,
//! and the kernel's view of the peer attached to every request.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::{Semaphore, watch};
use tower::ServiceExt;
use tracing::{debug, warn};

use crate::governor::Peer;

/// Per-connection limits.
#[derive(Clone)]
pub struct Limits {
    /// Time allowed for the request headers.
    pub header_timeout: Duration,
    /// Open connections allowed at once; more are closed at accept.
    pub connections: Arc<Semaphore>,
}

/// Adds the request deadline to a router.
pub fn with_request_deadline(app: Router, deadline: Duration) -> Router {
    app.layer(axum::middleware::from_fn(
        move |req: Request, next: Next| async move {
            match tokio::time::timeout(deadline, next.run(req)).await {
                Ok(r) => r,
                Err(_) => timed_out(),
            }
        },
    ))
}

fn timed_out() -> Response {
    (
        StatusCode::REQUEST_TIMEOUT,
        axum::Json(serde_json::json!({ "error": "the request took too long", "status": 408 })),
    )
        .into_response()
}

/// Serves the Unix socket until `stop` turns true.
pub async fn serve_unix(
    listener: UnixListener,
    app: Router,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let peer = match stream.peer_cred() {
                        Ok(c) => Peer::Unix { uid: c.uid(), pid: c.pid().and_then(|p| u32::try_from(p).ok()) },
                        Err(e) => {
                            warn!(error = %e, "no peer credentials; connection closed");
                            continue;
                        }
                    };
                    spawn_conn(stream, peer, &app, &limits, &stop);
                }
                Err(e) => {
                    warn!(error = %e, "accept on the Unix socket failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = stop.changed() => break,
        }
    }
}

/// Serves loopback TCP until `stop` turns true.
pub async fn serve_tcp(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, addr)) => {
                    let _ = stream.set_nodelay(true);
                    let local = stream.local_addr().ok();
                    spawn_conn(stream, Peer::Tcp { addr, local }, &app, &limits, &stop);
                }
                Err(e) => {
                    warn!(error = %e, "accept on TCP failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = stop.changed() => break,
        }
    }
}

fn spawn_conn<IO>(io: IO, peer: Peer, app: &Router, limits: &Limits, stop: &watch::Receiver<bool>)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let Ok(permit) = Arc::clone(&limits.connections).try_acquire_owned() else {
        warn!(%peer, "too many open connections; this one is closed");
        return;
    };
    let app = app.clone();
    let header_timeout = limits.header_timeout;
    let mut stop = stop.clone();
    tokio::spawn(async move {
        let _permit = permit;
        let svc = app.map_request(move |mut req: Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(peer.clone());
            req
        });
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout);
        let conn = builder.serve_connection(TokioIo::new(io), TowerToHyperService::new(svc));
        tokio::pin!(conn);
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    debug!(error = %e, "connection ended with an error");
                }
            }
            _ = stop.changed() => {
                conn.as_mut().graceful_shutdown();
                // Live feeds never end on their own: give requests in flight a
                // moment, then drop the connection.
                let _ = tokio::time::timeout(Duration::from_secs(2), conn).await;
            }
        }
    });
}
