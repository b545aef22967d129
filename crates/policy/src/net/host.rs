//! One canonical [`Host`] for every spelling of a host.
//!
//! A filter that compares host strings loses to any spelling the resolver folds
//! and the filter does not: `LOCALHOST.`, `ⓛⓞⓒⓐⓛⓗⓞⓢⓣ` (enclosed alphanumerics),
//! `①②⑦.⓪.⓪.①`, `127。0。0。1` (ideographic full stops), `%6c%6fcalhost`
//! (percent-encoding), `0x7f.1` (inet_aton). [`parse_host`] applies what browsers
//! and IDNA-aware clients apply (percent-decoding, NFKC, UTS 46 ToASCII) and then
//! WHATWG's rule that a host ending in a number is IPv4, so the result is what a
//! resolver would be asked for, and an IP literal in any notation becomes
//! [`Host::Ip`]. Whatever cannot be read that way is an error, never a guess.

use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use idna::uts46::{AsciiDenyList, DnsLength, Hyphens, Uts46};
use percent_encoding::percent_decode_str;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use unicode_normalization::UnicodeNormalization;

use super::class::{AddressClass, classify_ip};
use super::ip::{ends_in_number, parse_ipv4, parse_ipv6};
use super::names::classify_name;
use super::{NetError, excerpt};

/// The longest host text we process (before decoding and folding). A DNS name
/// has at most 253 octets; this leaves room for percent-encoded Unicode labels
/// while bounding the work an agent can make us do.
const MAX_HOST_INPUT: usize = 4096;
/// RFC 1035 limits, on the ASCII (punycode) form.
const MAX_NAME: usize = 253;
const MAX_LABEL: usize = 63;

/// ASCII allowed in a name: letters, digits, `-`, `.`, and `_` (used by real
/// names such as `_dmarc` or some CDN hosts). Everything else is refused, even
/// where WHATWG would allow it (`!`, `$`, `*`...): no resolvable name holds them.
const DENY: AsciiDenyList = AsciiDenyList::new(true, "!\"#$%&'()*+,/:;<=>?@[\\]^`{|}~");

/// A host as a resolver sees it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// An IP literal, in whatever notation it was written.
    Ip(IpAddr),
    /// A DNS name: lowercase ASCII (IDNA punycode for Unicode labels), NFKC-folded,
    /// no trailing dot, labels of `a-z 0-9 - _`.
    Name(String),
}

impl Host {
    /// The IP address, for an IP literal.
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            Host::Ip(ip) => Some(*ip),
            Host::Name(_) => None,
        }
    }

    /// The name, for a DNS name.
    pub fn name(&self) -> Option<&str> {
        match self {
            Host::Ip(_) => None,
            Host::Name(name) => Some(name),
        }
    }

    /// [`classify_host`] of this host.
    pub fn class(&self) -> Option<AddressClass> {
        classify_host(self)
    }
}

/// Writes the canonical form: a name as is, IPv4 dotted, IPv6 compressed in
/// brackets, so that rules can glob-match it and [`parse_host`] reads it back.
impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Ip(IpAddr::V4(ip)) => write!(f, "{ip}"),
            Host::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
            Host::Name(name) => f.write_str(name),
        }
    }
}

impl FromStr for Host {
    type Err = NetError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_host(s)
    }
}

impl Serialize for Host {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Host {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_host(&s).map_err(serde::de::Error::custom)
    }
}

/// The class of a host when it is known without DNS: always for IP literals; for
/// names such as `localhost`, `*.localhost`, `metadata.google.internal`, names under
/// special-use or private-use domains, single-label names and wildcard-DNS names
/// that spell an address (`10.0.0.1.nip.io`). `None` when only DNS can tell, and
/// never `Some(Public)` for a name.
pub fn classify_host(host: &Host) -> Option<AddressClass> {
    match host {
        Host::Ip(ip) => Some(classify_ip(*ip)),
        Host::Name(name) => classify_name(name),
    }
}

