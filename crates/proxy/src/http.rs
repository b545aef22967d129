//! The HTTP side: absolute-form requests forwarded upstream with their bodies
//! streamed both ways, `CONNECT` tunnels, and WebSocket upgrades.

use std::convert::Infallible;
use std::net::IpAddr;
use std::sync::Arc;

use base64::Engine;
use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request as HttpRequest, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::Mutex;
use tracing::debug;

use crate::scanned::{self, Scanned};
use crate::{Client, ConnectError, Destination, Proxy, Refusal, Request, connect, dlp, target};

pub(crate) type Body = BoxBody<Bytes, hyper::Error>;

/// The checked addresses and port an upstream connection goes to.
type UpstreamKey = (Vec<IpAddr>, u16);

/// One client connection: who it is, and the upstream connection its last
/// request used (kept alive for the next request to the same checked address).
struct Conn {
    proxy: Arc<Proxy>,
    client: Client,
    upstream: Mutex<Option<(UpstreamKey, SendRequest<Scanned>)>>,
}

pub(crate) async fn serve<S>(proxy: Arc<Proxy>, client: Client, io: S)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(proxy.settings().header_timeout)
        .max_buf_size(proxy.settings().max_head.max(8192));
    let conn = Arc::new(Conn {
        proxy,
        client,
        upstream: Mutex::new(None),
    });
    let svc = hyper::service::service_fn(move |req| {
        let conn = Arc::clone(&conn);
        async move { Ok::<_, Infallible>(conn.handle(req).await) }
    });
    if let Err(e) = builder
        .serve_connection(TokioIo::new(io), svc)
        .with_upgrades()
        .await
    {
        debug!(error = %e, "proxy connection ended");
    }
}

