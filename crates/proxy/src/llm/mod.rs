//! The LLM API gateway: `ANTHROPIC_BASE_URL=http://127.0.0.1:7421/llm/anthropic`
//! (or an OpenAI-compatible base URL ending in `/llm/openai/v1`; Ollama, vLLM
//! and LM Studio by name with `--llm-upstream`). Each request is decided as an
//! `llm_request` action (provider, model, tools offered), its body scanned for
//! secrets first ([`crate::dlp`]); it is then forwarded over TLS to the provider and
//! the response streamed back unchanged while [`observe`] notes the tool calls
//! the model emitted and the tokens used, recorded when the response ends.

pub mod observe;
mod screen;

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tracing::debug;
use warden_types::{Action, ActionKind, Decision, Origin};

use crate::http::{Body, strip_hop_by_hop};
use crate::{Client, Decider, dlp};
use screen::Screened;

/// Where a provider's API is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    /// `https` (TLS) or `http`.
    pub tls: bool,
    /// Host name or address.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Path prefix, without a trailing `/` (often empty).
    pub base: String,
}

impl Upstream {
    fn authority(&self) -> String {
        match (self.tls, self.port) {
            (true, 443) | (false, 80) => self.host.clone(),
            _ => format!("{}:{}", self.host, self.port),
        }
    }
}

/// Reads `NAME=URL` (`--llm-upstream ollama=http://127.0.0.1:11434`).
pub fn parse_upstream(s: &str) -> Result<(String, Upstream), String> {
    let (name, url) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?} is not NAME=URL"))?;
    let name = name.trim().to_ascii_lowercase();
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(format!(
            "{name:?}: a provider name is letters, digits and -"
        ));
    }
    let t = warden_policy::net::parse_url(url.trim()).map_err(|e| e.to_string())?;
    let tls = match t.scheme.as_str() {
        "https" => true,
        "http" => false,
        other => return Err(format!("{url:?}: the {other}: scheme is not http or https")),
    };
    Ok((
        name,
        Upstream {
            tls,
            host: match &t.host {
                warden_policy::net::Host::Ip(std::net::IpAddr::V6(ip)) => ip.to_string(),
                h => h.to_string(),
            },
            port: t.port,
            base: t.path.trim_end_matches('/').to_string(),
        },
    ))
}

/// What secrets in a request body lead to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DlpMode {
    /// Refuse the request (the default).
    #[default]
    Deny,
    /// Replace each secret by `[REDACTED kind fingerprint]` and send it.
    Redact,
}

/// The gateway's settings.
pub struct Gateway {
    upstreams: HashMap<String, Upstream>,
    dlp: DlpMode,
    max_body: usize,
    tls: tokio_rustls::TlsConnector,
}

/// Why the gateway could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// A CA file.
    #[error("--llm-upstream-ca {path}: {why}")]
    Ca {
        /// The file.
        path: String,
        /// What is wrong with it.
        why: String,
    },
    /// TLS set-up.
    #[error("TLS client: {0}")]
    Tls(String),
}

impl Gateway {
    /// Anthropic and OpenAI at their public APIs, then `extra` (which may
    /// replace them); TLS trusts the system roots and `extra_ca` files.
    pub fn new(
        extra: Vec<(String, Upstream)>,
        dlp: DlpMode,
        extra_ca: &[std::path::PathBuf],
    ) -> Result<Gateway, GatewayError> {
        let mut upstreams = HashMap::new();
        for d in [
            "anthropic=https://api.anthropic.com",
            "openai=https://api.openai.com",
        ] {
            if let Ok((n, u)) = parse_upstream(d) {
                upstreams.insert(n, u);
            }
        }
        upstreams.extend(extra);
        Ok(Gateway {
            upstreams,
            dlp,
            max_body: 32 << 20,
            tls: tls_connector(extra_ca)?,
        })
    }
}

