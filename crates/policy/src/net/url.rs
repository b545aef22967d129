//! URL parsing that sees every host a URL parser might connect to.
//!
//! Parsers disagree on where the authority of a URL ends and which `@` starts the
//! host, and SSRF filters are bypassed by feeding them a URL the filter splits one
//! way and the HTTP client another (Orange Tsai, "A New Era of SSRF: Exploiting URL
//! Parsers in Trending Programming Languages", 2017; CVE-2016-8624 in curl,
//! CVE-2018-3774 in url-parse, CVE-2019-9636 in Python's urlsplit):
//!
//! - `http://127.0.0.1\@evil.com/`: WHATWG parsers (browsers, Node) end the
//!   authority at `\`; RFC 3986 parsers (curl, Go, Python) read user-info
//!   `127.0.0.1\` and host `evil.com`;
//! - `http://evil.com#@127.0.0.1/`, `http://evil.com?@127.0.0.1/`: lax parsers end the
//!   authority at the first `/` only;
//! - `http://evil.com%2f@127.0.0.1/`: parsers that decode before splitting;
//! - `http:/\/127.0.0.1`, `http:127.0.0.1`: WHATWG skips any run of slashes and
//!   backslashes after a special scheme.
//!
//! [`parse_url`] reads the authority as the WHATWG standard does, then as each of
//! these families does; if any reading that yields a valid host yields another
//! host or port, the URL is ambiguous and refused. Readings that yield no valid
//! host are ignored: a client reading the URL that way cannot connect anywhere.

use percent_encoding::percent_decode_str;
use serde::Serialize;

use super::class::AddressClass;
use super::host::{Host, classify_host, parse_host};
use super::{NetError, excerpt};

/// Where a URL points, as the caller should judge it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Target {
    /// The scheme, lowercase (`http`, `https`, `file`, `gopher`...). Callers deny
    /// anything but `http`/`https` unless a rule says otherwise.
    pub scheme: String,
    /// The host every parser agrees on, normalised.
    pub host: Host,
    /// The explicit port, else the scheme's default, else 0 (no port: `file:` and
    /// schemes we do not know; nothing can be reached at port 0).
    pub port: u16,
    /// Path and query as written (no fragment); may be empty.
    pub path: String,
    /// Whether the URL had a `user@` part (credentials, or an attempt to disguise
    /// the host as in `http://trusted.com@evil.com/`).
    pub userinfo: bool,
}

impl Target {
    /// Whether the scheme is `http` or `https`.
    pub fn is_web(&self) -> bool {
        self.scheme == "http" || self.scheme == "https"
    }

    /// [`classify_host`] of the host.
    pub fn class(&self) -> Option<AddressClass> {
        classify_host(&self.host)
    }
}

/// Default ports of the schemes agents or SSRF payloads use.
const DEFAULT_PORTS: &[(&str, u16)] = &[
    ("http", 80),
    ("https", 443),
    ("ws", 80),
    ("wss", 443),
    ("ftp", 21),
    ("ftps", 990),
    ("sftp", 22),
    ("ssh", 22),
    ("telnet", 23),
    ("smtp", 25),
    ("tftp", 69),
    ("gopher", 70),
    ("pop3", 110),
    ("nntp", 119),
    ("imap", 143),
    ("ldap", 389),
    ("ldaps", 636),
    ("smb", 445),
    ("rtsp", 554),
    ("imaps", 993),
    ("pop3s", 995),
    ("mysql", 3306),
    ("dict", 2628),
    ("postgres", 5432),
    ("postgresql", 5432),
    ("redis", 6379),
    ("rediss", 6379),
    ("irc", 6667),
    ("git", 9418),
    ("memcached", 11211),
    ("mongodb", 27017),
];

/// The default port of a scheme (case-insensitive), if it has a well-known one.
pub fn default_port(scheme: &str) -> Option<u16> {
    DEFAULT_PORTS
        .iter()
        .find(|(s, _)| s.eq_ignore_ascii_case(scheme))
        .map(|&(_, port)| port)
}

/// WHATWG "special" schemes with a network host (file is handled on its own).
const SPECIAL: &[&str] = &["http", "https", "ws", "wss", "ftp"];

