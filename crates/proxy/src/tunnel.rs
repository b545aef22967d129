//! Tunnels: a `CONNECT` after its `200`, or a SOCKS5 `CONNECT` after its
//! handshake. Bytes are relayed unchanged; the client's first TLS record is
//! held until its server name (if it names another host) is decided.

use std::net::IpAddr;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tracing::debug;

use crate::sni::{self, Sni};
use crate::socks::{self, SocksError, SocksHost, reply};
use crate::{Client, Destination, Proxy, Refusal, Request, connect, target};

/// A ClientHello larger than this is not waited for (then the CONNECT host
/// alone decides).
const MAX_HELLO: usize = 16 * 1024 + 5;

/// Relays `client` ⇄ `upstream` until both sides are done, in one task: the
/// two directions share no lock and no wake-up crosses a thread, which is what
/// a small request and its answer cost most through a tunnel.
pub(crate) async fn relay<C>(
    proxy: Arc<Proxy>,
    who: Client,
    dest: Destination,
    addrs: Vec<IpAddr>,
    mut client: C,
    mut upstream: TcpStream,
) where
    C: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    // Until the client's first TLS record is decided its bytes are held;
    // the server's go on at once (server-first protocols such as SSH and
    // SMTP speak before the client).
    let mut first = Vec::with_capacity(2048);
    let mut chunk = [0u8; 4096];
    let mut down = vec![0u8; 8192];
    let mut client_done = false;
    let mut upstream_done = false;
    loop {
        tokio::select! {
            r = client.read(&mut chunk) => {
                let n = match r {
                    Ok(0) | Err(_) => {
                        client_done = true;
                        break;
                    }
                    Ok(n) => n,
                };
                first.extend_from_slice(&chunk[..n]);
                match sni::server_name(&first) {
                    Sni::NeedMore if first.len() < MAX_HELLO => continue,
                    Sni::Name(name) => {
                        if let Err(r) = proxy.judge_server_name(&who, &dest, &name, &addrs).await {
                            debug!(?r, host = %dest.host, sni = %name, "tunnel closed: TLS server name refused");
                            return;
                        }
                        break;
                    }
                    _ => break,
                }
            }
            r = upstream.read(&mut down), if !upstream_done => match r {
                Ok(0) | Err(_) => {
                    upstream_done = true;
                    let _ = client.shutdown().await;
                }
                Ok(n) => {
                    if client.write_all(&down[..n]).await.is_err() {
                        return;
                    }
                }
            },
        }
    }
    if upstream.write_all(&first).await.is_err() {
        return;
    }
    match (client_done, upstream_done) {
        (false, false) => {
            let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
        }
        (true, false) => {
            let _ = upstream.shutdown().await;
            let _ = tokio::io::copy(&mut upstream, &mut client).await;
            let _ = client.shutdown().await;
        }
        (false, true) => {
            let _ = tokio::io::copy(&mut client, &mut upstream).await;
            let _ = upstream.shutdown().await;
        }
        (true, true) => {
            let _ = upstream.shutdown().await;
        }
    }
}

/// Serves one SOCKS5 connection whose first byte was `0x05`.
pub(crate) async fn serve_socks<S>(proxy: Arc<Proxy>, who: Client, mut s: S)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let timeout = proxy.settings().header_timeout;
    let handshake = async {
        let mut buf = Vec::new();
        let methods = read_msg(&mut s, &mut buf, socks::parse_greeting).await?;
        let who = if methods.contains(&socks::USER_PASS) {
            s.write_all(&[5, socks::USER_PASS])
                .await
                .map_err(|_| None)?;
            let (_, pass) = read_msg(&mut s, &mut buf, socks::parse_user_pass).await?;
            s.write_all(&[1, 0]).await.map_err(|_| None)?;
            who.with_secret(Some(pass))
        } else if methods.contains(&socks::NO_AUTH) {
            s.write_all(&[5, socks::NO_AUTH]).await.map_err(|_| None)?;
            who
        } else {
            let _ = s.write_all(&[5, socks::NO_METHOD]).await;
            return Err(None);
        };
        let req = read_msg(&mut s, &mut buf, socks::parse_request).await?;
        Ok::<_, Option<SocksError>>((who, req, buf))
    };
    let (who, req, rest) = match tokio::time::timeout(timeout, handshake).await {
        Ok(Ok(x)) => x,
        Ok(Err(Some(e))) => {
            debug!(error = %e, "SOCKS5 handshake refused");
            let _ = s.write_all(&socks::reply_bytes(e.reply_code())).await;
            return;
        }
        Ok(Err(None)) | Err(_) => return,
    };
    let authority = match &req.host {
        SocksHost::Ip(IpAddr::V6(ip)) => format!("[{ip}]:{}", req.port),
        SocksHost::Ip(ip) => format!("{ip}:{}", req.port),
        SocksHost::Name(n) => format!("{n}:{}", req.port),
    };
    let dest = match target::connect_target(&authority) {
        Ok(d) => d,
        Err(e) => {
            debug!(error = %e, "SOCKS5 target refused");
            let _ = s
                .write_all(&socks::reply_bytes(reply::HOST_UNREACHABLE))
                .await;
            return;
        }
    };
    if proxy.admit(&who).is_err() {
        let _ = s.write_all(&socks::reply_bytes(reply::NOT_ALLOWED)).await;
        return;
    }
    let r = Request {
        via: "socks5",
        ..Request::default()
    };
    let addrs = match proxy.judge(&who, &dest, &r).await {
        Ok(a) => a,
        Err(refusal) => {
            let code = match refusal {
                Refusal::Denied(_) => reply::NOT_ALLOWED,
                _ => reply::HOST_UNREACHABLE,
            };
            let _ = s.write_all(&socks::reply_bytes(code)).await;
            return;
        }
    };
    let t = proxy.settings().connect_timeout;
    let upstream = match connect::connect(&dest.host, &addrs, dest.port, t).await {
        Ok(u) => u,
        Err(_) => {
            let _ = s.write_all(&socks::reply_bytes(reply::REFUSED)).await;
            return;
        }
    };
    if s.write_all(&socks::reply_bytes(reply::OK)).await.is_err() {
        return;
    }
    let client = crate::io::Prefixed::new(rest, s);
    relay(proxy, who, dest, addrs, client, upstream).await;
}

/// Reads until `parse` has a whole message; what follows it stays in `buf`.
async fn read_msg<S, T>(
    s: &mut S,
    buf: &mut Vec<u8>,
    parse: fn(&[u8]) -> socks::Parsed<T>,
) -> Result<T, Option<SocksError>>
where
    S: AsyncRead + Unpin,
{
    loop {
        if let Some((msg, used)) = parse(buf).map_err(Some)? {
            buf.drain(..used);
            return Ok(msg);
        }
        if buf.len() >= socks::MAX_MESSAGE {
            return Err(Some(SocksError::Malformed("message too long")));
        }
        let mut chunk = [0u8; 512];
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return Err(None),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}
