//! Decoders for untrusted path strings: every spelling a downstream program might
//! turn the string into before it opens a file.
//!
//! A path that is checked in one encoding and opened in another is the oldest
//! traversal bug there is: IIS decoded overlong UTF-8 after its `..` check
//! (CVE-2000-0884) and percent-decoded twice (CVE-2001-0333); Apache 2.4.49/50 let
//! `.%2e/` and `%%32%65` through (CVE-2021-41773, CVE-2021-42013). We do not know which
//! decoders sit between the agent and the final `open`, so [`variants`] applies every
//! decoder below in every order, up to three percent-decoding layers, and the jail
//! check judges each result. Decoders work on bytes: an intermediate result need not
//! be UTF-8 (`%c0` is a lone lead byte until the next layer completes it).

use std::borrow::Cow;
use std::collections::HashSet;

use percent_encoding::percent_decode;
use unicode_normalization::UnicodeNormalization;

/// Most distinct spellings explored for one input. Ordinary paths have one; the
/// densest payloads in the corpus need a few dozen. Past the cap the caller fails
/// closed (the input is treated as escaping).
pub(super) const MAX_VARIANTS: usize = 512;

/// Percent-decoding layers modelled: single, double (`%252e`) and triple (`%25252e`).
const MAX_PERCENT_LAYERS: u8 = 3;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Decoder {
    /// RFC 3986 `%XX`.
    Percent,
    /// IIS's `%uXXXX` (`%uff0e` is a full-width dot).
    PercentU,
    /// Overlong UTF-8 (`c0 ae` is `.`), as pre-2001 decoders accepted it.
    Overlong,
    /// `0x2e` written out as text, which some PHP and CGI code passes to `hexdec`/`chr`.
    HexText,
    /// IIS-era malformed escapes that still decoded to `.`, `/` or `\`.
    LegacyAlias,
    /// NFKC plus look-alike separators (`．`, `∕`, `＼`, `¥`).
    Fold,
}

const DECODERS: [Decoder; 6] = [
    Decoder::Percent,
    Decoder::PercentU,
    Decoder::Overlong,
    Decoder::HexText,
    Decoder::LegacyAlias,
    Decoder::Fold,
];

impl Decoder {
    /// The decoded form, or `None` when this decoder changes nothing.
    fn apply(self, s: &[u8]) -> Option<Vec<u8>> {
        match self {
            Decoder::Percent => percent(s),
            Decoder::PercentU => percent_u(s),
            Decoder::Overlong => overlong(s),
            Decoder::HexText => hex_text(s),
            Decoder::LegacyAlias => legacy_alias(s),
            Decoder::Fold => fold(s),
        }
    }
}

/// `raw` and every distinct string reachable from it by the decoders, applied in any
/// order, with at most [`MAX_PERCENT_LAYERS`] percent layers. `None` when there are
/// more than [`MAX_VARIANTS`].
pub(super) fn variants(raw: &[u8]) -> Option<Vec<Vec<u8>>> {
    // Breadth first, so each string is first met with the fewest percent layers and
    // so keeps the most layers to spend.
    let mut out: Vec<(Vec<u8>, u8)> = vec![(raw.to_vec(), 0)];
    let mut seen: HashSet<Vec<u8>> = HashSet::from([raw.to_vec()]);
    let mut next = 0;
    while let Some((current, layers)) = out.get(next).cloned() {
        next += 1;
        for decoder in DECODERS {
            let layers = layers + u8::from(decoder == Decoder::Percent);
            if layers > MAX_PERCENT_LAYERS {
                continue;
            }
            let Some(decoded) = decoder.apply(&current) else {
                continue;
            };
            if seen.contains(&decoded) {
                continue;
            }
            if out.len() >= MAX_VARIANTS {
                return None;
            }
            seen.insert(decoded.clone());
            out.push((decoded, layers));
        }
    }
    Some(out.into_iter().map(|(v, _)| v).collect())
}

fn percent(s: &[u8]) -> Option<Vec<u8>> {
    if !s.contains(&b'%') {
        return None;
    }
    // Invalid escapes (`%%`, `%2g`, a trailing `%`) stay as they are, as in every
    // RFC 3986 decoder; `%%32%65` becomes `%2e` here and `.` in the next layer.
    match Cow::from(percent_decode(s)) {
        Cow::Borrowed(_) => None,
        Cow::Owned(v) => Some(v),
    }
}

fn hex_value(b: u8) -> Option<u32> {
    char::from(b).to_digit(16)
}

fn push_char(out: &mut Vec<u8>, c: char) {
    let mut buf = [0u8; 4];
    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
}