/// Parses a bare host: a name, an IPv4 address in any inet_aton/WHATWG notation,
/// or an IPv6 address with or without brackets and zone id. Percent-encoding is
/// decoded once, Unicode is NFKC-folded and IDNA-mapped, one trailing dot dropped.
///
/// # Errors
///
/// Any [`NetError`] about hosts: empty, too long, an invalid IPv4 or IPv6 literal,
/// a host ending in a number that is no IPv4 address, bad percent-encoding, or a
/// name that fails IDNA or DNS syntax.
pub fn parse_host(input: &str) -> Result<Host, NetError> {
    if input.is_empty() {
        return Err(NetError::EmptyHost {
            input: String::new(),
        });
    }
    if input.len() > MAX_HOST_INPUT {
        return Err(NetError::HostTooLong {
            input: excerpt(input),
        });
    }
    if let Some(inner) = input.strip_prefix('[') {
        return inner
            .strip_suffix(']')
            .and_then(parse_ipv6)
            .map(|ip| Host::Ip(IpAddr::V6(ip)))
            .ok_or_else(|| NetError::InvalidIpv6 {
                input: excerpt(input),
            });
    }
    if input.contains(':') {
        return parse_ipv6(input)
            .map(|ip| Host::Ip(IpAddr::V6(ip)))
            .ok_or_else(|| NetError::InvalidIpv6 {
                input: excerpt(input),
            });
    }
    if is_plain_ascii(input) {
        // Common case: ASCII letters, digits, `-._` and no punycode. UTS 46 maps
        // these to their lowercase and nothing else, so skip it.
        return finish_name(input, input);
    }
    finish_name(&fold_unicode(input)?, input)
}

/// Whether UTS 46 processing of `input` would only lowercase it.
fn is_plain_ascii(input: &str) -> bool {
    input
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
        && !input.split('.').any(|label| {
            label
                .get(..4)
                .is_some_and(|p| p.eq_ignore_ascii_case("xn--"))
        })
}

/// Percent-decoding, NFKC and UTS 46 ToASCII: what a browser, or curl built with
/// libidn2, does to a host before resolving it.
fn fold_unicode(input: &str) -> Result<String, NetError> {
    let bad_percent = || NetError::InvalidPercentEncoding {
        input: excerpt(input),
    };
    let decoded: Cow<'_, [u8]> = percent_decode_str(input).into();
    let decoded = std::str::from_utf8(&decoded).map_err(|_| bad_percent())?;
    // A `%` left after one decoding (`%252e`) means double encoding: some clients
    // decode again, some do not, so the host is ambiguous.
    if decoded.contains('%') {
        return Err(bad_percent());
    }
    let mut folded = String::with_capacity(decoded.len());
    for c in decoded.nfkc() {
        if folded.len() >= MAX_HOST_INPUT {
            // NFKC can expand a character up to 18-fold (U+FDFA).
            return Err(NetError::HostTooLong {
                input: excerpt(input),
            });
        }
        // Ideographic and halfwidth full stops separate labels in UTS 46, as in
        // browsers (`127。0。0。1`); NFKC has already turned U+FF0E into `.`.
        folded.push(if matches!(c, '\u{3002}' | '\u{ff61}') {
            '.'
        } else {
            c
        });
    }
    Uts46::new()
        .to_ascii(folded.as_bytes(), DENY, Hyphens::Allow, DnsLength::Ignore)
        .map(Cow::into_owned)
        .map_err(|_| NetError::InvalidHost {
            input: excerpt(input),
            reason: "not a valid IDNA (UTS 46) domain name",
        })
}

