//! URL and host normalisation and address classification (SSRF defence).
//!
//! An agent that may fetch URLs can be steered (by a prompt injection, a poisoned
//! tool description, a redirect) to reach what only the machine it runs on can
//! reach: loopback services, the private network, the cloud metadata endpoint that
//! hands out credentials. A policy rule such as `WebFetch(domain:*.github.com)` or
//! "deny loopback" is only as good as the parser that tells it which host a URL
//! names. SSRF filters are classically bypassed by a notation the filter does not
//! understand but the HTTP client does (`http://0x7f.1/`, `http://[::ffff:7f00:1]/`,
//! `http://ⓛⓞⓒⓐⓛⓗⓞⓢⓣ/`), or by a URL that two parsers split differently
//! (`http://127.0.0.1\@evil.com/`, Orange Tsai, "A New Era of SSRF", Black Hat 2017).
//!
//! So this module parses URLs itself rather than trusting one parser's reading:
//!
//! - [`parse_host`] accepts every notation a resolver or URL parser accepts
//!   (inet_aton's and WHATWG's IPv4 forms, IPv6 with zones, percent-encoding, NFKC
//!   and IDNA folding) and returns the one [`Host`] they would all connect to;
//! - [`parse_url`] reads the authority the way each family of URL parsers does and
//!   fails when they would disagree on the host, so the caller denies;
//! - [`classify_ip`] / [`classify_host`] put an address (or a name that needs no
//!   DNS to place, such as `localhost` or `metadata.google.internal`) in an
//!   [`AddressClass`]; embedded IPv4 (mapped, NAT64, 6to4, Teredo) is classed by
//!   its IPv4 meaning.
//!
//! Everything fails closed: an input we cannot read unambiguously is an error, and
//! errors on agent input end in Deny. Names that only DNS can place get `None` from
//! [`classify_host`]; the egress proxy classifies the addresses they resolve to.

mod class;
mod host;
mod ip;
mod names;
mod url;

#[cfg(test)]
mod proptests;

pub use class::{AddressClass, classify_ip, classify_ipv4, classify_ipv6, embedded_ipv4};
pub use host::{Host, classify_host, parse_host};
pub use url::{Target, default_port, parse_url};

/// How much of an offending input an error keeps: inputs are agent-controlled and
/// may be megabytes long; the error is logged and shown, so it keeps a prefix.
const EXCERPT_CHARS: usize = 256;

/// Why a URL or host was rejected. Every variant carries the offending input
/// (cut to its first 256 characters, then `…`). Any of these on agent-controlled
/// input must end in Deny.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetError {
    /// The host is empty (`http:///`, `http://user@/`, `http://:80/`).
    #[error("empty host in {input:?}")]
    EmptyHost {
        /// The URL or host text.
        input: String,
    },
    /// The host is longer than any resolvable name can be.
    #[error("host too long: {input:?}")]
    HostTooLong {
        /// The host text.
        input: String,
    },
    /// The host ends in a number, so every URL parser reads it as IPv4, but it is
    /// not a valid IPv4 address in any notation (`1.2.3.4.5`, `256.1.1.1`,
    /// `0x41414141A9FEA9FE`, `08.1`): resolvers differ on such input (some wrap
    /// overflowing octets), so it is refused.
    #[error("invalid IPv4 address {input:?}")]
    InvalidIpv4 {
        /// The host text.
        input: String,
    },
    /// A bracketed or colon-bearing host that is not a valid IPv6 address.
    #[error("invalid IPv6 address {input:?}")]
    InvalidIpv6 {
        /// The host text.
        input: String,
    },
    /// The host name has a character no DNS name can hold, an empty or over-long
    /// label, or fails IDNA (UTS 46) processing.
    #[error("invalid host name {input:?}: {reason}")]
    InvalidHost {
        /// The host text.
        input: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Percent-decoding the host did not give UTF-8, or left a `%` behind
    /// (double encoding: parsers differ on how often they decode).
    #[error("invalid percent-encoding in host {input:?}")]
    InvalidPercentEncoding {
        /// The host text.
        input: String,
    },
    /// The URL has a control character (other than surrounding whitespace).
    #[error("control character in URL {input:?}")]
    ControlChar {
        /// The URL.
        input: String,
    },
    /// The URL has no `scheme:` prefix.
    #[error("URL has no scheme: {input:?}")]
    MissingScheme {
        /// The URL.
        input: String,
    },
    /// The URL has no `//authority` part, so no host (`mailto:`, `jar:...`).
    #[error("URL has no host: {input:?}")]
    NoAuthority {
        /// The URL.
        input: String,
    },
    /// The port is not a decimal number from 0 to 65535.
    #[error("invalid port in {input:?}")]
    InvalidPort {
        /// The URL.
        input: String,
    },
    /// The user-info part has several `@` or characters URL parsers treat
    /// differently.
    #[error("invalid or ambiguous user-info in {input:?}")]
    InvalidUserinfo {
        /// The URL.
        input: String,
    },
    /// Two families of URL parsers would connect to different hosts or ports.
    #[error("URL {input:?} is ambiguous: one parser reads host {first}, another {second}")]
    AmbiguousHost {
        /// The URL.
        input: String,
        /// The host and port as the WHATWG URL standard reads it.
        first: String,
        /// The host and port another parser reads.
        second: String,
    },
}

impl NetError {
    /// The offending input (possibly cut, see [`NetError`]).
    pub fn input(&self) -> &str {
        match self {
            NetError::EmptyHost { input }
            | NetError::HostTooLong { input }
            | NetError::InvalidIpv4 { input }
            | NetError::InvalidIpv6 { input }
            | NetError::InvalidHost { input, .. }
            | NetError::InvalidPercentEncoding { input }
            | NetError::ControlChar { input }
            | NetError::MissingScheme { input }
            | NetError::NoAuthority { input }
            | NetError::InvalidPort { input }
            | NetError::InvalidUserinfo { input }
            | NetError::AmbiguousHost { input, .. } => input,
        }
    }
}

/// The first [`EXCERPT_CHARS`] characters of `input`, for an error.
pub(crate) fn excerpt(input: &str) -> String {
    match input.char_indices().nth(EXCERPT_CHARS) {
        None => input.to_string(),
        Some((cut, _)) => format!("{}…", &input[..cut]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_keep_a_bounded_excerpt_of_huge_input() {
        let long = "é".repeat(1_000_000);
        let e = excerpt(&long);
        assert_eq!(e.chars().count(), EXCERPT_CHARS + 1);
        assert!(e.ends_with('…'));
        assert_eq!(excerpt("short"), "short");
    }

    #[test]
    fn errors_display_their_input() {
        let e = NetError::InvalidIpv4 {
            input: "1.2.3.4.5".into(),
        };
        assert!(e.to_string().contains("1.2.3.4.5"));
        assert_eq!(e.input(), "1.2.3.4.5");
    }
}
