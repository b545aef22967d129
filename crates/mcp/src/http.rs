//! `warden mcp --upstream URL --listen 127.0.0.1:PORT`: the gateway for MCP
//! servers spoken to over Streamable HTTP. The agent is pointed at the
//! listener; each POST carries one JSON-RPC message, decided like on stdio;
//! what is forwarded goes to the upstream with its headers, and the answer
//! (one JSON object, or an SSE stream relayed event by event as it arrives)
//! comes back with `tools/list` results filtered. GET streams and DELETE pass
//! through. Both eras: the 2025 session headers and the 2026 per-request
//! headers are forwarded; a 2026 `Mcp-Method`/`Mcp-Name` header that
//! disagrees with the body is refused (`-32020`), since decisions are made on
//! the body and a server might route on the header.
//!
//! The listener must be loopback, and a request whose `Origin` is not a
//! loopback page is refused (403): a web page cannot reach the gateway
//! through DNS rebinding. `https://` upstreams are verified against the
//! system's root certificates (plus `--upstream-ca` files), with rustls.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request, Response, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};

use crate::gateway::{Decider, Gateway, Route, Settings};
use crate::rpc::{self, Message, code};

/// Why the HTTP gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The listen address is not loopback.
    #[error("--listen {0} is not a loopback address: the gateway serves only this machine")]
    NotLoopback(SocketAddr),
    /// The upstream URL is not usable.
    #[error("--upstream {url:?}: {why}")]
    Upstream {
        /// The URL.
        url: String,
        /// Why.
        why: String,
    },
    /// Binding failed.
    #[error("binding {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// What the HTTP gateway needs.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Where the agent connects (loopback).
    pub listen: SocketAddr,
    /// The upstream MCP endpoint, `http://host:port/path`.
    pub upstream: String,
    /// Cap on one request body.
    pub max_message: usize,
    /// PEM files of further CAs to trust for an `https://` upstream.
    pub upstream_ca: Vec<std::path::PathBuf>,
    /// The gateway's settings.
    pub settings: Settings,
}

type Body = BoxBody<Bytes, std::io::Error>;

struct Shared {
    gateway: Arc<Gateway>,
    upstream: Uri,
    /// The TLS client for an `https://` upstream.
    tls: Option<tokio_rustls::TlsConnector>,
    authority: String,
    max_message: usize,
}

fn full(b: impl Into<Bytes>) -> Body {
    Full::new(b.into()).map_err(|never| match never {}).boxed()
}

