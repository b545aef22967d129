//! Property tests for the SSRF parsers: whatever notation an address is written
//! in, it is the same address in the same class; no input panics; normalisation
//! is idempotent. A notation that parsed to another address, or to a name, would
//! be a filter bypass, so each is generated rather than listed.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;

use super::*;

/// How one part of an IPv4 literal is written.
#[derive(Debug, Clone, Copy)]
enum Base {
    Dec,
    Oct,
    Hex,
    HexUpper,
}

fn base() -> impl Strategy<Value = Base> {
    prop_oneof![
        Just(Base::Dec),
        Just(Base::Oct),
        Just(Base::Hex),
        Just(Base::HexUpper)
    ]
}

fn render_number(value: u32, base: Base, zeros: usize) -> String {
    let pad = "0".repeat(zeros);
    match base {
        // Decimal cannot carry leading zeros: they would make it octal.
        Base::Dec => value.to_string(),
        Base::Oct => format!("0{pad}{value:o}"),
        Base::Hex => format!("0x{pad}{value:x}"),
        Base::HexUpper => format!("0X{pad}{value:X}"),
    }
}

/// `addr` as 1 to 4 parts (`a.b.c.d`, `a.b.cd`, `a.bcd`, `abcd`), each in its own
/// base, optionally with a trailing dot.
fn render_ipv4(
    addr: u32,
    parts: usize,
    bases: &[Base; 4],
    zeros: &[usize; 4],
    trailing_dot: bool,
) -> String {
    let bytes = addr.to_be_bytes();
    let leading = parts - 1;
    let mut out: Vec<String> = (0..leading)
        .map(|i| render_number(u32::from(bytes[i]), bases[i], zeros[i]))
        .collect();
    let rest_bits = 32 - 8 * leading as u32;
    let last = if rest_bits == 32 {
        addr
    } else {
        addr & ((1u32 << rest_bits) - 1)
    };
    out.push(render_number(last, bases[leading], zeros[leading]));
    let mut text = out.join(".");
    if trailing_dot {
        text.push('.');
    }
    text
}

/// The same text in full-width forms (`０ｘ７ｆ．１`), which NFKC folds back.
fn full_width(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '!'..='~' => char::from_u32(c as u32 - 0x21 + 0xff01).unwrap_or(c),
            _ => c,
        })
        .collect()
}

/// Every byte percent-encoded.
fn percent_encoded(text: &str) -> String {
    text.bytes().map(|b| format!("%{b:02X}")).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn every_ipv4_notation_is_the_same_address(
        addr in any::<u32>(),
        parts in 1usize..=4,
        bases in [base(), base(), base(), base()],
        zeros in [0usize..3, 0usize..3, 0usize..3, 0usize..3],
        trailing_dot in any::<bool>(),
        spelling in 0u8..3,
    ) {
        let ip = Ipv4Addr::from(addr);
        let ascii = render_ipv4(addr, parts, &bases, &zeros, trailing_dot);
        let text = match spelling {
            0 => ascii.clone(),
            1 => full_width(&ascii),
            _ => percent_encoded(&ascii),
        };
        let host = parse_host(&text);
        prop_assert_eq!(&host, &Ok(Host::Ip(IpAddr::V4(ip))), "{}", text);
        let class = classify_ipv4(ip);
        prop_assert_eq!(classify_host(&Host::Ip(IpAddr::V4(ip))), Some(class));
        let target = parse_url(&format!("http://user@{text}:8080/x"));
        prop_assert_eq!(target.map(|t| t.host), Ok(Host::Ip(IpAddr::V4(ip))), "{}", text);
    }

    #[test]
    fn ipv6_embeddings_classify_as_their_ipv4(addr in any::<u32>()) {
        let ip = Ipv4Addr::from(addr);
        let class = classify_ipv4(ip);
        let [a, b, c, d] = ip.octets();
        let hi = u16::from_be_bytes([a, b]);
        let lo = u16::from_be_bytes([c, d]);
        for text in [
            format!("[::ffff:{ip}]"),
            format!("[::ffff:{hi:x}:{lo:x}]"),
            format!("[0:0:0:0:0:FFFF:{ip}]"),
            format!("[::ffff:0:{ip}]"),
            format!("[64:ff9b::{ip}]"),
            format!("[64:ff9b::{hi:x}:{lo:x}]"),
        ] {
            let host = parse_host(&text);
            prop_assert!(host.is_ok(), "{}", text);
            prop_assert_eq!(host.ok().and_then(|h| classify_host(&h)), Some(class), "{}", text);
        }
        let six_to_four = Ipv6Addr::new(0x2002, hi, lo, 0, 0, 0, 0, 1);
        prop_assert_eq!(classify_ipv6(six_to_four), class);
        prop_assert_eq!(embedded_ipv4(ip.to_ipv6_mapped()), Some(ip));
    }

    #[test]
    fn parsers_never_panic_on_any_string(s in any::<String>()) {
        let _ = parse_host(&s);
        let _ = parse_url(&s);
        let _ = parse_url(&format!("http://{s}"));
        let _ = parse_url(&format!("http://{s}@127.0.0.1/"));
    }

    #[test]
    fn parsers_never_panic_on_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let s = String::from_utf8_lossy(&bytes);
        let _ = parse_host(&s);
        let _ = parse_url(&s);
        let _ = parse_url(&format!("https://{s}"));
    }

    #[test]
    fn parsers_never_panic_on_url_like_strings(
        s in "[a-zA-Z0-9:/\\\\@#?%.\\[\\]xX_~ \t①⓪ⓛ。．＠／：-]{0,48}"
    ) {
        let _ = parse_host(&s);
        let _ = parse_url(&s);
        let _ = parse_url(&format!("http:{s}"));
    }

    #[test]
    fn normalisation_is_idempotent(
        s in prop_oneof![
            any::<String>(),
            "[a-zA-Z0-9.\\-_%ⓐ-ⓩ①-⑨。．üßéçΣ]{1,30}",
            "[0-9a-fA-Fx.]{1,20}",
            "\\[[0-9a-fA-F:.]{2,30}\\]",
        ]
    ) {
        if let Ok(host) = parse_host(&s) {
            let shown = host.to_string();
            prop_assert_eq!(parse_host(&shown), Ok(host.clone()), "{} -> {}", s, shown);
            prop_assert_eq!(classify_host(&parse_host(&shown).unwrap_or(host.clone())), classify_host(&host));
            if let Host::Name(name) = &host {
                prop_assert!(name.bytes().all(|b| b.is_ascii_lowercase()
                    || b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'_')), "{}", name);
                prop_assert!(!name.ends_with('.'));
                prop_assert!(classify_host(&host) != Some(AddressClass::Public));
            }
        }
        if let Ok(target) = parse_url(&format!("http://{s}/")) {
            prop_assert_eq!(parse_host(&target.host.to_string()), Ok(target.host.clone()));
        }
    }
}
