//! Where a proxy request wants to go, read from the request line.
//!
//! A forward proxy is told its destination by the client: the authority of a
//! `CONNECT` (`host:port`) or the absolute URL of a plain HTTP request. Both are
//! agent-controlled, so they are read with the policy crate's parsers, the same
//! ones the governor judges with: the host the proxy connects to is, byte for
//! byte, the host the policy decided about.

use warden_policy::net::{self, Host, NetError};

/// Why a request target was refused (answered 400; the proxy keeps serving).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// The host part could not be read unambiguously.
    #[error("{0}")]
    Host(#[from] NetError),
    /// `CONNECT` needs `host:port`.
    #[error("CONNECT target {0:?} is not host:port")]
    NotAuthority(String),
    /// The port is not a number from 1 to 65535.
    #[error("invalid port in {0:?}")]
    Port(String),
    /// A plain request without a scheme and host: a client that does not know
    /// it talks to a proxy.
    #[error(
        "{0:?} is not a proxy request: send absolute-form requests (GET http://host/path) or CONNECT host:port"
    )]
    OriginForm(String),
    /// The scheme cannot be proxied as plain HTTP.
    #[error("the {scheme}: scheme cannot be proxied here{hint}")]
    Scheme {
        /// The scheme.
        scheme: String,
        /// What to do instead.
        hint: &'static str,
    },
    /// Credentials in the URL.
    #[error("{0:?} carries credentials in the URL; send them in a header")]
    UserInfo(String),
}

/// A checked destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// `http`, `ws` (plain requests) or `tunnel` (CONNECT, SOCKS5).
    pub scheme: String,
    /// The host, normalised.
    pub host: Host,
    /// The port.
    pub port: u16,
    /// Path and query to send upstream (plain requests only).
    pub path: String,
}

impl Destination {
    /// `host:port` as it goes in a Host header or a log line.
    pub fn authority(&self) -> String {
        match net::default_port(&self.scheme) {
            Some(p) if p == self.port => self.host.to_string(),
            _ => format!("{}:{}", self.host, self.port),
        }
    }
}

/// Reads a `CONNECT` target: `name:port`, `v4:port` or `[v6]:port`.
pub fn connect_target(authority: &str) -> Result<Destination, TargetError> {
    let (host, port) = authority
        .rsplit_once(':')
        .ok_or_else(|| TargetError::NotAuthority(excerpt(authority)))?;
    if host.is_empty() || host.contains(['/', '@', '?', '#']) {
        return Err(TargetError::NotAuthority(excerpt(authority)));
    }
    // A bare IPv6 address without brackets is ambiguous (which colon starts
    // the port?): refused rather than guessed.
    if host.contains(':') && !(host.starts_with('[') && host.ends_with(']')) {
        return Err(TargetError::NotAuthority(excerpt(authority)));
    }
    let port = parse_port(port).ok_or_else(|| TargetError::Port(excerpt(authority)))?;
    Ok(Destination {
        scheme: "tunnel".into(),
        host: net::parse_host(host)?,
        port,
        path: String::new(),
    })
}

/// Reads the absolute URL of a plain HTTP proxy request.
pub fn absolute_target(uri: &str) -> Result<Destination, TargetError> {
    if uri.starts_with('/') || uri == "*" {
        return Err(TargetError::OriginForm(excerpt(uri)));
    }
    let t = net::parse_url(uri)?;
    match t.scheme.as_str() {
        "http" | "ws" => {}
        "https" | "wss" => {
            return Err(TargetError::Scheme {
                scheme: t.scheme,
                hint: " (TLS is not terminated by the proxy): use CONNECT, as HTTPS_PROXY clients do",
            });
        }
        _ => {
            return Err(TargetError::Scheme {
                scheme: t.scheme,
                hint: "",
            });
        }
    }
    if t.userinfo {
        return Err(TargetError::UserInfo(excerpt(uri)));
    }
    if t.port == 0 {
        return Err(TargetError::Port(excerpt(uri)));
    }
    let path = if t.path.is_empty() {
        "/".to_string()
    } else if t.path.starts_with('/') {
        t.path
    } else {
        format!("/{}", t.path)
    };
    Ok(Destination {
        scheme: t.scheme,
        host: t.host,
        port: t.port,
        path,
    })
}

fn parse_port(s: &str) -> Option<u16> {
    if s.is_empty() || s.len() > 5 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok().filter(|&p| p != 0)
}

pub(crate) fn excerpt(s: &str) -> String {
    const MAX: usize = 256;
    if s.len() <= MAX {
        return s.to_string();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn connect_targets() {
        let d = connect_target("Example.COM:443").unwrap();
        assert_eq!((d.host.to_string().as_str(), d.port), ("example.com", 443));
        let d = connect_target("[::1]:8443").unwrap();
        assert_eq!(d.host.to_string(), "[::1]");
        assert_eq!(
            connect_target("0x7f.1:22").unwrap().host.to_string(),
            "127.0.0.1"
        );
        for bad in [
            "example.com",
            "::1:443",
            ":443",
            "a:0",
            "a:65536",
            "a:+1",
            "u@a:1",
            "a/b:1",
        ] {
            assert!(connect_target(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn absolute_targets() {
        let d = absolute_target("http://Example.com/a?b=1").unwrap();
        assert_eq!(
            (d.scheme.as_str(), d.port, d.path.as_str()),
            ("http", 80, "/a?b=1")
        );
        assert_eq!(d.authority(), "example.com");
        let d = absolute_target("http://[::ffff:7f00:1]:8080").unwrap();
        assert_eq!(
            (d.path.as_str(), d.authority().as_str()),
            ("/", "[::ffff:127.0.0.1]:8080")
        );
        assert!(matches!(
            absolute_target("/index.html"),
            Err(TargetError::OriginForm(_))
        ));
        assert!(matches!(
            absolute_target("https://x/"),
            Err(TargetError::Scheme { .. })
        ));
        assert!(matches!(
            absolute_target("gopher://x/"),
            Err(TargetError::Scheme { .. })
        ));
        assert!(matches!(
            absolute_target("http://a@b/"),
            Err(TargetError::UserInfo(_))
        ));
    }

    proptest! {
        /// Whatever the input, reading it never panics, and a target that is
        /// read names a host the policy's parser reads back the same.
        #[test]
        fn targets_never_panic_and_round_trip(s in ".{0,80}") {
            for d in [connect_target(&s), absolute_target(&s)].into_iter().flatten() {
                prop_assert!(d.port != 0);
                let again = net::parse_host(&d.host.to_string()).unwrap();
                prop_assert_eq!(again, d.host);
            }
        }
    }
}
