//! The LLM gateway's upstream side over real TLS: a loopback HTTPS server with
//! a certificate from a test CA plays the provider. The gateway trusts it only
//! when given the CA, and streams its Server-Sent Events through unchanged.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use warden_proxy::llm::{DlpMode, Gateway, Upstream};
use warden_proxy::{Client, Decider, Proxy, Settings, SystemResolver};
use warden_types::{Action, Decision, Verdict};

const EVENTS: &str = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":3}}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";

/// Allows every request and keeps what it was asked and told to record (the
/// governor's part is tested end to end in the CLI tests).
#[derive(Default)]
struct Recording(Mutex<Vec<(String, Action)>>);

impl Decider for Recording {
    fn decide<'a>(
        &'a self,
        action: Action,
        _client: &'a Client,
    ) -> Pin<Box<dyn Future<Output = Verdict> + Send + 'a>> {
        self.0.lock().unwrap().push(("decide".into(), action));
        Box::pin(async {
            let mut v = Verdict::malformed("allowed by the test");
            v.decision = Decision::Allow;
            v
        })
    }

    fn check(&self, _action: Action, _client: &Client) -> Verdict {
        let mut v = Verdict::malformed("allowed by the test");
        v.decision = Decision::Allow;
        v
    }

    fn record<'a>(
        &'a self,
        action: Action,
        _client: &'a Client,
        rule: &'a str,
        _decision: Decision,
    ) -> Pin<Box<dyn Future<Output = Verdict> + Send + 'a>> {
        self.0.lock().unwrap().push((rule.to_string(), action));
        Box::pin(async { Verdict::malformed("recorded") })
    }
}

/// A CA, and a server certificate for 127.0.0.1 signed by it: (CA PEM,
/// server certificate chain, server key).
fn test_pki() -> (
    String,
    Vec<rustls::pki_types::CertificateDer<'static>>,
    rustls::pki_types::PrivateKeyDer<'static>,
) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&key, &ca_cert, &ca_key)
        .unwrap();
    let der = rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der()).unwrap();
    (ca_cert.pem(), vec![cert.der().clone()], der)
}

async fn tls_provider() -> (u16, String) {
    let (ca, chain, key) = test_pki();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(s).await else {
                    return;
                };
                let svc = hyper::service::service_fn(
                    |req: hyper::Request<hyper::body::Incoming>| async move {
                        let path = req.uri().path().to_string();
                        let mut r =
                            hyper::Response::new(http_body_util::Full::new(Bytes::from(EVENTS)));
                        r.headers_mut()
                            .insert("content-type", "text/event-stream".parse().unwrap());
                        r.headers_mut()
                            .insert("x-upstream-path", path.parse().unwrap());
                        Ok::<_, std::convert::Infallible>(r)
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), svc)
                    .await;
            });
        }
    });
    (port, ca)
}

async fn through(gateway: Gateway, decider: Arc<Recording>) -> String {
    let proxy = Arc::new(
        Proxy::new(
            decider,
            Arc::new(SystemResolver::default()),
            Settings::default(),
        )
        .with_llm(gateway),
    );
    let (mut ours, theirs) = tokio::io::duplex(1 << 16);
    let client = Client::Unix {
        uid: 0,
        pid: None,
        secret: None,
    };
    tokio::spawn(warden_proxy::serve_connection(proxy, client, theirs));
    let body = r#"{"model":"claude-test","stream":true,"messages":[]}"#;
    let req = format!(
        "POST /llm/anthropic/v1/messages HTTP/1.1\r\nHost: x\r\ncontent-length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    ours.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    ours.read_to_end(&mut out).await.unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn the_provider_is_reached_over_tls_only_with_a_trusted_certificate() {
    let (port, ca) = tls_provider().await;
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca).unwrap();
    let upstream = || {
        vec![(
            "anthropic".to_string(),
            Upstream {
                tls: true,
                host: "127.0.0.1".into(),
                port,
                base: String::new(),
            },
        )]
    };
    let decider = Arc::new(Recording::default());
    let gw = Gateway::new(upstream(), DlpMode::Deny, &[ca_file]).unwrap();
    let resp = through(gw, Arc::clone(&decider)).await;
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert!(resp.contains("x-upstream-path: /v1/messages"), "{resp}");
    assert!(resp.ends_with(EVENTS), "the stream changed: {resp}");
    // Decided first, then recorded with what the model said.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let seen = decider.0.lock().unwrap().clone();
    assert_eq!(seen[0].0, "decide");
    let (rule, after) = seen.last().unwrap();
    assert_eq!(rule, "llm:response");
    let extra = &after.context.as_ref().unwrap().extra;
    assert_eq!(
        extra.get("input_tokens").map(String::as_str),
        Some("3"),
        "{extra:?}"
    );
    // Without the CA the certificate is not trusted: 502, nothing sent.
    let gw = Gateway::new(upstream(), DlpMode::Deny, &[]).unwrap();
    let resp = through(gw, Arc::new(Recording::default())).await;
    assert!(resp.starts_with("HTTP/1.1 502"), "{resp}");
    assert!(resp.contains("TLS"), "{resp}");
}