fn tls_connector(extra: &[std::path::PathBuf]) -> Result<tokio_rustls::TlsConnector, GatewayError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    for f in extra {
        let ca = |why: String| GatewayError::Ca {
            path: f.display().to_string(),
            why,
        };
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(f)
            .map_err(|e| ca(e.to_string()))?
            .collect::<Result<_, _>>()
            .map_err(|e| ca(e.to_string()))?;
        if certs.is_empty() {
            return Err(ca("no certificate in it".into()));
        }
        for c in certs {
            roots.add(c).map_err(|e| ca(e.to_string()))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| GatewayError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

/// Headers agents send that name their session or conversation: recorded so
/// that LLM calls line up with the hook and MCP events of the same session.
const SESSION_HEADERS: &[&str] = &[
    "x-claude-code-session-id",
    "session_id",
    "conversation_id",
    "x-session-id",
];

/// Serves `/llm/{provider}/...`.
pub(crate) async fn handle<B>(
    gw: &Gateway,
    decider: &Arc<dyn Decider>,
    who: Client,
    req: Request<B>,
    limits: crate::ClientLimits,
) -> Response<Body>
where
    B: hyper::body::Body<Data = Bytes> + Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let path = req.uri().path().to_string();
    let query = req
        .uri()
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    let rest = path.strip_prefix("/llm/").unwrap_or_default();
    let (provider, tail) = rest.split_once('/').unwrap_or((rest, ""));
    let provider = provider.to_ascii_lowercase();
    let Some(up) = gw.upstreams.get(&provider).cloned() else {
        let known: Vec<&str> = gw.upstreams.keys().map(String::as_str).collect();
        return provider_error(
            &provider,
            StatusCode::NOT_FOUND,
            &format!(
                "warden: no LLM provider {provider:?} (known: {})",
                known.join(", ")
            ),
            &[],
        );
    };
    let (parts, body) = req.into_parts();
    // The agent's own limit where its policy sets a stricter one.
    let max_body = limits.max_body.map_or(gw.max_body, |m| m.min(gw.max_body));
    let bytes = match Limited::new(body, max_body).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            return provider_error(
                &provider,
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!(
                    "warden: the request body could not be read (limit {} bytes for this agent): {e}",
                    max_body
                ),
                &[],
            );
        }
    };
    let mut parsed: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let model = parsed["model"].as_str().unwrap_or("unknown").to_string();
    let tools: Vec<String> = parsed["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["name"].as_str().or(t["function"]["name"].as_str()))
        .map(str::to_string)
        .collect();
    let mut action = Action::new(
        "",
        ActionKind::LlmRequest {
            provider: provider.clone(),
            model,
            tools_offered: (!tools.is_empty()).then_some(tools),
        },
    );
    action.origin = Origin::Proxy;
    let extra = &mut action.context.get_or_insert_with(Default::default).extra;
    extra.insert("via".into(), "llm-gateway".into());
    extra.insert("path".into(), crate::target::excerpt(&format!("/{tail}")));
    for h in SESSION_HEADERS {
        if let Some(v) = parts.headers.get(*h).and_then(|v| v.to_str().ok()) {
            extra.insert("agent_session".into(), crate::target::excerpt(v));
            break;
        }
    }
    let mut body = bytes.clone();
    match screen::screen(&bytes, &mut parsed, gw.dlp) {
        Screened::Clean => {}
        Screened::Redacted(redacted, found) => {
            extra.insert("dlp".into(), dlp::listed(&found));
            extra.insert("dlp_action".into(), "redacted".into());
            body = redacted;
        }
        Screened::Refused(found) => {
            crate::record_secrets(decider.as_ref(), action, &who, &found).await;
            return provider_error(
                &provider,
                StatusCode::FORBIDDEN,
                &format!(
                    "warden blocked this request: it contains {} secret(s) ({}); remove them from the conversation (rule {})",
                    found.len(),
                    dlp::listed(&found),
                    dlp::RULE
                ),
                &[dlp::RULE.to_string()],
            );
        }
    }
    let verdict = decider.decide(action.clone(), &who).await;
    if verdict.decision != Decision::Allow {
        return provider_error(
            &provider,
            StatusCode::FORBIDDEN,
            &format!(
                "warden blocked this request: {} (rule {})",
                verdict.reason,
                verdict.rules.join(", ")
            ),
            &verdict.rules,
        );
    }
    let mut headers = parts.headers;
    strip_hop_by_hop(&mut headers);
    headers.remove(header::HOST);
    headers.remove(header::CONTENT_LENGTH);
    headers.remove(crate::SECRET_HEADER);
    let uri = format!("{}/{tail}{query}", up.base);
    let mut fwd = Request::builder().method(parts.method).uri(uri);
    if let Some(h) = fwd.headers_mut() {
        *h = headers;
        if let Ok(v) = HeaderValue::from_str(&up.authority()) {
            h.insert(header::HOST, v);
        }
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    }
    let Ok(fwd) = fwd.body(Full::new(body)) else {
        return provider_error(
            &provider,
            StatusCode::BAD_REQUEST,
            "warden: the request could not be forwarded",
            &[],
        );
    };
    let resp = match send(gw, &up, fwd).await {
        Ok(r) => r,
        Err(why) => {
            debug!(%why, "LLM upstream failed");
            return provider_error(
                &provider,
                StatusCode::BAD_GATEWAY,
                &format!("warden: {why}"),
                &[],
            );
        }
    };
    let (mut parts, body) = resp.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    let ctype = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let mut recorder = Recorder {
        observer: Some(observe::Observer::new(&ctype)),
        action: Some(action),
        who,
        decider: Arc::clone(decider),
        status: parts.status.as_u16(),
    };
    let body = body
        .map_frame(move |frame| {
            if let Some(d) = frame.data_ref()
                && let Some(o) = recorder.observer.as_mut()
            {
                o.feed(d);
            }
            frame
        })
        .boxed();
    Response::from_parts(parts, body)
}