fn rpc_error(status: StatusCode, id: &Value, code: i64, message: &str) -> Response<Body> {
    let mut r = Response::new(full(rpc::error(id, code, message).to_string()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

fn json_response(v: &Value) -> Response<Body> {
    let mut r = Response::new(full(v.to_string()));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

fn origin_ok(headers: &HeaderMap) -> bool {
    let Some(o) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = o
        .split_once("://")
        .map(|(_, r)| r)
        .unwrap_or(o)
        .rsplit_once(':')
        .map(|(h, _)| h)
        .unwrap_or(o);
    matches!(host, "127.0.0.1" | "localhost" | "[::1]")
}

/// A 2026 routing header must say what the body says.
fn headers_agree(headers: &HeaderMap, msg: &Value) -> Result<(), String> {
    // Every copy of the header must be readable and say what the body says:
    // a server routing on an unreadable or a second copy would see another call.
    let check = |k: &str, body: Option<&str>| -> Result<(), String> {
        for v in headers.get_all(k) {
            let v = v
                .to_str()
                .map_err(|_| format!("{k} is not readable text"))?;
            if Some(v) != body {
                return Err(format!("{k} {v:?} does not match the body"));
            }
        }
        Ok(())
    };
    check("Mcp-Method", msg.get("method").and_then(Value::as_str))?;
    check(
        "Mcp-Name",
        msg.pointer("/params/name")
            .or_else(|| msg.pointer("/params/uri"))
            .and_then(Value::as_str),
    )
}

/// Headers not forwarded: hop-by-hop ones, and `accept-encoding`, so that
/// answers come uncompressed and can be read (and filtered).
const HOP: [&str; 6] = [
    "host",
    "content-length",
    "connection",
    "transfer-encoding",
    "keep-alive",
    "accept-encoding",
];

/// Whether an upstream answer is compressed (then it cannot be filtered).
fn encoded(up: &Response<Incoming>) -> bool {
    up.headers()
        .get(header::CONTENT_ENCODING)
        .is_some_and(|v| !v.as_bytes().eq_ignore_ascii_case(b"identity"))
}

async fn handshake<S>(
    stream: S,
) -> Result<hyper::client::conn::http1::SendRequest<Full<Bytes>>, String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("talking to the MCP server: {e}"))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// The TLS client: the system's roots and the extra CA files.
fn tls_client(
    extra: &[std::path::PathBuf],
    url: &str,
) -> Result<tokio_rustls::TlsConnector, HttpError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let err = |why: String| HttpError::Upstream {
        url: url.to_string(),
        why,
    };
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    for f in extra {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(f)
            .map_err(|e| err(format!("--upstream-ca {}: {e}", f.display())))?
            .collect::<Result<_, _>>()
            .map_err(|e| err(format!("--upstream-ca {}: {e}", f.display())))?;
        if certs.is_empty() {
            return Err(err(format!(
                "--upstream-ca {}: no certificate in it",
                f.display()
            )));
        }
        for c in certs {
            roots
                .add(c)
                .map_err(|e| err(format!("--upstream-ca {}: {e}", f.display())))?;
        }
    }
    if roots.is_empty() {
        return Err(err(
            "no root certificates: install ca-certificates or pass --upstream-ca".into(),
        ));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| err(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

async fn send_upstream(
    sh: &Shared,
    method: Method,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Response<Incoming>, String> {
    let port = sh
        .upstream
        .port_u16()
        .unwrap_or(if sh.tls.is_some() { 443 } else { 80 });
    let host = sh.upstream.host().unwrap_or("127.0.0.1").to_string();
    let stream = TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| format!("cannot reach the MCP server at {}: {e}", sh.upstream))?;
    let _ = stream.set_nodelay(true);
    let mut sender = match &sh.tls {
        None => handshake(stream).await?,
        Some(tls) => {
            let name =
                rustls::pki_types::ServerName::try_from(host.trim_matches(['[', ']']).to_string())
                    .map_err(|e| format!("{host} is not a TLS server name: {e}"))?;
            let stream = tls
                .connect(name, stream)
                .await
                .map_err(|e| format!("TLS with the MCP server at {} failed: {e}", sh.upstream))?;
            handshake(stream).await?
        }
    };
    let path = sh
        .upstream
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let mut req = Request::builder().method(method).uri(path);
    for (k, v) in headers {
        if !HOP.contains(&k.as_str()) && k != header::ORIGIN {
            req = req.header(k, v);
        }
    }
    let req = req
        .header(header::HOST, &sh.authority)
        .body(Full::new(body))
        .map_err(|e| e.to_string())?;
    sender
        .send_request(req)
        .await
        .map_err(|e| format!("the MCP server failed: {e}"))
}

fn copy_head(from: &Response<Incoming>, to: &mut Response<Body>) {
    *to.status_mut() = from.status();
    for (k, v) in from.headers() {
        if !HOP.contains(&k.as_str()) {
            to.headers_mut().append(k, v.clone());
        }
    }
}

/// Relays an SSE body event by event, filtering responses through the
/// gateway (a `tools/list` result loses its hidden tools).
fn relay_sse(gw: Arc<Gateway>, body: Incoming, max: usize) -> Body {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, std::io::Error>>(32);
    tokio::spawn(async move {
        let mut body = body;
        let mut buf: Vec<u8> = Vec::new();
        while let Some(frame) = body.frame().await {
            let Ok(frame) = frame else { break };
            let Ok(data) = frame.into_data() else {
                continue;
            };
            buf.extend_from_slice(&data);
            if buf.len() > max {
                // An event that never ends could carry a tool list past the
                // filter: the stream ends here instead.
                let _ = tx
                    .send(Err(std::io::Error::other("an SSE event over the size cap")))
                    .await;
                return;
            }
            while let Some(end) = find_event_end(&buf) {
                let event: Vec<u8> = buf.drain(..end).collect();
                let out = filter_event(&gw, &event).await;
                if tx.send(Ok(Frame::data(Bytes::from(out)))).await.is_err() {
                    return;
                }
            }
        }
        if !buf.is_empty() {
            let out = filter_event(&gw, &buf).await;
            let _ = tx.send(Ok(Frame::data(Bytes::from(out)))).await;
        }
    });
    BodyExt::boxed(StreamBody::new(
        tokio_stream::wrappers::ReceiverStream::new(rx),
    ))
}

/// The end (exclusive, separator included) of the first complete event.
fn find_event_end(buf: &[u8]) -> Option<usize> {
    let lf = buf.windows(2).position(|w| w == b"\n\n").map(|i| i + 2);
    let crlf = buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4);
    match (lf, crlf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

async fn filter_event(gw: &Arc<Gateway>, event: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(event);
    let data: String = text
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .map(|d| d.strip_prefix(' ').unwrap_or(d))
        .collect::<Vec<_>>()
        .join("\n");
    let Ok((msg, _)) = rpc::parse(data.as_bytes()) else {
        // Comments, priming events and the like have no data; data that is
        // not one message (a batch, garbage) could not be filtered: dropped.
        return if data.trim().is_empty() {
            event.to_vec()
        } else {
            Vec::new()
        };
    };
    if !Gateway::lists_tools(&msg) {
        return event.to_vec();
    }
    let out = gw.from_server(msg).await;
    let mut e: String = text
        .lines()
        .filter(|l| !l.starts_with("data:") && !l.is_empty())
        .map(|l| format!("{l}\n"))
        .collect();
    e.push_str(&format!("data: {out}\n\n"));
    e.into_bytes()
}

async fn handle(sh: Arc<Shared>, req: Request<Incoming>) -> Response<Body> {
    if !origin_ok(req.headers()) {
        return rpc_error(
            StatusCode::FORBIDDEN,
            &Value::Null,
            code::INVALID_REQUEST,
            "Forbidden: the Origin is not a page on this machine",
        );
    }
    let (parts, body) = req.into_parts();
    let bytes = match Limited::new(body, sh.max_message).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return rpc_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                &Value::Null,
                code::INVALID_REQUEST,
                &format!("Invalid Request: the body exceeds {} bytes", sh.max_message),
            );
        }
    };
    if parts.method != Method::POST {
        if parts.method != Method::GET && parts.method != Method::DELETE {
            return rpc_error(
                StatusCode::METHOD_NOT_ALLOWED,
                &Value::Null,
                code::INVALID_REQUEST,
                "only POST, GET and DELETE reach an MCP server",
            );
        }
        // GET (the server's own stream, filtered like any other) and DELETE
        // (the end of a session) pass through.
        return match send_upstream(&sh, parts.method, &parts.headers, bytes).await {
            Ok(up) if encoded(&up) => rpc_error(
                StatusCode::BAD_GATEWAY,
                &Value::Null,
                code::INTERNAL_ERROR,
                "the MCP server answered compressed, which the gateway cannot check",
            ),
            Ok(up) => {
                let mut r = Response::new(full(Bytes::new()));
                copy_head(&up, &mut r);
                *r.body_mut() = relay_sse(Arc::clone(&sh.gateway), up.into_body(), sh.max_message);
                r
            }
            Err(e) => rpc_error(
                StatusCode::BAD_GATEWAY,
                &Value::Null,
                code::INTERNAL_ERROR,
                &e,
            ),
        };
    }
    let (msg, kind) = match rpc::parse(&bytes) {
        Ok(m) => m,
        Err(inv) => return rpc_error(StatusCode::BAD_REQUEST, &inv.id, inv.code, &inv.message),
    };
    if let Err(why) = headers_agree(&parts.headers, &msg) {
        let id = msg.get("id").cloned().unwrap_or(Value::Null);
        return rpc_error(StatusCode::BAD_REQUEST, &id, -32020, &why);
    }
    let forward = match sh.gateway.from_client(msg, &kind).await {
        Route::Reply(v) => return json_response(&v),
        Route::Drop => {
            return Response::builder()
                .status(StatusCode::ACCEPTED)
                .body(full(Bytes::new()))
                .unwrap_or_else(|_| Response::new(full(Bytes::new())));
        }
        Route::Forward(v) => v,
    };
    let up = match send_upstream(
        &sh,
        Method::POST,
        &parts.headers,
        Bytes::from(forward.to_string()),
    )
    .await
    {
        Ok(up) => up,
        Err(e) => {
            let id = match &kind {
                Message::Request { id, .. } => id.clone(),
                _ => Value::Null,
            };
            return rpc_error(StatusCode::BAD_GATEWAY, &id, code::INTERNAL_ERROR, &e);
        }
    };
    if encoded(&up) {
        return rpc_error(
            StatusCode::BAD_GATEWAY,
            &Value::Null,
            code::INTERNAL_ERROR,
            "the MCP server answered compressed, which the gateway cannot check",
        );
    }
    let sse = up
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    let mut r = Response::new(full(Bytes::new()));
    copy_head(&up, &mut r);
    if sse {
        r.headers_mut()
            .insert("x-accel-buffering", HeaderValue::from_static("no"));
        *r.body_mut() = relay_sse(Arc::clone(&sh.gateway), up.into_body(), sh.max_message);
        return r;
    }
    let body = match Limited::new(up.into_body(), sh.max_message).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return rpc_error(
                StatusCode::BAD_GATEWAY,
                &Value::Null,
                code::INTERNAL_ERROR,
                "the MCP server's answer is too large",
            );
        }
    };
    let out = match rpc::parse(&body) {
        Ok((m, _)) if Gateway::lists_tools(&m) => {
            Bytes::from(sh.gateway.from_server(m).await.to_string())
        }
        Ok(_) => body,
        // An answer that is not one message could not be filtered.
        Err(_) if !body.is_empty() => {
            return rpc_error(
                StatusCode::BAD_GATEWAY,
                &Value::Null,
                code::INTERNAL_ERROR,
                "the MCP server's answer is not a JSON-RPC message",
            );
        }
        Err(_) => body,
    };
    *r.body_mut() = full(out);
    r
}

/// Binds the listener and serves until the task is dropped; returns the
/// bound address (the port may have been 0).
pub async fn serve(
    opts: HttpOptions,
    decider: Arc<dyn Decider>,
) -> Result<(SocketAddr, tokio::task::JoinHandle<()>), HttpError> {
    if !opts.listen.ip().is_loopback() {
        return Err(HttpError::NotLoopback(opts.listen));
    }
    let upstream: Uri = opts
        .upstream
        .parse()
        .map_err(|e: hyper::http::uri::InvalidUri| HttpError::Upstream {
            url: opts.upstream.clone(),
            why: e.to_string(),
        })?;
    let tls = match upstream.scheme_str() {
        Some("http") => None,
        Some("https") => Some(tls_client(&opts.upstream_ca, &opts.upstream)?),
        _ => {
            return Err(HttpError::Upstream {
                url: opts.upstream.clone(),
                why: "not an http:// or https:// URL".into(),
            });
        }
    };
    let authority = upstream
        .authority()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let listener = TcpListener::bind(opts.listen)
        .await
        .map_err(|source| HttpError::Bind {
            addr: opts.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| HttpError::Bind {
        addr: opts.listen,
        source,
    })?;
    let shared = Arc::new(Shared {
        gateway: Gateway::new(opts.settings, decider, None),
        upstream,
        tls,
        authority,
        max_message: opts.max_message,
    });
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let sh = Arc::clone(&shared);
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req| {
                    let sh = Arc::clone(&sh);
                    async move { Ok::<_, Infallible>(handle(sh, req).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    Ok((addr, task))
}
