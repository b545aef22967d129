//! The SOCKS5 handshake (RFC 1928, username/password from RFC 1929), for tools
//! that speak SOCKS rather than HTTP CONNECT (`ALL_PROXY=socks5h://…`, ssh's
//! ProxyCommand helpers, some language runtimes). Only `CONNECT` is served:
//! `BIND` and `UDP ASSOCIATE` would open paths the policy cannot see, and are
//! answered "command not supported".
//!
//! The parsers are pure functions over the bytes read so far: `Ok(None)` asks
//! for more, so the caller decides how long to wait and how much to buffer.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The most bytes any handshake message can take (a request with a 255-byte
/// name is 262); a client that sends more before finishing is refused.
pub const MAX_MESSAGE: usize = 600;

/// Authentication methods.
pub const NO_AUTH: u8 = 0x00;
/// Username/password (RFC 1929): the password carries a session secret.
pub const USER_PASS: u8 = 0x02;
/// "No acceptable methods".
pub const NO_METHOD: u8 = 0xff;

/// Reply codes (RFC 1928 §6).
pub mod reply {
    /// Succeeded.
    pub const OK: u8 = 0x00;
    /// General failure.
    pub const FAILURE: u8 = 0x01;
    /// Connection not allowed by ruleset.
    pub const NOT_ALLOWED: u8 = 0x02;
    /// Host unreachable.
    pub const HOST_UNREACHABLE: u8 = 0x04;
    /// Connection refused.
    pub const REFUSED: u8 = 0x05;
    /// Command not supported.
    pub const COMMAND: u8 = 0x07;
    /// Address type not supported.
    pub const ADDRESS_TYPE: u8 = 0x08;
}

/// A malformed handshake.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SocksError {
    /// Not SOCKS version 5.
    #[error("SOCKS version {0} is not supported (only 5)")]
    Version(u8),
    /// A greeting that offers no methods.
    #[error("the SOCKS greeting offers no authentication method")]
    NoMethods,
    /// A reserved byte that is not zero, or an unknown address type.
    #[error("malformed SOCKS request: {0}")]
    Malformed(&'static str),
    /// A command other than CONNECT (BIND = 2, UDP ASSOCIATE = 3).
    #[error("SOCKS command {0} is not supported (only CONNECT)")]
    Command(u8),
    /// The domain name is not UTF-8 or empty.
    #[error("the SOCKS domain name is empty or not UTF-8")]
    Name,
}

impl SocksError {
    /// The reply code a client is sent for this error.
    pub fn reply_code(&self) -> u8 {
        match self {
            SocksError::Command(_) => reply::COMMAND,
            SocksError::Malformed("address type") => reply::ADDRESS_TYPE,
            _ => reply::FAILURE,
        }
    }
}

/// Where a SOCKS client asks to connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SocksHost {
    /// An address.
    Ip(IpAddr),
    /// A name, resolved by the proxy (`socks5h`).
    Name(String),
}

/// A CONNECT request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocksRequest {
    /// The host.
    pub host: SocksHost,
    /// The port.
    pub port: u16,
}

/// What a parser makes of the bytes so far: `None` = needs more; else the
/// message and how many bytes it took.
pub type Parsed<T> = Result<Option<(T, usize)>, SocksError>;

/// The greeting: the methods the client offers, and the bytes it took.
pub fn parse_greeting(buf: &[u8]) -> Parsed<Vec<u8>> {
    let [ver, n, ..] = *buf else {
        return match buf.first() {
            Some(&v) if v != 5 => Err(SocksError::Version(v)),
            _ => Ok(None),
        };
    };
    if ver != 5 {
        return Err(SocksError::Version(ver));
    }
    if n == 0 {
        return Err(SocksError::NoMethods);
    }
    let end = 2 + n as usize;
    Ok(buf.get(2..end).map(|m| (m.to_vec(), end)))
}

/// The username/password sub-negotiation: `(user, password)` and the bytes it took.
pub fn parse_user_pass(buf: &[u8]) -> Parsed<(String, String)> {
    let Some(&ver) = buf.first() else {
        return Ok(None);
    };
    if ver != 1 {
        return Err(SocksError::Malformed("username/password version is not 1"));
    }
    let Some(&ulen) = buf.get(1) else {
        return Ok(None);
    };
    let u_end = 2 + ulen as usize;
    let Some(&plen) = buf.get(u_end) else {
        return Ok(None);
    };
    let p_end = u_end + 1 + plen as usize;
    if buf.len() < p_end {
        return Ok(None);
    }
    let user = String::from_utf8_lossy(&buf[2..u_end]).into_owned();
    let pass = String::from_utf8_lossy(&buf[u_end + 1..p_end]).into_owned();
    Ok(Some(((user, pass), p_end)))
}

