//! IP literals in every notation a resolver or URL parser accepts.
//!
//! The commonest SSRF filter bypass is to spell `127.0.0.1` in a notation the
//! filter does not recognise but the client's resolver does (PayloadsAllTheThings,
//! "SSRF: bypass using decimal/octal/hex IP"): `2130706433`, `0x7f000001`,
//! `0177.0.0.1`, `0x7f.1`, `127.1`, `127.0.1`. glibc's `inet_aton` (used by
//! `getaddrinfo`, hence curl, Python, Ruby, PHP) and the WHATWG URL standard (browsers,
//! Node's `fetch`) accept all of these; [`parse_ipv4`] accepts their union, so
//! whatever address a client would reach, we see the same one. Overflowing forms
//! (`425.510.425.510`, `0x41414141A9FEA9FE`), which old resolvers wrapped around
//! to an internal address, are refused rather than guessed at.

use std::net::{Ipv4Addr, Ipv6Addr};

/// WHATWG URL "ends in a number": the last label (after one trailing dot) is all
/// decimal digits or a `0x` hexadecimal number (`0x` alone counts, as 0).
///
/// Such a host is an IPv4 address to every WHATWG parser, which fails on it rather
/// than resolve it as a name; we do the same, so `0o177.0.0.1` or `1.2.3.4.5` is an
/// error instead of a name DNS might answer for.
pub(crate) fn ends_in_number(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    let last = name.rsplit('.').next().unwrap_or("");
    if last.is_empty() {
        return false;
    }
    if last.bytes().all(|b| b.is_ascii_digit()) {
        return true;
    }
    match last.strip_prefix("0x").or_else(|| last.strip_prefix("0X")) {
        Some(hex) => hex.bytes().all(|b| b.is_ascii_hexdigit()),
        None => false,
    }
}

/// Parses an IPv4 address in any inet_aton / WHATWG notation: one to four parts
/// separated by `.`, an optional trailing `.`, each part decimal, octal (leading
/// `0`) or hexadecimal (`0x`/`0X`, where a bare `0x` is 0); all but the last part
/// are one byte, the last fills the remaining bytes. `None` when the text is not
/// such an address, including on any overflow.
pub(crate) fn parse_ipv4(text: &str) -> Option<Ipv4Addr> {
    let text = text.strip_suffix('.').unwrap_or(text);
    let mut parts = [0u32; 4];
    let mut count = 0usize;
    for part in text.split('.') {
        let slot = parts.get_mut(count)?;
        *slot = parse_ipv4_number(part)?;
        count += 1;
    }
    // `split` yields at least one item, so `count` is 1 to 4 here.
    let (last, leading) = parts[..count].split_last()?;
    if leading.iter().any(|&p| p > 0xff) {
        return None;
    }
    // The last part fills the bytes the leading parts did not: 32, 24, 16, 8 bits.
    let last_bits = 32 - 8 * leading.len() as u32;
    if last_bits < 32 && *last >= 1u32 << last_bits {
        return None;
    }
    let mut addr = *last;
    for (i, &p) in leading.iter().enumerate() {
        addr |= p << (24 - 8 * i as u32);
    }
    Some(Ipv4Addr::from(addr))
}

/// One part of an IPv4 literal: decimal, octal with a leading `0`, or hex with
/// `0x`. Any number of leading zeros is fine (they do not change the value);
/// a value over `u32::MAX` is `None`, never wrapped.
fn parse_ipv4_number(part: &str) -> Option<u32> {
    if part.is_empty() {
        return None;
    }
    let (digits, radix) =
        if let Some(hex) = part.strip_prefix("0x").or_else(|| part.strip_prefix("0X")) {
            (hex, 16)
        } else if part.len() > 1 && part.starts_with('0') {
            (&part[1..], 8)
        } else {
            (part, 10)
        };
    let mut value: u64 = 0;
    for c in digits.chars() {
        let digit = c.to_digit(radix)?;
        value = value * u64::from(radix) + u64::from(digit);
        if value > u64::from(u32::MAX) {
            return None;
        }
    }
    u32::try_from(value).ok()
}