/// How one family of URL parsers finds the authority after `scheme:`.
struct Model {
    /// Any run of `/` and `\` may precede the authority (WHATWG, special schemes);
    /// otherwise exactly `//` must.
    lenient_slashes: bool,
    /// Bytes that end the authority.
    terminators: &'static [u8],
    /// Percent-decode the rest of the URL before splitting it.
    decode_first: bool,
}

/// WHATWG URL standard, special schemes: browsers, Node's `URL` and `fetch`.
const WHATWG_SPECIAL: Model = Model {
    lenient_slashes: true,
    terminators: b"/\\?#",
    decode_first: false,
};

/// RFC 3986: curl, Go's net/url, Python's urllib, Java's URI; WHATWG for
/// non-special schemes.
const RFC3986: Model = Model {
    lenient_slashes: false,
    terminators: b"/?#",
    decode_first: false,
};

/// Other readings a client might make, checked against the primary one.
const OTHER_MODELS: &[Model] = &[
    RFC3986,
    // RFC 3986 splitting after WHATWG's slash skipping (`http:/\/host`).
    Model {
        lenient_slashes: true,
        terminators: b"/?#",
        decode_first: false,
    },
    WHATWG_SPECIAL,
    // Lax parsers that end the authority only at `/` (PHP's parse_url before 7,
    // hand-written splitters): `http://evil.com#@127.0.0.1/`.
    Model {
        lenient_slashes: true,
        terminators: b"/",
        decode_first: false,
    },
    // Clients that percent-decode the whole URL before parsing it.
    Model {
        lenient_slashes: true,
        terminators: b"/\\?#",
        decode_first: true,
    },
];

/// The authority of a URL under one model.
struct Split<'a> {
    userinfo: Option<&'a str>,
    hostport: &'a str,
    /// Byte offset (in the text split) where the path starts.
    path_start: usize,
}

fn split<'a>(rest: &'a str, model: &Model) -> Option<Split<'a>> {
    let (body, skipped) = if model.lenient_slashes {
        let body = rest.trim_start_matches(['/', '\\']);
        (body, rest.len() - body.len())
    } else {
        (rest.strip_prefix("//")?, 2)
    };
    let end = body
        .bytes()
        .position(|b| model.terminators.contains(&b))
        .unwrap_or(body.len());
    let authority = &body[..end];
    // The last `@` starts the host, as in WHATWG, Python and Go (curl takes the
    // first; the user-info check below refuses any second `@`).
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((userinfo, hostport)) => (Some(userinfo), hostport),
        None => (None, authority),
    };
    Some(Split {
        userinfo,
        hostport,
        path_start: skipped + end,
    })
}