fn percent_u(s: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    let mut changed = false;
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        if b == b'%' && matches!(s.get(i + 1), Some(b'u' | b'U')) {
            let code = s.get(i + 2..i + 6).and_then(|h| {
                h.iter()
                    .try_fold(0u32, |acc, &d| Some(acc * 16 + hex_value(d)?))
            });
            // Lone surrogates (`%ud800`) have no character to become; left as text.
            if let Some(c) = code.and_then(char::from_u32) {
                push_char(&mut out, c);
                changed = true;
                i += 6;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    changed.then_some(out)
}

fn is_continuation(b: Option<&u8>) -> bool {
    b.is_some_and(|b| b & 0xc0 == 0x80)
}

/// Overlong 2-, 3- and 4-byte forms (lead `c0`/`c1`, `e0 80..9f`, `f0 80..8f`) decoded
/// to the character they spell and re-encoded properly, so `c0 ae` is `.`, `c0 af` is
/// `/`, `c1 9c` is `\` and `c0 80` is NUL. Malformed sequences that are not overlong
/// encodings (`c0 2e`, `c0 ee`) and the 5- and 6-byte forms RFC 3629 abolished in 2003
/// are left as they are: the corpus pins `%f8%80%80%80%ae` and `%c0%ee` as
/// non-escaping (see [`legacy_alias`] for the malformed forms IIS did accept).
fn overlong(s: &[u8]) -> Option<Vec<u8>> {
    if !s.iter().any(|&b| matches!(b, 0xc0 | 0xc1 | 0xe0 | 0xf0)) {
        return None;
    }
    let mut out = Vec::with_capacity(s.len());
    let mut changed = false;
    let mut i = 0;
    while let Some(&b0) = s.get(i) {
        let b = |k: usize| s.get(i + k);
        let low = |k: usize| u32::from(s.get(i + k).map_or(0, |v| v & 0x3f));
        let decoded = match b0 {
            0xc0 | 0xc1 if is_continuation(b(1)) => {
                Some((((u32::from(b0) & 0x1f) << 6) | low(1), 2))
            }
            0xe0 if b(1).is_some_and(|v| (0x80..=0x9f).contains(v)) && is_continuation(b(2)) => {
                Some(((low(1) << 6) | low(2), 3))
            }
            0xf0 if b(1).is_some_and(|v| (0x80..=0x8f).contains(v))
                && is_continuation(b(2))
                && is_continuation(b(3)) =>
            {
                Some(((low(1) << 12) | (low(2) << 6) | low(3), 4))
            }
            _ => None,
        };
        match decoded.and_then(|(cp, len)| Some((char::from_u32(cp)?, len))) {
            Some((c, len)) => {
                push_char(&mut out, c);
                changed = true;
                i += len;
            }
            None => {
                out.push(b0);
                i += 1;
            }
        }
    }
    changed.then_some(out)
}

/// `0x2e0x2e0x2f` → `../`: hex written as text. Only printable ASCII is produced:
/// the trick smuggles path punctuation, and decoding `0x00` in a name like
/// `dump_0x00ff.bin` would turn an ordinary file name into a NUL injection.
fn hex_text(s: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    let mut changed = false;
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        if b == b'0' && matches!(s.get(i + 1), Some(b'x' | b'X')) {
            let byte = match (
                s.get(i + 2).copied().and_then(hex_value),
                s.get(i + 3).copied().and_then(hex_value),
            ) {
                (Some(hi), Some(lo)) => u8::try_from(hi * 16 + lo).ok(),
                _ => None,
            };
            if let Some(byte) = byte.filter(|v| (0x20..=0x7e).contains(v)) {
                out.push(byte);
                changed = true;
                i += 4;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    changed.then_some(out)
}

/// Malformed escapes that IIS 4/5-era decoders (CVE-2000-0884 and its locale
/// variants) turned into path punctuation, as exploit lists (dotdotpwn) still send
/// them: a lead byte followed by a non-continuation byte (`%c0%2f`), or hex digits
/// out of range (`%c0%9v`, `%bg%qf`) that a lenient `c - 'a' + 10` parser accepted.
/// Well-formed overlong forms (`%c0%af`, `%c1%9c`, `%e0%80%af`) are decoded by
/// [`overlong`] instead. This is a table because those decoders were bugs, not
/// algorithms: no rule reproduces them without also decoding forms the path corpus
/// pins as non-escaping (`%c1%pc`, `%c0%ee`, `%c0%6e`, and `%c0.` with a literal dot).
const LEGACY_ALIASES: [(&[u8; 6], u8); 10] = [
    (b"%c0%2e", b'.'),
    (b"%c0%5e", b'.'),
    (b"%c0%2f", b'/'),
    (b"%c0%5c", b'\\'),
    (b"%c0%9v", b'/'),
    (b"%c0%qf", b'/'),
    (b"%bg%qf", b'/'),
    (b"%c1%1c", b'\\'),
    (b"%c1%8s", b'\\'),
    (b"%c1%af", b'/'),
];

fn legacy_alias(s: &[u8]) -> Option<Vec<u8>> {
    if !s.contains(&b'%') {
        return None;
    }
    let mut out = Vec::with_capacity(s.len());
    let mut changed = false;
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        let window = s.get(i..i + 6);
        let alias = window.and_then(|w| {
            LEGACY_ALIASES
                .iter()
                .find(|(enc, _)| w.eq_ignore_ascii_case(&enc[..]))
                .map(|(_, c)| *c)
        });
        match alias {
            Some(c) => {
                out.push(c);
                changed = true;
                i += 6;
            }
            None => {
                out.push(b);
                i += 1;
            }
        }
    }
    changed.then_some(out)
}

/// Look-alikes NFKC leaves alone but that some layer still turns into a separator:
/// Windows' best-fit conversion to the ANSI code page (the "WorstFit" attacks, Black
/// Hat Europe 2024; CVE-2024-4577) maps `∕` to `/`, `∖` to `\`, and in the Japanese and
/// Korean code pages `¥` and `₩` to `\`.
fn confusable(c: char) -> Option<char> {
    Some(match c {
        '\u{2215}' | '\u{2044}' | '\u{29f8}' | '\u{2571}' => '/',
        '\u{2216}' | '\u{29f5}' | '\u{29f9}' | '\u{2572}' | '\u{a5}' | '\u{20a9}' => '\\',
        _ => return None,
    })
}

/// NFKC (`．` → `.`, `‥` → `..`, `／` → `/`, `＼` → `\`) plus [`confusable`], on the
/// UTF-8 parts of `s`; bytes that are not UTF-8 pass through for later decoders.
fn fold(s: &[u8]) -> Option<Vec<u8>> {
    if s.is_ascii() {
        return None;
    }
    let mut out = Vec::with_capacity(s.len());
    for chunk in s.utf8_chunks() {
        for c in chunk.valid().nfkc() {
            push_char(&mut out, confusable(c).unwrap_or(c));
        }
        out.extend_from_slice(chunk.invalid());
    }
    (out != s).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn has(raw: &str, want: &str) -> bool {
        variants(raw.as_bytes())
            .unwrap()
            .iter()
            .any(|v| v == want.as_bytes())
    }

    #[test]
    fn plain_paths_have_one_spelling() {
        assert_eq!(
            variants(b"src/main.rs").unwrap(),
            vec![b"src/main.rs".to_vec()]
        );
    }

    #[test]
    fn percent_decoding_up_to_three_layers() {
        assert!(has("%2e%2e%2f", "../"));
        assert!(has("%252e%252e%252f", "../"));
        assert!(has("%25252e%25252e", ".."));
        assert!(!has("%2525252e", "."), "a fourth layer is not modelled");
        // `%%32%65` is `%2e` after one layer (CVE-2021-42013).
        assert!(has("%%32%65%%32%65", ".."));
        // `%%32%%65` never becomes an escape: `%2%e` after one layer.
        assert!(has("%%32%%65", "%2%e"));
        assert!(!has("%%32%%65", "."));
    }

    #[test]
    fn percent_u_and_fold() {
        assert!(has("%uff0e%uff0e%u2215", "../"));
        assert!(has("%u002e%u002e%u2216", "..\\"));
        assert!(has("．．／", "../"));
        assert!(has("‥／", "../"));
        assert!(has("..⁄..∖", "../..\\"));
        assert!(has("¥..", "\\.."));
        assert!(!has("%ud800", "\u{fffd}"));
    }

    #[test]
    fn overlong_utf8_strict_forms() {
        assert!(has("%c0%ae%c0%ae%c0%af", "../"));
        assert!(has("%e0%80%ae%e0%80%ae%e0%80%af", "../"));
        assert!(has("%f0%80%80%ae%f0%80%80%af", "./"));
        assert!(has("..%c1%9c", "..\\"));
        assert!(has("%25c0%25ae", "."));
        assert!(has("a%c0%80b", "a\0b"));
        // Not overlong encodings: left alone.
        let v = variants("%c0%ee%c0.%f8%80%80%80%ae%c1%pc".as_bytes()).unwrap();
        assert!(
            v.iter().all(|s| !s.contains(&b'/') && !s.starts_with(b".")),
            "{v:?}"
        );
    }

    #[test]
    fn legacy_aliases_and_hex_text() {
        assert!(has("%c0%2e%c0%2e%c0%2f", "../"));
        assert!(has("..%c0%9v..%bg%qf", "../../"));
        assert!(has("..%C1%8S", "..\\"));
        assert!(has("0x2e0x2e0x2f", "../"));
        assert!(has("0X2E0X2E0X5C", "..\\"));
        assert!(!has("dump_0x00ff", "dump_\0ff"));
    }

    #[test]
    fn variant_count_is_bounded() {
        let dense = "%25%75%30%30%32%65".repeat(40);
        assert!(variants(dense.as_bytes()).is_none_or(|v| v.len() <= MAX_VARIANTS));
    }

    #[test]
    fn decoders_never_panic_on_truncated_sequences() {
        for s in [
            "%", "%u", "%uff", "%c0", "\u{c0}", "0x", "0x2", "%c0%", "%bg%q",
        ] {
            let _ = variants(s.as_bytes());
        }
        for b in [0xc0u8, 0xe0, 0xf0] {
            let _ = overlong(&[b]);
            let _ = overlong(&[b, 0x80]);
            let _ = overlong(&[b, 0x80, 0x80]);
        }
    }
}