/// Finishes a folded ASCII host (case not yet folded): drops one trailing dot,
/// turns a host that ends in a number into IPv4 (or an error), checks the DNS
/// name shape, and only then allocates the lowercase name.
fn finish_name(name: &str, input: &str) -> Result<Host, NetError> {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() {
        return Err(NetError::EmptyHost {
            input: excerpt(input),
        });
    }
    if ends_in_number(name) {
        return parse_ipv4(name)
            .map(|ip| Host::Ip(IpAddr::V4(ip)))
            .ok_or_else(|| NetError::InvalidIpv4 {
                input: excerpt(input),
            });
    }
    let invalid = |reason| NetError::InvalidHost {
        input: excerpt(input),
        reason,
    };
    if name.len() > MAX_NAME {
        return Err(invalid("longer than 253 characters"));
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err(invalid("empty label"));
        }
        if label.len() > MAX_LABEL {
            return Err(invalid("label longer than 63 characters"));
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
        {
            return Err(invalid("character not allowed in a host name"));
        }
    }
    Ok(Host::Name(name.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn name(s: &str) -> Host {
        Host::Name(s.to_string())
    }

    fn v4(a: u8, b: u8, c: u8, d: u8) -> Host {
        Host::Ip(IpAddr::V4(Ipv4Addr::new(a, b, c, d)))
    }

    #[test]
    fn names_fold_to_what_the_resolver_sees() {
        for (input, want) in [
            ("example.com", "example.com"),
            ("EXAMPLE.Com.", "example.com"),
            ("ⓛⓞⓒⓐⓛⓗⓞⓢⓣ", "localhost"),
            ("ＬＯＣＡＬＨＯＳＴ", "localhost"),
            ("%6c%6f%63alhost", "localhost"),
            ("local\u{200b}host", "localhost"),
            ("loc\u{ad}alhost", "localhost"),
            ("münchen.de", "xn--mnchen-3ya.de"),
            ("xn--mnchen-3ya.de", "xn--mnchen-3ya.de"),
            ("m%C3%BCnchen.de", "xn--mnchen-3ya.de"),
            ("a_b.example", "a_b.example"),
            ("exa\u{ff0e}mple。com", "exa.mple.com"),
        ] {
            assert_eq!(parse_host(input), Ok(name(want)), "{input}");
        }
    }

    #[test]
    fn ip_literals_in_any_notation_become_ips() {
        for input in [
            "127.0.0.1",
            "127.1",
            "0x7f.1",
            "2130706433",
            "0177.0.0.1",
            "127.0.0.1.",
            "①②⑦.⓪.⓪.①",
            "127。0。0。1",
            "１２７．０．０．１",
            "127%2e0%2e0%2e1",
            "0X7F.1",
        ] {
            assert_eq!(parse_host(input), Ok(v4(127, 0, 0, 1)), "{input}");
        }
        let lo6 = Host::Ip(IpAddr::V6(Ipv6Addr::LOCALHOST));
        for input in ["[::1]", "::1", "[0:0::1]", "[::1%25lo]", "::1%lo"] {
            assert_eq!(parse_host(input), Ok(lo6.clone()), "{input}");
        }
    }

    #[test]
    fn refuses_what_it_cannot_read_unambiguously() {
        for input in [
            "",
            ".",
            "a..b",
            "..",
            "1.2.3.4.5",
            "256.1.1.1",
            "0o177.0.0.1",
            "a.08",
            "%252e",
            "%ff",
            "evil.com%2f@127.0.0.1",
            "a b",
            "a\u{0}b",
            "ex\u{ff0f}ample.com",
            "evil.com\u{ff20}127.0.0.1",
            "[127.0.0.1]",
            "[::1",
            "host:80",
            "xn--localhost-",
            "xn--",
            "a*.com",
            "\u{fdfa}",
            "[::1]:80",
        ] {
            assert!(
                parse_host(input).is_err(),
                "{input:?} -> {:?}",
                parse_host(input)
            );
        }
        let long = format!("{}.com", "a".repeat(64));
        assert!(parse_host(&long).is_err());
        assert!(parse_host(&"a.".repeat(130)).is_err());
        assert!(parse_host(&"x".repeat(1 << 20)).is_err());
        assert!(parse_host(&"①".repeat(4000)).is_err());
    }

    #[test]
    fn display_reads_back() {
        for input in [
            "Example.COM",
            "[::ffff:127.0.0.1]",
            "0x7f.1",
            "münchen.de",
            "fe80::1%eth0",
        ] {
            let host = parse_host(input).unwrap();
            assert_eq!(parse_host(&host.to_string()), Ok(host.clone()), "{input}");
        }
        assert_eq!(parse_host("::1").unwrap().to_string(), "[::1]");
        assert_eq!(parse_host("0x7f.1").unwrap().to_string(), "127.0.0.1");
    }

    #[test]
    fn classify_host_without_dns() {
        assert_eq!(
            classify_host(&parse_host("ⓛⓞⓒⓐⓛⓗⓞⓢⓣ").unwrap()),
            Some(AddressClass::Loopback)
        );
        assert_eq!(
            classify_host(&parse_host("0xa9fea9fe").unwrap()),
            Some(AddressClass::Metadata)
        );
        assert_eq!(
            classify_host(&parse_host("[::ffff:a9fe:a9fe]").unwrap()),
            Some(AddressClass::Metadata)
        );
        assert_eq!(
            classify_host(&parse_host("8.8.8.8").unwrap()),
            Some(AddressClass::Public)
        );
        assert_eq!(classify_host(&parse_host("github.com").unwrap()), None);
        assert_eq!(
            parse_host("METADATA.google.internal.").unwrap().class(),
            Some(AddressClass::Metadata)
        );
    }

    #[test]
    fn serde_as_canonical_string() {
        let host = parse_host("[::1]").unwrap();
        assert_eq!(serde_json::to_string(&host).unwrap(), "\"[::1]\"");
        assert_eq!(
            serde_json::from_str::<Host>("\"LocalHost\"").unwrap(),
            name("localhost")
        );
        assert!(serde_json::from_str::<Host>("\"a b\"").is_err());
    }
}