async fn send(
    gw: &Gateway,
    up: &Upstream,
    req: Request<Full<Bytes>>,
) -> Result<Response<Incoming>, String> {
    let stream = TcpStream::connect((up.host.as_str(), up.port))
        .await
        .map_err(|e| format!("cannot reach {}: {e}", up.authority()))?;
    let _ = stream.set_nodelay(true);
    if up.tls {
        let name = rustls::pki_types::ServerName::try_from(up.host.clone())
            .map_err(|e| format!("{} is not a TLS server name: {e}", up.host))?;
        let tls = gw
            .tls
            .connect(name, stream)
            .await
            .map_err(|e| format!("TLS with {} failed: {e}", up.authority()))?;
        exchange(TokioIo::new(tls), req, up).await
    } else {
        exchange(TokioIo::new(stream), req, up).await
    }
}

async fn exchange<IO>(
    io: IO,
    req: Request<Full<Bytes>>,
    up: &Upstream,
) -> Result<Response<Incoming>, String>
where
    IO: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| format!("{}: {e}", up.authority()))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    sender
        .send_request(req)
        .await
        .map_err(|e| format!("{}: {e}", up.authority()))
}

/// Records what the model said once the response body is done (or the
/// client went away): the tool calls, tokens and status.
struct Recorder {
    observer: Option<observe::Observer>,
    action: Option<Action>,
    who: Client,
    decider: Arc<dyn Decider>,
    status: u16,
}

impl Drop for Recorder {
    fn drop(&mut self) {
        let (Some(o), Some(mut action)) = (self.observer.take(), self.action.take()) else {
            return;
        };
        let seen = o.finish();
        let extra = &mut action.context.get_or_insert_with(Default::default).extra;
        extra.insert("response_status".into(), self.status.to_string());
        if !seen.tool_uses.is_empty() {
            let uses: Vec<String> = seen
                .tool_uses
                .iter()
                .map(|(id, name)| format!("{name}:{id}"))
                .collect();
            extra.insert("tool_uses".into(), uses.join(", "));
        }
        for (k, v) in [
            ("input_tokens", seen.input_tokens),
            ("output_tokens", seen.output_tokens),
        ] {
            if let Some(v) = v {
                extra.insert(k.into(), v.to_string());
            }
        }
        if let Some(r) = seen.stop_reason {
            extra.insert("stop_reason".into(), r);
        }
        let (decider, who) = (Arc::clone(&self.decider), self.who.clone());
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                let _ = decider
                    .record(action, &who, "llm:response", Decision::Allow)
                    .await;
            });
        }
    }
}

/// 429 for a client past its request rate (the forward proxy answers its
/// own clients the same way).
pub(crate) fn rate_limited(rate: u32) -> Response<Body> {
    let mut r = provider_error(
        "",
        StatusCode::TOO_MANY_REQUESTS,
        &format!("warden: more than {rate} requests per second from this agent; slow down"),
        &[],
    );
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    r
}

/// An error body in the provider's own shape, so the agent shows the reason
/// rather than retrying.
fn provider_error(
    provider: &str,
    status: StatusCode,
    message: &str,
    rules: &[String],
) -> Response<Body> {
    let v = if provider == "anthropic" {
        json!({"type": "error", "error": {"type": "permission_error", "message": message}})
    } else {
        json!({"error": {"message": message, "type": "permission_error", "code": "warden_blocked"}})
    };
    let mut r = Response::new(
        Full::new(Bytes::from(v.to_string()))
            .map_err(|n| match n {})
            .boxed(),
    );
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if status == StatusCode::FORBIDDEN {
        r.headers_mut()
            .insert("x-warden-decision", HeaderValue::from_static("deny"));
    }
    if let Ok(v) = HeaderValue::from_str(&rules.join(", "))
        && !rules.is_empty()
    {
        r.headers_mut().insert("x-warden-rule", v);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstreams_are_read() {
        let (n, u) = parse_upstream("Ollama=http://127.0.0.1:11434/").unwrap();
        assert_eq!(n, "ollama");
        assert_eq!(
            (u.tls, u.host.as_str(), u.port, u.base.as_str()),
            (false, "127.0.0.1", 11434, "")
        );
        let (_, u) = parse_upstream("x=https://gw.example.com/v2/api").unwrap();
        assert_eq!((u.tls, u.port, u.base.as_str()), (true, 443, "/v2/api"));
        assert!(parse_upstream("x").is_err());
        assert!(parse_upstream("a b=http://x").is_err());
        assert!(parse_upstream("x=ftp://h/").is_err());
    }
}
