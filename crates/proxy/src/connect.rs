//! SSRF-safe connect: a name is resolved once, every address it resolved to
//! goes to the policy (which refuses loopback, private, link-local, metadata
//! and other non-public classes unless a rule names the host), and the proxy
//! then connects to exactly those addresses. There is no second resolution
//! between the check and the connect, so DNS rebinding has nothing to race.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::time::Duration;

use tokio::net::TcpStream;
use warden_policy::net::{self, Host};

/// Why no connection was made (answered 502/504 to the client).
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The name could not be resolved.
    #[error("cannot resolve {host}: {source}")]
    Resolve {
        /// The name.
        host: String,
        /// The resolver's error.
        source: io::Error,
    },
    /// The name resolved to nothing.
    #[error("{host} resolved to no address")]
    NoAddress {
        /// The name.
        host: String,
    },
    /// Resolution or connect took too long.
    #[error("{what} {host}:{port} took longer than {} ms", timeout.as_millis())]
    Timeout {
        /// `resolving` or `connecting to`.
        what: &'static str,
        /// The host.
        host: String,
        /// The port.
        port: u16,
        /// The limit.
        timeout: Duration,
    },
    /// Every address refused the connection.
    #[error("cannot connect to {host}:{port}: {source}")]
    Connect {
        /// The host.
        host: String,
        /// The port.
        port: u16,
        /// The last error.
        source: io::Error,
    },
}

/// A name service. The daemon uses the system's; names pinned with
/// `--proxy-resolve` (tests, split-horizon setups) come first.
pub trait Resolver: Send + Sync + 'static {
    /// The addresses of `name` (already normalised: lowercase, IDNA).
    fn lookup<'a>(
        &'a self,
        name: &'a str,
    ) -> Pin<Box<dyn Future<Output = io::Result<Vec<IpAddr>>> + Send + 'a>>;
}

/// The system resolver (getaddrinfo on a blocking thread), with pinned names.
#[derive(Debug, Default, Clone)]
pub struct SystemResolver {
    pins: HashMap<String, Vec<IpAddr>>,
}

impl SystemResolver {
    /// A resolver that answers `pins` itself and asks the system otherwise.
    pub fn with_pins(pins: impl IntoIterator<Item = (String, Vec<IpAddr>)>) -> SystemResolver {
        SystemResolver {
            pins: pins.into_iter().collect(),
        }
    }
}

impl Resolver for SystemResolver {
    fn lookup<'a>(
        &'a self,
        name: &'a str,
    ) -> Pin<Box<dyn Future<Output = io::Result<Vec<IpAddr>>> + Send + 'a>> {
        Box::pin(async move {
            if let Some(p) = self.pins.get(name) {
                return Ok(p.clone());
            }
            let mut out: Vec<IpAddr> = Vec::new();
            for a in tokio::net::lookup_host((name, 0)).await? {
                if !out.contains(&a.ip()) {
                    out.push(a.ip());
                }
            }
            Ok(out)
        })
    }
}

/// Reads a pin as `NAME=ADDR[,ADDR...]` (the name is normalised like any host).
pub fn parse_pin(s: &str) -> Result<(String, Vec<IpAddr>), String> {
    let (name, addrs) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?} is not NAME=ADDRESS[,ADDRESS...]"))?;
    let name = match net::parse_host(name) {
        Ok(Host::Name(n)) => n,
        Ok(Host::Ip(_)) => return Err(format!("{name:?} is an address, not a name")),
        Err(e) => return Err(e.to_string()),
    };
    let addrs = addrs
        .split(',')
        .map(|a| {
            a.trim()
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<IpAddr>()
                .map_err(|_| format!("{a:?} in {s:?} is not an IP address"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((name, addrs))
}

/// Every address `host` stands for: itself for a literal, else what the
/// resolver says, within `timeout`.
pub async fn resolve(
    resolver: &dyn Resolver,
    host: &Host,
    port: u16,
    timeout: Duration,
) -> Result<Vec<IpAddr>, ConnectError> {
    let name = match host {
        Host::Ip(ip) => return Ok(vec![*ip]),
        Host::Name(n) => n,
    };
    let addrs = tokio::time::timeout(timeout, resolver.lookup(name))
        .await
        .map_err(|_| ConnectError::Timeout {
            what: "resolving",
            host: name.clone(),
            port,
            timeout,
        })?
        .map_err(|source| ConnectError::Resolve {
            host: name.clone(),
            source,
        })?;
    if addrs.is_empty() {
        return Err(ConnectError::NoAddress { host: name.clone() });
    }
    Ok(addrs)
}

/// Connects to the first of `addrs` (the checked ones, in order) that answers.
pub async fn connect(
    host: &Host,
    addrs: &[IpAddr],
    port: u16,
    timeout: Duration,
) -> Result<TcpStream, ConnectError> {
    let attempt = async {
        let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
        for ip in addrs {
            match TcpStream::connect(SocketAddr::new(*ip, port)).await {
                Ok(s) => {
                    let _ = s.set_nodelay(true);
                    return Ok(s);
                }
                Err(e) => last = e,
            }
        }
        Err(ConnectError::Connect {
            host: host.to_string(),
            port,
            source: last,
        })
    };
    tokio::time::timeout(timeout, attempt)
        .await
        .map_err(|_| ConnectError::Timeout {
            what: "connecting to",
            host: host.to_string(),
            port,
            timeout,
        })?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_are_read_and_normalised() {
        let (n, a) = parse_pin("Upstream.Test=127.0.0.1,[::1]").unwrap();
        assert_eq!(n, "upstream.test");
        assert_eq!(
            a,
            vec![
                "127.0.0.1".parse::<IpAddr>().unwrap(),
                "::1".parse().unwrap()
            ]
        );
        assert!(parse_pin("x").is_err());
        assert!(parse_pin("1.2.3.4=5.6.7.8").is_err());
        assert!(parse_pin("a=not-an-ip").is_err());
    }

    #[tokio::test]
    async fn a_pinned_name_resolves_without_dns_and_literals_to_themselves() {
        let r = SystemResolver::with_pins([(
            "rebind.test".into(),
            vec!["169.254.169.254".parse().unwrap()],
        )]);
        let t = Duration::from_secs(1);
        let got = resolve(&r, &Host::Name("rebind.test".into()), 80, t)
            .await
            .unwrap();
        assert_eq!(got, vec!["169.254.169.254".parse::<IpAddr>().unwrap()]);
        let ip: IpAddr = "10.1.2.3".parse().unwrap();
        assert_eq!(resolve(&r, &Host::Ip(ip), 80, t).await.unwrap(), vec![ip]);
    }
}