impl Conn {
    async fn handle(&self, req: HttpRequest<Incoming>) -> Response<Body> {
        let who = match credential(req.headers()) {
            Ok(secret) => {
                let header = req
                    .headers()
                    .get(crate::SECRET_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                self.client.with_secret(secret.or(header))
            }
            Err(msg) => return plain(StatusCode::BAD_REQUEST, msg.into(), HeaderMap::new()),
        };
        let limits = match self.proxy.admit(&who) {
            Ok(l) => l,
            Err(rate) => {
                let mut h = proxy_status("http_request_denied", "request rate limit");
                h.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                return plain(
                    StatusCode::TOO_MANY_REQUESTS,
                    format!(
                        "warden: more than {rate} requests per second from this agent; slow down\n"
                    ),
                    h,
                );
            }
        };
        if req.uri().scheme().is_none()
            && req.uri().path().starts_with("/llm/")
            && let Some(gw) = self.proxy.llm.as_ref()
        {
            return crate::llm::handle(gw, &self.proxy.decider, who, req, limits).await;
        }
        if let Some(max) = limits.max_body
            && let Some(refused) = body_over(req.headers(), max)
        {
            return refused;
        }
        if req.method() == Method::CONNECT {
            let mut resp = self.tunnel(who, req).await;
            // A client may already be sending its TLS bytes after the CONNECT:
            // after a refusal they must not be read as a next request.
            if !resp.status().is_success() {
                resp.headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            resp
        } else {
            self.forward(who, req).await
        }
    }

    async fn tunnel(&self, who: Client, req: HttpRequest<Incoming>) -> Response<Body> {
        let raw = req
            .uri()
            .authority()
            .map(|a| a.as_str().to_string())
            .unwrap_or_else(|| req.uri().to_string());
        let dest = match target::connect_target(&raw) {
            Ok(d) => d,
            Err(e) => return refusal(Refusal::BadTarget(e), &format!("CONNECT {raw}")),
        };
        let what = format!("CONNECT {}:{}", dest.host, dest.port);
        let r = Request {
            via: "connect",
            ..Request::default()
        };
        let addrs = match self.proxy.judge(&who, &dest, &r).await {
            Ok(a) => a,
            Err(e) => return refusal(e, &what),
        };
        let t = self.proxy.settings().connect_timeout;
        let upstream = match connect::connect(&dest.host, &addrs, dest.port, t).await {
            Ok(u) => u,
            Err(e) => return refusal(Refusal::Unreachable(e), &what),
        };
        let proxy = Arc::clone(&self.proxy);
        tokio::spawn(async move {
            match hyper::upgrade::on(req).await {
                Ok(up) => {
                    crate::tunnel::relay(proxy, who, dest, addrs, TokioIo::new(up), upstream).await
                }
                Err(e) => debug!(error = %e, "CONNECT upgrade failed"),
            }
        });
        Response::new(empty())
    }

    async fn forward(&self, who: Client, mut req: HttpRequest<Incoming>) -> Response<Body> {
        let uri = req.uri().to_string();
        let what = format!("{} {}", req.method(), target::excerpt(&uri));
        let dest = match target::absolute_target(&uri) {
            Ok(d) => d,
            Err(e) => return refusal(Refusal::BadTarget(e), &what),
        };
        let r = Request {
            url: Some(uri.clone()),
            method: Some(req.method().as_str().to_string()),
            via: "http",
        };
        let addrs = match self.proxy.judge(&who, &dest, &r).await {
            Ok(a) => a,
            Err(e) => return refusal(e, &what),
        };
        let upgrade = upgrade_requested(req.headers());
        let client_upgrade = upgrade.is_some().then(|| hyper::upgrade::on(&mut req));
        let (mut parts, body) = req.into_parts();
        parts.uri = match dest.path.parse() {
            Ok(u) => u,
            Err(_) => {
                let e = target::TargetError::OriginForm(target::excerpt(&dest.path));
                return refusal(Refusal::BadTarget(e), &what);
            }
        };
        strip_hop_by_hop(&mut parts.headers);
        if let Ok(h) = HeaderValue::from_str(&dest.authority()) {
            parts.headers.insert(header::HOST, h);
        }
        if let Some(proto) = &upgrade {
            parts
                .headers
                .insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
            parts.headers.insert(header::UPGRADE, proto.clone());
        }
        let key = (addrs.clone(), dest.port);
        let mut sender = match self.sender(&key, &dest, &addrs, upgrade.is_some()).await {
            Ok(s) => s,
            Err(e) => return refusal(e, &what),
        };
        let found = Arc::new(scanned::Found::default());
        let body = Scanned::new(
            body,
            Arc::clone(&found),
            self.record_secret(&who, &dest, &r),
        );
        let mut resp = match sender
            .send_request(HttpRequest::from_parts(parts, body))
            .await
        {
            Ok(r) => {
                // An answer before the body was read whole: it goes to the
                // client only once the scan has seen the rest.
                found.body_over(self.proxy.settings().header_timeout).await;
                if let Some(f) = found.recorded().await {
                    return secret_refused(&f);
                }
                r
            }
            Err(e) => {
                if let Some(f) = found.recorded().await {
                    return secret_refused(&f);
                }
                debug!(error = %e, "upstream request failed");
                return plain(
                    StatusCode::BAD_GATEWAY,
                    format!("warden: {what}: the upstream server failed: {e}\n"),
                    proxy_status("http_protocol_error", &e.to_string()),
                );
            }
        };
        if resp.status() == StatusCode::SWITCHING_PROTOCOLS
            && let Some(client_upgrade) = client_upgrade
        {
            let server_upgrade = hyper::upgrade::on(&mut resp);
            tokio::spawn(async move {
                if let (Ok(c), Ok(s)) = (client_upgrade.await, server_upgrade.await) {
                    let (mut c, mut s) = (TokioIo::new(c), TokioIo::new(s));
                    let _ = tokio::io::copy_bidirectional(&mut c, &mut s).await;
                }
            });
            return resp.map(|b| b.boxed());
        }
        if upgrade.is_none() {
            *self.upstream.lock().await = Some((key, sender));
        }
        strip_hop_by_hop(resp.headers_mut());
        resp.map(|b| b.boxed())
    }

    /// What records a secret found in the body of request `r`.
    fn record_secret(&self, who: &Client, dest: &Destination, r: &Request) -> scanned::OnFound {
        let proxy = Arc::clone(&self.proxy);
        let who = who.clone();
        let action = proxy.action(dest, r, None);
        Box::new(move |found| {
            tokio::spawn(async move {
                crate::record_secrets(proxy.decider.as_ref(), action, &who, &found).await;
            })
        })
    }

    /// The kept-alive upstream connection for `key`, or a new one.
    async fn sender(
        &self,
        key: &UpstreamKey,
        dest: &Destination,
        addrs: &[IpAddr],
        fresh: bool,
    ) -> Result<SendRequest<Scanned>, Refusal> {
        let cached = self.upstream.lock().await.take();
        if !fresh
            && let Some((k, mut s)) = cached
            && &k == key
            && s.ready().await.is_ok()
        {
            return Ok(s);
        }
        let t = self.proxy.settings().connect_timeout;
        let stream = connect::connect(&dest.host, addrs, dest.port, t)
            .await
            .map_err(Refusal::Unreachable)?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| {
                Refusal::Unreachable(ConnectError::Connect {
                    host: dest.host.to_string(),
                    port: dest.port,
                    source: std::io::Error::other(e),
                })
            })?;
        tokio::spawn(async move {
            if let Err(e) = conn.with_upgrades().await {
                debug!(error = %e, "upstream connection ended");
            }
        });
        Ok(sender)
    }
}

/// The session secret in `Proxy-Authorization: Basic base64(user:secret)`
/// (any user name: clients insist on one).
fn credential(h: &HeaderMap) -> Result<Option<String>, &'static str> {
    const BAD: &str =
        "warden: Proxy-Authorization must be Basic, with the session secret as the password\n";
    let Some(v) = h.get(header::PROXY_AUTHORIZATION) else {
        return Ok(None);
    };
    let v = v.to_str().map_err(|_| BAD)?;
    let (scheme, b64) = v.trim().split_once(' ').ok_or(BAD)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(BAD);
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|_| BAD)?;
    let raw = String::from_utf8(raw).map_err(|_| BAD)?;
    let (_, secret) = raw.split_once(':').ok_or(BAD)?;
    Ok((!secret.is_empty()).then(|| secret.to_string()))
}

