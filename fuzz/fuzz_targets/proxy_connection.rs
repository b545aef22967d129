//! A whole proxy connection fed arbitrary bytes (HTTP request heads, CONNECT,
//! SOCKS5): the proxy must answer or close, never panic or hang. The decider
//! denies everything, so nothing is resolved or connected.
#![no_main]

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use warden_proxy::{Client, Decider, Proxy, Settings, SystemResolver};
use warden_types::{Action, Decision, Verdict};

struct DenyAll;

impl Decider for DenyAll {
    fn decide<'a>(
        &'a self,
        _action: Action,
        _client: &'a Client,
    ) -> Pin<Box<dyn Future<Output = Verdict> + Send + 'a>> {
        Box::pin(async { Verdict::malformed("the fuzz decider denies everything") })
    }

    fn check(&self, _action: Action, _client: &Client) -> Verdict {
        Verdict::malformed("the fuzz decider denies everything")
    }

    fn record<'a>(
        &'a self,
        _action: Action,
        _client: &'a Client,
        _rule: &'a str,
        _decision: Decision,
    ) -> Pin<Box<dyn Future<Output = Verdict> + Send + 'a>> {
        Box::pin(async { Verdict::malformed("the fuzz decider records nothing") })
    }
}

fuzz_target!(|data: &[u8]| {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let proxy = Arc::new(Proxy::new(
            Arc::new(DenyAll),
            Arc::new(SystemResolver::default()),
            Settings {
                header_timeout: Duration::from_millis(200),
                ..Settings::default()
            },
        ));
        let (mut ours, theirs) = tokio::io::duplex(1 << 16);
        let client = Client::Unix {
            uid: 0,
            pid: None,
            secret: None,
        };
        let served = tokio::spawn(warden_proxy::serve_connection(proxy, client, theirs));
        let _ = ours.write_all(data).await;
        let _ = ours.shutdown().await;
        let mut sink = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(2), ours.read_to_end(&mut sink)).await;
        let _ = tokio::time::timeout(Duration::from_secs(2), served).await;
    });
});
