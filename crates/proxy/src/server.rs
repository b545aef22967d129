//! Accept loops: loopback TCP and the Unix socket, with a bound on the
//! connections served at once.

use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::{Semaphore, watch};
use tracing::{debug, warn};

use crate::{Client, Proxy, http, io::Prefixed, tunnel};

/// Serves `listener` until `stop` turns true.
pub async fn serve_tcp(proxy: Arc<Proxy>, listener: TcpListener, mut stop: watch::Receiver<bool>) {
    let slots = Arc::new(Semaphore::new(proxy.settings().max_connections));
    loop {
        let Ok(permit) = Arc::clone(&slots).acquire_owned().await else {
            return;
        };
        let (stream, addr) = tokio::select! {
            a = listener.accept() => match a {
                Ok(a) => a,
                Err(e) => {
                    warn!(error = %e, "proxy accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop.changed() => return,
        };
        let _ = stream.set_nodelay(true);
        let proxy = Arc::clone(&proxy);
        tokio::spawn(async move {
            let client = Client::Tcp {
                addr,
                local: stream.local_addr().ok(),
                secret: None,
            };
            serve_connection(proxy, client, stream).await;
            drop(permit);
        });
    }
}

/// Serves `listener` until `stop` turns true; clients are known by `SO_PEERCRED`.
pub async fn serve_unix(
    proxy: Arc<Proxy>,
    listener: UnixListener,
    mut stop: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(proxy.settings().max_connections));
    loop {
        let Ok(permit) = Arc::clone(&slots).acquire_owned().await else {
            return;
        };
        let stream = tokio::select! {
            a = listener.accept() => match a {
                Ok((s, _)) => s,
                Err(e) => {
                    warn!(error = %e, "proxy accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop.changed() => return,
        };
        let Ok(cred) = stream.peer_cred() else {
            // No kernel identity, no service.
            continue;
        };
        let client = Client::Unix {
            uid: cred.uid(),
            pid: cred.pid().and_then(|p| u32::try_from(p).ok()),
            secret: None,
        };
        let proxy = Arc::clone(&proxy);
        tokio::spawn(async move {
            serve_connection(proxy, client, stream).await;
            drop(permit);
        });
    }
}

/// Serves one client connection (HTTP or SOCKS5, told apart by the first
/// byte) until it ends. The accept loops use it; so does the fuzz target.
pub async fn serve_connection<S>(proxy: Arc<Proxy>, client: Client, mut s: S)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut first = [0u8; 1];
    let timeout = proxy.settings().header_timeout;
    match tokio::time::timeout(timeout, s.read(&mut first)).await {
        Ok(Ok(1)) => {}
        _ => {
            debug!("proxy client sent nothing");
            return;
        }
    }
    let s = Prefixed::new(first.to_vec(), s);
    if first[0] == 5 {
        tunnel::serve_socks(proxy, client, s).await;
    } else {
        http::serve(proxy, client, s).await;
    }
}