/// The protocol a client asks to upgrade to (WebSocket), if it does.
fn upgrade_requested(h: &HeaderMap) -> Option<HeaderValue> {
    let wants = h
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case("upgrade"));
    wants.then(|| h.get(header::UPGRADE).cloned()).flatten()
}

/// Removes the headers that belong to one hop (RFC 9110 §7.6.1), and the
/// client's credentials for the proxy itself.
pub(crate) fn strip_hop_by_hop(h: &mut HeaderMap) {
    let listed: Vec<HeaderName> = h
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|t| HeaderName::from_bytes(t.trim().as_bytes()).ok())
        .collect();
    for name in listed {
        h.remove(name);
    }
    for name in [
        header::CONNECTION,
        header::PROXY_AUTHORIZATION,
        header::PROXY_AUTHENTICATE,
        header::TE,
        header::TRAILER,
        header::TRANSFER_ENCODING,
        header::UPGRADE,
    ] {
        h.remove(name);
    }
    h.remove("proxy-connection");
    h.remove("keep-alive");
    h.remove(crate::SECRET_HEADER);
}

fn empty() -> Body {
    Full::new(Bytes::new()).map_err(|n| match n {}).boxed()
}

fn plain(status: StatusCode, text: String, headers: HeaderMap) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from(text)).map_err(|n| match n {}).boxed());
    *r.status_mut() = status;
    *r.headers_mut() = headers;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// An RFC 9209 `Proxy-Status` header, so tools can tell warden's refusal
/// from the server's.
fn proxy_status(error: &str, details: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    let details: String = details
        .chars()
        .filter(|c| c.is_ascii() && !c.is_ascii_control() && *c != '"' && *c != '\\')
        .take(200)
        .collect();
    if let Ok(v) = HeaderValue::from_str(&format!("warden; error={error}; details=\"{details}\"")) {
        h.insert("proxy-status", v);
    }
    h
}

