//! The server name a TLS client asks for (SNI), read from its first record.
//!
//! A CONNECT is decided by the host it names; the TLS inside can name another
//! (domain fronting: `CONNECT allowed.example:443`, then a ClientHello for a
//! host the policy denies, served by the same CDN). The proxy reads the SNI
//! before relaying the first byte and has a differing name decided too. TLS is
//! never terminated: the bytes pass through unchanged.

/// What the first bytes of a tunnel say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sni {
    /// Not enough bytes yet to tell.
    NeedMore,
    /// Not a TLS handshake (plain TCP through the tunnel).
    NotTls,
    /// A ClientHello without a server name, or one that does not fit in the
    /// first record (then the CONNECT host alone decides).
    Absent,
    /// The requested server name, lowercase.
    Name(String),
}

/// Reads the SNI of the ClientHello at the start of `buf`.
pub fn server_name(buf: &[u8]) -> Sni {
    if buf.len() < 5 {
        return if buf.first().is_some_and(|&b| b != 0x16) {
            Sni::NotTls
        } else {
            Sni::NeedMore
        };
    }
    if buf[0] != 0x16 || buf[1] != 3 {
        return Sni::NotTls;
    }
    let len = u16::from_be_bytes([buf[3], buf[4]]) as usize;
    let Some(record) = buf.get(5..5 + len) else {
        return if len > 16_384 + 2048 {
            Sni::NotTls
        } else {
            Sni::NeedMore
        };
    };
    match client_hello(record) {
        Some(Some(name)) => Sni::Name(name),
        Some(None) | None => Sni::Absent,
    }
}

/// `None`: not a (complete, first-record) ClientHello; `Some(None)`: no SNI.
fn client_hello(r: &[u8]) -> Option<Option<String>> {
    let mut c = Cursor(r);
    if c.u8()? != 1 {
        return None;
    }
    let body_len = c.u24()?;
    let mut c = Cursor(c.take(body_len)?);
    c.take(2 + 32)?; // version, random
    let sid = c.u8()? as usize;
    c.take(sid)?;
    let suites = c.u16()? as usize;
    c.take(suites)?;
    let comp = c.u8()? as usize;
    c.take(comp)?;
    if c.0.is_empty() {
        return Some(None);
    }
    let ext_len = c.u16()? as usize;
    let mut exts = Cursor(c.take(ext_len)?);
    while !exts.0.is_empty() {
        let ty = exts.u16()?;
        let len = exts.u16()? as usize;
        let data = exts.take(len)?;
        if ty != 0 {
            continue;
        }
        let mut d = Cursor(data);
        let list = d.u16()? as usize;
        let mut l = Cursor(d.take(list)?);
        while !l.0.is_empty() {
            let kind = l.u8()?;
            let n = l.u16()? as usize;
            let name = l.take(n)?;
            if kind == 0 {
                let s = std::str::from_utf8(name).ok()?;
                return Some(Some(s.to_ascii_lowercase()));
            }
        }
        return Some(None);
    }
    Some(None)
}

struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }
    fn u24(&mut self) -> Option<usize> {
        self.take(3)
            .map(|b| (b[0] as usize) << 16 | (b[1] as usize) << 8 | b[2] as usize)
    }
}

/// A minimal TLS ClientHello record naming `name`: only as much as SNI needs
/// (tests and probes of the fronting check use it; no server would accept it).
pub fn minimal_client_hello(name: &str) -> Vec<u8> {
    let n = name.as_bytes();
    let mut sni = Vec::new();
    sni.extend_from_slice(&((n.len() + 3) as u16).to_be_bytes());
    sni.push(0);
    sni.extend_from_slice(&(n.len() as u16).to_be_bytes());
    sni.extend_from_slice(n);
    let mut exts = vec![0, 0];
    exts.extend_from_slice(&(sni.len() as u16).to_be_bytes());
    exts.extend_from_slice(&sni);
    let mut body = vec![3, 3];
    body.extend_from_slice(&[7; 32]);
    body.push(0);
    body.extend_from_slice(&[0, 2, 0x13, 0x01, 1, 0]);
    body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
    body.extend_from_slice(&exts);
    let mut hs = vec![1, 0];
    hs.extend_from_slice(&(body.len() as u16).to_be_bytes());
    hs.extend_from_slice(&body);
    let mut rec = vec![0x16, 3, 1];
    rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
    rec.extend_from_slice(&hs);
    rec
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_the_server_name() {
        let h = minimal_client_hello("Example.COM");
        assert_eq!(server_name(&h), Sni::Name("example.com".into()));
        assert_eq!(server_name(&h[..h.len() - 1]), Sni::NeedMore);
        assert_eq!(server_name(b"SSH-2.0-OpenSSH"), Sni::NotTls);
        assert_eq!(server_name(b"\x16\x03"), Sni::NeedMore);
    }

    proptest! {
        #[test]
        fn never_panics(buf in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = server_name(&buf);
        }

        #[test]
        fn any_name_round_trips(name in "[a-z0-9.-]{1,60}") {
            prop_assert_eq!(server_name(&minimal_client_hello(&name)), Sni::Name(name));
        }
    }
}