/// The request: where to connect, and the bytes it took.
pub fn parse_request(buf: &[u8]) -> Parsed<SocksRequest> {
    if buf.len() < 4 {
        if let Some(&v) = buf.first()
            && v != 5
        {
            return Err(SocksError::Version(v));
        }
        return Ok(None);
    }
    let (ver, cmd, rsv, atyp) = (buf[0], buf[1], buf[2], buf[3]);
    if ver != 5 {
        return Err(SocksError::Version(ver));
    }
    if rsv != 0 {
        return Err(SocksError::Malformed("reserved byte is not zero"));
    }
    let (host, at) = match atyp {
        1 => match buf.get(4..8) {
            Some(b) => (
                SocksHost::Ip(Ipv4Addr::new(b[0], b[1], b[2], b[3]).into()),
                8,
            ),
            None => return Ok(None),
        },
        4 => match buf.get(4..20) {
            Some(b) => {
                let mut o = [0u8; 16];
                o.copy_from_slice(b);
                (SocksHost::Ip(Ipv6Addr::from(o).into()), 20)
            }
            None => return Ok(None),
        },
        3 => {
            let Some(&len) = buf.get(4) else {
                return Ok(None);
            };
            let end = 5 + len as usize;
            let Some(name) = buf.get(5..end) else {
                return Ok(None);
            };
            let name = std::str::from_utf8(name).map_err(|_| SocksError::Name)?;
            if name.is_empty() {
                return Err(SocksError::Name);
            }
            (SocksHost::Name(name.to_string()), end)
        }
        _ => return Err(SocksError::Malformed("address type")),
    };
    let Some(p) = buf.get(at..at + 2) else {
        return Ok(None);
    };
    // The command is checked last so that a complete BIND is told apart from
    // a truncated one.
    if cmd != 1 {
        return Err(SocksError::Command(cmd));
    }
    Ok(Some((
        SocksRequest {
            host,
            port: u16::from_be_bytes([p[0], p[1]]),
        },
        at + 2,
    )))
}

/// A reply with the zero address as the bound address (clients ignore it).
pub fn reply_bytes(code: u8) -> [u8; 10] {
    [5, code, 0, 1, 0, 0, 0, 0, 0, 0]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_whole_handshake_is_read() {
        assert_eq!(
            parse_greeting(&[5, 2, 0, 2]).unwrap(),
            Some((vec![0, 2], 4))
        );
        assert_eq!(parse_greeting(&[5, 2, 0]).unwrap(), None);
        assert_eq!(parse_greeting(&[4, 1]), Err(SocksError::Version(4)));
        assert_eq!(parse_greeting(&[5, 0]), Err(SocksError::NoMethods));
        let mut req = vec![5, 1, 0, 3, 11];
        req.extend_from_slice(b"example.com");
        req.extend_from_slice(&443u16.to_be_bytes());
        let (r, n) = parse_request(&req).unwrap().unwrap();
        assert_eq!(
            (r.host, r.port, n),
            (SocksHost::Name("example.com".into()), 443, req.len())
        );
        assert_eq!(parse_request(&req[..req.len() - 1]).unwrap(), None);
        let r = parse_request(&[5, 1, 0, 1, 127, 0, 0, 1, 0, 22])
            .unwrap()
            .unwrap()
            .0;
        assert_eq!(r.host, SocksHost::Ip("127.0.0.1".parse().unwrap()));
        assert_eq!(
            parse_request(&[5, 3, 0, 1, 0, 0, 0, 0, 0, 0]),
            Err(SocksError::Command(3))
        );
        assert_eq!(
            parse_request(&[5, 1, 0, 9, 0, 0]).unwrap_err().reply_code(),
            reply::ADDRESS_TYPE
        );
        let up = [1, 1, b'u', 3, b'a', b'b', b'c'];
        assert_eq!(
            parse_user_pass(&up).unwrap(),
            Some((("u".into(), "abc".into()), 7))
        );
        assert_eq!(parse_user_pass(&up[..6]).unwrap(), None);
    }

    proptest! {
        /// No input panics; a parsed message never claims more bytes than given,
        /// and a prefix of a complete message asks for more rather than failing.
        #[test]
        fn parsers_are_total(buf in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Ok(Some((_, n))) = parse_greeting(&buf) { prop_assert!(n <= buf.len()); }
            if let Ok(Some((_, n))) = parse_user_pass(&buf) { prop_assert!(n <= buf.len()); }
            if let Ok(Some((_, n))) = parse_request(&buf) {
                prop_assert!(n <= buf.len());
                for cut in 0..n {
                    prop_assert_eq!(parse_request(&buf[..cut]).ok(), Some(None));
                }
            }
        }
    }
}