fn refusal(r: Refusal, what: &str) -> Response<Body> {
    match r {
        Refusal::Denied(v) => {
            let mut h = proxy_status("destination_ip_prohibited", &v.reason);
            h.insert("x-warden-decision", HeaderValue::from_static("deny"));
            if let Ok(rules) = HeaderValue::from_str(&v.rules.join(", ")) {
                h.insert("x-warden-rule", rules);
            }
            plain(
                StatusCode::FORBIDDEN,
                format!(
                    "warden: blocked {what}: {} (rule {})\n",
                    v.reason,
                    v.rules.join(", ")
                ),
                h,
            )
        }
        Refusal::Secret(found) => secret_refused(&found),
        Refusal::BadTarget(e) => plain(
            StatusCode::BAD_REQUEST,
            format!("warden: {e}\n"),
            proxy_status("http_request_error", &e.to_string()),
        ),
        Refusal::Unreachable(e) => {
            let (status, kind) = match &e {
                ConnectError::Timeout { .. } => (StatusCode::GATEWAY_TIMEOUT, "connection_timeout"),
                ConnectError::Resolve { .. } | ConnectError::NoAddress { .. } => {
                    (StatusCode::BAD_GATEWAY, "dns_error")
                }
                ConnectError::Connect { .. } => (StatusCode::BAD_GATEWAY, "connection_refused"),
            };
            plain(
                status,
                format!("warden: {what}: {e}\n"),
                proxy_status(kind, &e.to_string()),
            )
        }
    }
}

/// The refusal of a request that holds a secret (recorded already). The
/// request is not repeated back: only the kinds and fingerprints are named.
fn secret_refused(found: &[dlp::Finding]) -> Response<Body> {
    let mut h = proxy_status("http_request_denied", "secret in request");
    h.insert("x-warden-decision", HeaderValue::from_static("deny"));
    h.insert("x-warden-rule", HeaderValue::from_static(dlp::RULE));
    h.insert(header::CONNECTION, HeaderValue::from_static("close"));
    plain(
        StatusCode::FORBIDDEN,
        format!(
            "warden: blocked the request: it holds {} secret(s) ({}), and none of it was sent (rule {})\n",
            found.len(),
            dlp::listed(found),
            dlp::RULE
        ),
        h,
    )
}

/// The refusal of a request whose body may exceed the agent's limit of
/// `max` bytes: one declared larger (413), or one of unknown length (411:
/// a streamed body cannot be measured before it is sent on).
fn body_over(headers: &HeaderMap, max: usize) -> Option<Response<Body>> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let chunked = headers
        .get(header::TRANSFER_ENCODING)
        .is_some_and(|v| v.as_bytes() != b"identity");
    // A streamed body's length is unknown whatever Content-Length says, and
    // an unreadable Content-Length is no length: both are refused.
    let has_length = headers.contains_key(header::CONTENT_LENGTH);
    let (status, why) = match declared {
        Some(n) if !chunked && n > max as u64 => (
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("a body of {n} bytes is over this agent's limit of {max} bytes"),
        ),
        _ if chunked || (has_length && declared.is_none()) => (
            StatusCode::LENGTH_REQUIRED,
            format!(
                "this agent's bodies are limited to {max} bytes: send a Content-Length, not a streamed body"
            ),
        ),
        _ => return None,
    };
    Some(plain(
        status,
        format!("warden: {why}\n"),
        proxy_status("http_request_denied", "request body limit"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_headers_and_what_connection_lists_are_removed() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, x-secret"),
        );
        h.insert("x-secret", HeaderValue::from_static("1"));
        h.insert("proxy-connection", HeaderValue::from_static("keep-alive"));
        h.insert(
            header::PROXY_AUTHORIZATION,
            HeaderValue::from_static("Basic eDp5"),
        );
        h.insert(header::ACCEPT, HeaderValue::from_static("*/*"));
        strip_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1, "{h:?}");
        assert!(h.contains_key(header::ACCEPT));
    }

    #[test]
    fn the_secret_is_the_basic_password() {
        let mut h = HeaderMap::new();
        assert_eq!(credential(&h), Ok(None));
        // base64("warden:s3cret")
        h.insert(
            header::PROXY_AUTHORIZATION,
            HeaderValue::from_static("Basic d2FyZGVuOnMzY3JldA=="),
        );
        assert_eq!(credential(&h), Ok(Some("s3cret".into())));
        h.insert(
            header::PROXY_AUTHORIZATION,
            HeaderValue::from_static("Bearer x"),
        );
        assert!(credential(&h).is_err());
    }

    #[test]
    fn websocket_upgrades_are_seen() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, Upgrade"),
        );
        h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        assert_eq!(upgrade_requested(&h).unwrap(), "websocket");
        h.remove(header::CONNECTION);
        assert!(upgrade_requested(&h).is_none());
    }
}