/// Parses an IPv6 literal without brackets, with an optional zone id: RFC 6874's
/// `%25eth0` (as in URLs) or RFC 4007's raw `%eth0`. The zone does not change what
/// the address is, so it is checked for sanity and dropped.
pub(crate) fn parse_ipv6(text: &str) -> Option<Ipv6Addr> {
    let (addr, zone) = match text.split_once('%') {
        Some((addr, zone)) => (addr, Some(zone)),
        None => (text, None),
    };
    if let Some(zone) = zone {
        // `%25` alone is an RFC 6874 prefix with no zone: refused, like an empty zone.
        let zone = zone.strip_prefix("25").unwrap_or(zone);
        let zone_ok = !zone.is_empty()
            && zone.len() <= 64
            && zone
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
        if !zone_ok {
            return None;
        }
    }
    // std's parser is strict RFC 4291 text form: at most four hex digits a group,
    // one `::`, a trailing dotted quad only in plain decimal without leading zeros
    // (as glibc's inet_pton and WHATWG require), so it accepts nothing they reject.
    addr.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(s: &str) -> Option<Ipv4Addr> {
        parse_ipv4(s)
    }

    #[test]
    fn every_inet_aton_notation_of_loopback() {
        let lo = Some(Ipv4Addr::new(127, 0, 0, 1));
        for s in [
            "127.0.0.1",
            "127.0.0.1.",
            "2130706433",
            "017700000001",
            "0x7f000001",
            "0X7F000001",
            "0x7f.1",
            "0x7f.0.0.1",
            "0177.0.0.1",
            "0177.1",
            "00000177.0.0.01",
            "127.1",
            "127.0.1",
            "0x7f.0x0.0x0.0x1",
            "0x7f.0.0x000001",
            "0x00000000007f.1",
        ] {
            assert_eq!(v4(s), lo, "{s}");
        }
    }

    #[test]
    fn metadata_address_in_short_forms() {
        let md = Some(Ipv4Addr::new(169, 254, 169, 254));
        for s in [
            "0xa9fea9fe",
            "2852039166",
            "0251.0376.0251.0376",
            "0251.254.169.254",
            "169.254.43518",
            "169.16689662",
            "0xa9.0xfe.0xa9.0xfe",
        ] {
            assert_eq!(v4(s), md, "{s}");
        }
    }

    #[test]
    fn bare_0x_is_zero_as_in_whatwg() {
        assert_eq!(v4("0x"), Some(Ipv4Addr::UNSPECIFIED));
        assert_eq!(v4("0x.0x.0x.0x"), Some(Ipv4Addr::UNSPECIFIED));
        assert_eq!(v4("0"), Some(Ipv4Addr::UNSPECIFIED));
    }

    #[test]
    fn overflow_is_refused_not_wrapped() {
        for s in [
            "425.510.425.510",
            "256.0.0.1",
            "1.256.0.1",
            "127.16777216",
            "127.0.65536",
            "4294967296",
            "0x41414141A9FEA9FE",
            "0x100000000",
            "077777777777",
            "99999999999999999999999999999999",
        ] {
            assert_eq!(v4(s), None, "{s}");
        }
        assert_eq!(v4("4294967295"), Some(Ipv4Addr::BROADCAST));
        assert_eq!(v4("127.16777215"), Some(Ipv4Addr::new(127, 255, 255, 255)));
    }

    #[test]
    fn malformed_literals_are_refused() {
        for s in [
            "",
            ".",
            "..",
            "1..1",
            ".1",
            "1.2.3.4.5",
            "08",
            "09.1",
            "0o177.0.0.1",
            "0x7g",
            "1e3",
            "1.2.3.4..",
            "-1",
            "+1",
            " 1",
            "1 ",
            "١٢٧.0.0.1",
        ] {
            assert_eq!(v4(s), None, "{s:?}");
        }
    }

    #[test]
    fn ends_in_number_follows_whatwg() {
        for s in [
            "1",
            "a.1",
            "a.0x",
            "a.0x7F",
            "a.1.",
            "0o177.0.0.1",
            "1.2.3.4.5",
            "a.08",
        ] {
            assert!(ends_in_number(s), "{s}");
        }
        for s in ["", ".", "a", "a.1b", "1.a", "a.0xg", "a..", "example.com"] {
            assert!(!ends_in_number(s), "{s}");
        }
    }

    #[test]
    fn ipv6_forms_and_zones() {
        let lo = Some(Ipv6Addr::LOCALHOST);
        for s in [
            "::1",
            "0:0:0:0:0:0:0:1",
            "0000::1",
            "::0:1",
            "::1%eth0",
            "::1%25eth0",
            "::1%251",
        ] {
            assert_eq!(parse_ipv6(s), lo, "{s}");
        }
        assert_eq!(parse_ipv6("fe80::1%25en0"), "fe80::1".parse().ok());
        assert_eq!(parse_ipv6("::ffff:127.0.0.1"), "::ffff:7f00:1".parse().ok());
        for s in [
            "",
            ":::1",
            "::1%",
            "::1%25",
            "::1%e th0",
            "::1%eth0/x",
            "1::2::3",
            "12345::1",
            "::ffff:0177.0.0.1",
            "::ffff:127.1",
            "[::1]",
            "127.0.0.1",
        ] {
            assert_eq!(parse_ipv6(s), None, "{s:?}");
        }
    }
}