/// Parses a URL into the [`Target`] every URL parser would connect to.
///
/// Surrounding whitespace and C0 controls are trimmed (WHATWG and Python do);
/// controls inside the URL are refused. Fails when the host is missing, invalid
/// in every notation, or read differently by different parser families.
///
/// # Errors
///
/// [`NetError::ControlChar`], [`NetError::MissingScheme`], [`NetError::NoAuthority`],
/// [`NetError::InvalidUserinfo`], [`NetError::InvalidPort`],
/// [`NetError::AmbiguousHost`], or any error of [`parse_host`] on the host.
pub fn parse_url(input: &str) -> Result<Target, NetError> {
    let url = input.trim_matches(|c: char| c <= ' ');
    // WHATWG silently drops tabs and newlines inside a URL; Go and curl refuse
    // them; older Python sent them on the wire (CRLF injection into Redis and
    // memcached, CVE-2019-9740, CVE-2019-9947). No single reading: refuse.
    if url.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return Err(NetError::ControlChar {
            input: excerpt(input),
        });
    }
    let Some((scheme, rest)) = url.split_once(':').filter(|(s, _)| is_scheme(s)) else {
        return Err(NetError::MissingScheme {
            input: excerpt(input),
        });
    };
    let scheme = scheme.to_ascii_lowercase();
    if scheme == "file" {
        return parse_file(scheme, rest, url);
    }
    let primary = if SPECIAL.contains(&scheme.as_str()) {
        &WHATWG_SPECIAL
    } else {
        &RFC3986
    };
    let first = split(rest, primary).ok_or_else(|| NetError::NoAuthority {
        input: excerpt(url),
    })?;
    if let Some(userinfo) = first.userinfo {
        // Only RFC 3986 user-info characters: a second `@`, a space, `[`, `\`...
        // are where parsers part ways (`http://1.1.1.1 &@2.2.2.2# @3.3.3.3/`).
        if !userinfo.bytes().all(is_userinfo_byte) {
            return Err(NetError::InvalidUserinfo {
                input: excerpt(url),
            });
        }
    }
    let (host, port) = parse_hostport(first.hostport, &scheme, url)?;

    // Lossy: a stray `%ff` in the path must not switch this reading off.
    let decoded = rest
        .contains('%')
        .then(|| percent_decode_str(rest).decode_utf8_lossy());
    for model in OTHER_MODELS {
        let text: &str = match (&decoded, model.decode_first) {
            (_, false) => rest,
            (Some(decoded), true) => decoded,
            (None, true) => continue,
        };
        let Some(other) = split(text, model) else {
            continue;
        };
        if other.hostport == first.hostport {
            continue;
        }
        let Ok((other_host, other_port)) = parse_hostport(other.hostport, &scheme, url) else {
            continue;
        };
        if other_host != host || other_port != port {
            return Err(NetError::AmbiguousHost {
                input: excerpt(url),
                first: format!("{host}:{port}"),
                second: format!("{other_host}:{other_port}"),
            });
        }
    }

    let after = &rest[first.path_start..];
    let path = after.split_once('#').map_or(after, |(path, _)| path);
    Ok(Target {
        scheme,
        host,
        port,
        path: path.to_string(),
        userinfo: first.userinfo.is_some(),
    })
}

/// `file:` URLs: an empty host is the local machine, which is what the URL reads
/// from; classed loopback so that a caller that forgets the scheme still denies.
fn parse_file(scheme: String, rest: &str, url: &str) -> Result<Target, NetError> {
    let has_authority = rest.len() >= 2 && rest.bytes().take(2).all(|b| b == b'/' || b == b'\\');
    let (host_text, path_start) = if has_authority {
        let body = &rest[2..];
        let end = body
            .bytes()
            .position(|b| matches!(b, b'/' | b'\\' | b'?' | b'#'))
            .unwrap_or(body.len());
        (&body[..end], 2 + end)
    } else {
        ("", 0)
    };
    if host_text.contains('@') {
        return Err(NetError::InvalidUserinfo {
            input: excerpt(url),
        });
    }
    let host = if host_text.is_empty() {
        Host::Name("localhost".to_string())
    } else {
        parse_host(host_text)?
    };
    let after = &rest[path_start..];
    let path = after.split_once('#').map_or(after, |(path, _)| path);
    Ok(Target {
        scheme,
        host,
        port: 0,
        path: path.to_string(),
        userinfo: false,
    })
}

/// `host[:port]` or `[v6]:port` into a host and the effective port.
fn parse_hostport(hostport: &str, scheme: &str, url: &str) -> Result<(Host, u16), NetError> {
    let (host_text, port_text) = if hostport.starts_with('[') {
        let Some(close) = hostport.find(']') else {
            return Err(NetError::InvalidIpv6 {
                input: excerpt(hostport),
            });
        };
        let (host, after) = hostport.split_at(close + 1);
        match after {
            "" => (host, None),
            _ => match after.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None => {
                    return Err(NetError::InvalidIpv6 {
                        input: excerpt(hostport),
                    });
                }
            },
        }
    } else {
        match hostport.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (hostport, None),
        }
    };
    if host_text.is_empty() {
        return Err(NetError::EmptyHost {
            input: excerpt(url),
        });
    }
    let host = parse_host(host_text)?;
    let port = match port_text {
        None | Some("") => default_port(scheme).unwrap_or(0),
        Some(text) => parse_port(text).ok_or_else(|| NetError::InvalidPort {
            input: excerpt(url),
        })?,
    };
    Ok((host, port))
}

