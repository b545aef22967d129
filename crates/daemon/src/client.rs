//! A client of the daemon's Unix socket, for the CLI and for interceptors. By
//! default one connection per request: callers make few calls, and a fresh
//! connection per decision keeps the peer credentials current. A long-lived
//! interceptor that is itself the caller of every request (the MCP gateway)
//! keeps its connections open instead ([`Client::keep_alive`]): the peer is
//! the same process either way.

use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::UnixStream;

/// Why a call did not get an answer.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No daemon listens at the socket.
    #[error("no warden daemon at {path} (is `warden up` running?): {source}")]
    NotRunning {
        /// The socket.
        path: PathBuf,
        /// The connect error.
        source: std::io::Error,
    },
    /// Connecting failed otherwise.
    #[error("connecting to {path}: {source}")]
    Connect {
        /// The socket.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The exchange failed.
    #[error("talking to the daemon: {0}")]
    Http(#[from] hyper::Error),
    /// The request could not be built.
    #[error("building the request: {0}")]
    Request(#[from] hyper::http::Error),
    /// The daemon did not answer in time.
    #[error("the daemon did not answer within {0:?}")]
    Timeout(Duration),
    /// The daemon answered with an error status.
    #[error("the daemon refused ({status}): {message}")]
    Refused {
        /// The status.
        status: StatusCode,
        /// Its message.
        message: String,
    },
}

impl ClientError {
    /// Whether the daemon is simply not running.
    pub fn is_not_running(&self) -> bool {
        matches!(self, ClientError::NotRunning { .. })
    }
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

/// A client of one daemon.
pub struct Client {
    socket: PathBuf,
    timeout: Duration,
    /// Idle connections, when this client keeps them.
    pool: Option<std::sync::Mutex<Vec<Sender>>>,
}

impl Client {
    /// A client of the daemon listening on `socket`, waiting at most `timeout`
    /// for any answer.
    pub fn new(socket: &Path, timeout: Duration) -> Client {
        Client {
            socket: socket.to_path_buf(),
            timeout,
            pool: None,
        }
    }

    /// Like [`Client::new`], keeping connections open between requests.
    pub fn keep_alive(socket: &Path, timeout: Duration) -> Client {
        Client {
            pool: Some(std::sync::Mutex::new(Vec::new())),
            ..Client::new(socket, timeout)
        }
    }

    fn pooled(&self) -> Option<Sender> {
        let mut idle = self.pool.as_ref()?.lock().ok()?;
        while let Some(s) = idle.pop() {
            if !s.is_closed() {
                return Some(s);
            }
        }
        None
    }

    fn give_back(&self, s: Sender) {
        if let Some(Ok(mut idle)) = self.pool.as_ref().map(|p| p.lock())
            && idle.len() < 16
            && !s.is_closed()
        {
            idle.push(s);
        }
    }

    /// Sends a request; returns the status and the body as JSON (a body that is
    /// not JSON comes back as a JSON string).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Result<(StatusCode, Value), ClientError> {
        let payload = body.map(|v| Bytes::from(v.to_string())).unwrap_or_default();
        self.call_raw(method, path, payload, headers).await
    }

    /// Like [`Client::call`], with the body as bytes (forwarded as they are,
    /// even when they are not JSON).
    pub async fn call_raw(
        &self,
        method: Method,
        path: &str,
        payload: Bytes,
        headers: &[(&str, &str)],
    ) -> Result<(StatusCode, Value), ClientError> {
        tokio::time::timeout(self.timeout, self.exchange(method, path, payload, headers))
            .await
            .map_err(|_| ClientError::Timeout(self.timeout))?
    }

    async fn exchange(
        &self,
        method: Method,
        path: &str,
        payload: Bytes,
        headers: &[(&str, &str)],
    ) -> Result<(StatusCode, Value), ClientError> {
        let mut sender = match self.pooled() {
            Some(s) => s,
            None => self.connect().await?,
        };
        // A kept connection may have been closed by the daemon meanwhile.
        if sender.ready().await.is_err() {
            sender = self.connect().await?;
        }
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "warden")
            .header("content-type", "application/json");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = sender.send_request(req.body(Full::new(payload))?).await?;
        let status = resp.status();
        let bytes = resp.into_body().collect().await?.to_bytes();
        self.give_back(sender);
        let value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        Ok((status, value))
    }

    async fn connect(&self) -> Result<Sender, ClientError> {
        let stream = UnixStream::connect(&self.socket).await.map_err(|source| {
            let path = self.socket.clone();
            match source.kind() {
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => {
                    ClientError::NotRunning { path, source }
                }
                _ => ClientError::Connect { path, source },
            }
        })?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(sender)
    }

    /// Like [`Client::call`], but a non-2xx answer is [`ClientError::Refused`].
    pub async fn ok(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, ClientError> {
        let (status, v) = self.call(method, path, body, &[]).await?;
        if status.is_success() {
            return Ok(v);
        }
        let message = v
            .get("error")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| v.to_string());
        Err(ClientError::Refused { status, message })
    }
}