/// A decimal port, leading zeros allowed (WHATWG: `:00080` is 80), at most 65535.
fn parse_port(text: &str) -> Option<u16> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits = text.trim_start_matches('0');
    if digits.is_empty() {
        return Some(0);
    }
    if digits.len() > 5 {
        return None;
    }
    digits.parse().ok()
}

/// RFC 3986 scheme: a letter, then letters, digits, `+`, `-`, `.`.
fn is_scheme(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

/// RFC 3986 user-info: unreserved, percent-encoded, sub-delims and `:`.
fn is_userinfo_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~%!$&'()*+,;=:".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr};

    fn lo() -> Host {
        Host::Ip(IpAddr::V4(Ipv4Addr::LOCALHOST))
    }

    fn ok(url: &str) -> Target {
        parse_url(url).unwrap_or_else(|e| panic!("{url:?}: {e}"))
    }

    #[test]
    fn plain_urls() {
        let t = ok("HTTPS://User:pw@Example.COM:8443/a/b?q=1#frag");
        assert_eq!(t.scheme, "https");
        assert_eq!(t.host, Host::Name("example.com".into()));
        assert_eq!(t.port, 8443);
        assert_eq!(t.path, "/a/b?q=1");
        assert!(t.userinfo);
        let t = ok("http://example.com");
        assert_eq!((t.port, t.path.as_str(), t.userinfo), (80, "", false));
        assert_eq!(ok("https://example.com:/x").port, 443);
        assert_eq!(ok("http://example.com:00080").port, 80);
        assert_eq!(ok("http://[::1]:8080/").host, parse_host("::1").unwrap());
        assert_eq!(ok("https://example.com/?q=a@b").path, "/?q=a@b");
        assert_eq!(
            ok(" \t\nhttp://example.com/ \n").host,
            Host::Name("example.com".into())
        );
    }

    #[test]
    fn userinfo_does_not_hide_the_host() {
        for url in [
            "http://a@127.0.0.1",
            "http://evil.com@127.0.0.1/",
            "http://evil.com:80@127.0.0.1",
            "http://user%40mail.com:pw@127.0.0.1/",
            "http://@127.0.0.1",
        ] {
            let t = ok(url);
            assert_eq!(t.host, lo(), "{url}");
            assert!(t.userinfo, "{url}");
        }
    }

    #[test]
    fn backslash_and_slash_variants() {
        for url in [
            "http:/\\/127.0.0.1/",
            "http:\\\\127.0.0.1",
            "http:127.0.0.1",
            "http:///127.0.0.1",
            "http://127.0.0.1\\x",
        ] {
            assert_eq!(ok(url).host, lo(), "{url}");
        }
    }

    #[test]
    fn parser_disagreements_are_refused() {
        for url in [
            "http://127.0.0.1\\@evil.com/",
            "http://evil.com\\@127.0.0.1/",
            "http://evil.com#@127.0.0.1/",
            "http://evil.com?@127.0.0.1/",
            "http://evil.com%2f@127.0.0.1/",
            "http://evil.com%3f@127.0.0.1/",
            "http://127.0.0.1:80\\@evil.com/",
            "http://127.0.0.1%2f@evil.com/%ff",
        ] {
            assert!(
                matches!(parse_url(url), Err(NetError::AmbiguousHost { .. })),
                "{url:?} -> {:?}",
                parse_url(url)
            );
        }
    }

    #[test]
    fn at_sign_in_a_query_right_after_the_host_is_ambiguous() {
        // A lax parser reads host `b.com` here; with a `/` before the query every
        // parser agrees. Refusing costs a rare legitimate URL, accepting would let
        // `http://allowed.com?@evil.com` past a domain rule.
        assert!(parse_url("https://example.com?mail=a@b.com").is_err());
        assert_eq!(
            ok("https://example.com/?mail=a@b.com").host,
            Host::Name("example.com".into())
        );
        assert_eq!(ok("https://example.com?q=1#x").path, "?q=1");
    }

    #[test]
    fn malformed_urls_are_errors() {
        for url in [
            "",
            "127.0.0.1",
            "//127.0.0.1/",
            "127.0.0.1:80/x",
            "localhost:00011211aaaa",
            "http://",
            "http:///",
            "http://:80/",
            "http://user@/",
            "http://#@127.0.0.1",
            "http://?@127.0.0.1",
            "http://a@b@127.0.0.1/",
            "http://1.1.1.1 &@2.2.2.2# @3.3.3.3/",
            "http://[::1]@evil.com/",
            "http://127.0.0.1:65536/",
            "http://127.0.0.1:-1/",
            "http://127.0.0.1:8o/",
            "http://127.0.0.1:80:80/",
            "http://127.0.0.1:１２/",
            "http://127.0.0.\n1/",
            "http://evil.com\n@127.0.0.1/",
            "http://127.0.0.1\t/",
            "http://exa\u{0}mple.com/",
            "http://exa\u{7f}mple.com/",
            "http://[::1/",
            "http://[::1]x/",
            "http://1.2.3.4.5/",
            "http://425.510.425.510/",
            "http://0x41414141A9FEA9FE/",
            "mailto:root@127.0.0.1",
            "jar:ftp://127.0.0.1!/",
            "netdoc:///etc/passwd",
            "ｈttp://127.0.0.1/",
            "gopher://127.0.0.1\\@evil.com/",
        ] {
            assert!(parse_url(url).is_err(), "{url:?} -> {:?}", parse_url(url));
        }
    }

    #[test]
    fn other_schemes_are_exposed() {
        let t = ok("gopher://127.0.0.1:6379/_save");
        assert_eq!((t.scheme.as_str(), t.port, t.host), ("gopher", 6379, lo()));
        assert_eq!(ok("dict://127.0.0.1/stat").port, 2628);
        assert_eq!(ok("LDAP://127.0.0.1").scheme, "ldap");
        assert_eq!(ok("x-custom+v1://example.com/").port, 0);
        assert!(!ok("ftp://example.com/").is_web());
        let f = ok("file:///etc/passwd");
        assert_eq!(
            (f.scheme.as_str(), f.path.as_str()),
            ("file", "/etc/passwd")
        );
        assert_eq!(f.class(), Some(AddressClass::Loopback));
        assert_eq!(ok("file://127.0.0.1/etc/passwd").host, lo());
        assert_eq!(ok("file:/etc/passwd").path, "/etc/passwd");
    }

    #[test]
    fn hosts_in_any_notation() {
        for url in [
            "http://2130706433/",
            "http://0177.0.0.1/",
            "http://0x7f.1/",
            "http://127.1:80/",
            "http://①②⑦.⓪.⓪.①/",
            "http://127%2e0%2e0%2e1/",
            "https://127。0。0。1/",
        ] {
            assert_eq!(ok(url).host, lo(), "{url}");
        }
        assert_eq!(
            ok("http://ⓛⓞⓒⓐⓛⓗⓞⓢⓣ/").class(),
            Some(AddressClass::Loopback)
        );
        assert_eq!(
            ok("http://[::ffff:7f00:1]/").class(),
            Some(AddressClass::Loopback)
        );
        assert_eq!(
            ok("http://[fe80::1%25eth0]/").class(),
            Some(AddressClass::LinkLocal)
        );
        assert_eq!(
            ok("http://[fd00:ec2::254]/").class(),
            Some(AddressClass::Metadata)
        );
    }

    #[test]
    fn default_ports() {
        assert_eq!(default_port("http"), Some(80));
        assert_eq!(default_port("HTTPS"), Some(443));
        assert_eq!(default_port("gopher"), Some(70));
        assert_eq!(default_port("file"), None);
        assert_eq!(default_port("nope"), None);
    }

    #[test]
    fn huge_inputs_do_not_hurt() {
        let long = format!("http://{}/", "a".repeat(1 << 20));
        assert!(matches!(
            parse_url(&long),
            Err(NetError::HostTooLong { .. })
        ));
        let long_path = format!("http://example.com/{}", "x".repeat(1 << 20));
        assert_eq!(ok(&long_path).path.len(), (1 << 20) + 1);
        assert!(parse_url(&"@".repeat(1 << 20)).is_err());
    }
}
