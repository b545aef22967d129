//! RFC 8785 (JSON Canonicalization Scheme) encoding of a record's plaintext.
//!
//! The same record always yields the same bytes, whoever encodes it, so an exported
//! record can be compared byte for byte with what was sealed, and a digest of a
//! record means one thing. Objects are sorted by the UTF-16 code units of their
//! keys, strings use the minimal ECMAScript escapes, and non-integer numbers use
//! ECMAScript's shortest round-trip form.
//!
//! One deliberate deviation: integers that do not fit an IEEE 754 double exactly
//! (beyond ±2^53) are written as the exact decimal integer serde_json parsed,
//! rather than rounded through a double as RFC 8785 §3.2.2.3 would. An audit log
//! must not change the numbers an agent sent; every integer within ±2^53 and every
//! fraction is encoded exactly as RFC 8785 prescribes.

use serde_json::{Map, Number, Value};

/// Writes `value` in canonical form.
pub fn to_vec(value: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    write_value(value, &mut out);
    out
}

fn write_value(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => write_number(n, out),
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(item, out);
            }
            out.push(b']');
        }
        Value::Object(map) => write_object(map, out),
    }
}

fn write_object(map: &Map<String, Value>, out: &mut Vec<u8>) {
    out.push(b'{');
    // serde_json's map iterates in UTF-8 byte (code point) order; RFC 8785 orders
    // by UTF-16 code units. The two differ only between a character in
    // U+E000..=U+FFFF and one above U+FFFF (both start with a byte >= 0xEE in
    // UTF-8), so only maps with such keys are re-sorted.
    let resort = map.keys().any(|k| k.bytes().any(|b| b >= 0xee));
    if resort {
        let mut entries: Vec<(&String, &Value)> = map.iter().collect();
        entries.sort_by(|(a, _), (b, _)| a.encode_utf16().cmp(b.encode_utf16()));
        write_members(entries.into_iter(), out);
    } else {
        write_members(map.iter(), out);
    }
    out.push(b'}');
}

fn write_members<'a>(members: impl Iterator<Item = (&'a String, &'a Value)>, out: &mut Vec<u8>) {
    for (i, (key, item)) in members.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_string(key, out);
        out.push(b':');
        write_value(item, out);
    }
}

fn write_string(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if b >= 0x20 && b != b'"' && b != b'\\' {
            continue;
        }
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => {
                out.extend_from_slice(&bytes[start..i]);
                out.extend_from_slice(format!("\\u{b:04x}").as_bytes());
                start = i + 1;
                continue;
            }
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(escape);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

fn write_number(n: &Number, out: &mut Vec<u8>) {
    use std::io::Write as _;
    if let Some(i) = n.as_i64() {
        // Writing into a Vec cannot fail.
        let _ = write!(out, "{i}");
    } else if let Some(u) = n.as_u64() {
        let _ = write!(out, "{u}");
    } else if let Some(f) = n.as_f64() {
        out.extend_from_slice(ecmascript_number(f).as_bytes());
    }
}

/// ECMAScript's `Number.prototype.toString` for a finite double (ECMA-262
/// §7.1.12.1), which RFC 8785 adopts.
pub fn ecmascript_number(f: f64) -> String {
    if f == 0.0 || !f.is_finite() {
        // serde_json never holds NaN or infinities; -0 prints as 0.
        return "0".into();
    }
    // Rust's `{:e}` gives the fewest digits that round-trip, but breaks a tie
    // between two such digit strings upwards; ECMAScript wants the one closest to
    // the exact value, ties to even. Rust's fixed-precision formatting rounds the
    // exact value half-to-even, so at the same length it is the right choice
    // whenever it still round-trips.
    let shortest = format!("{:e}", f.abs());
    let digits_len = shortest.split_once('e').map_or(shortest.len(), |(m, _)| {
        m.chars().filter(char::is_ascii_digit).count()
    });
    let rounded = format!("{:.*e}", digits_len.saturating_sub(1), f.abs());
    let sci = if rounded.parse::<f64>() == Ok(f.abs()) {
        rounded
    } else {
        shortest
    };
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let exp: i32 = exp.parse().unwrap_or(0);
    let k = digits.len() as i32;
    // The value is 0.DIGITS × 10^n.
    let n = exp + 1;
    let mut s = String::new();
    if f < 0.0 {
        s.push('-');
    }
    if k <= n && n <= 21 {
        s.push_str(&digits);
        s.extend(std::iter::repeat_n('0', (n - k) as usize));
    } else if 0 < n && n <= 21 {
        s.push_str(&digits[..n as usize]);
        s.push('.');
        s.push_str(&digits[n as usize..]);
    } else if -6 < n && n <= 0 {
        s.push_str("0.");
        s.extend(std::iter::repeat_n('0', (-n) as usize));
        s.push_str(&digits);
    } else {
        s.push_str(&digits[..1]);
        if k > 1 {
            s.push('.');
            s.push_str(&digits[1..]);
        }
        s.push('e');
        s.push(if n > 0 { '+' } else { '-' });
        s.push_str(&(n - 1).abs().to_string());
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc8785_number_examples() {
        // RFC 8785 Appendix B (IEEE 754 value → canonical text).
        let cases: &[(u64, &str)] = &[
            (0x0000000000000000, "0"),
            (0x8000000000000000, "0"),
            (0x0000000000000001, "5e-324"),
            (0x8000000000000001, "-5e-324"),
            (0x7fefffffffffffff, "1.7976931348623157e+308"),
            (0xffefffffffffffff, "-1.7976931348623157e+308"),
            (0x4340000000000000, "9007199254740992"),
            (0xc340000000000000, "-9007199254740992"),
            (0x4430000000000000, "295147905179352830000"),
            (0x44b52d02c7e14af5, "9.999999999999997e+22"),
            (0x44b52d02c7e14af6, "1e+23"),
            (0x44b52d02c7e14af7, "1.0000000000000001e+23"),
            (0x444b1ae4d6e2ef4e, "999999999999999700000"),
            (0x444b1ae4d6e2ef4f, "999999999999999900000"),
            (0x444b1ae4d6e2ef50, "1e+21"),
            (0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"),
            (0x3eb0c6f7a0b5ed8d, "0.000001"),
            (0x41b3de4355555553, "333333333.3333332"),
            (0x41b3de4355555554, "333333333.33333325"),
            (0x41b3de4355555555, "333333333.3333333"),
            (0x41b3de4355555556, "333333333.3333334"),
            (0x41b3de4355555557, "333333333.33333343"),
            (0xbecbf647612f3696, "-0.0000033333333333333333"),
            (0x43143ff3c1cb0959, "1424953923781206.2"),
        ];
        for (bits, want) in cases {
            assert_eq!(ecmascript_number(f64::from_bits(*bits)), *want, "{bits:#x}");
        }
    }

    #[test]
    fn rfc8785_structure_example() {
        // RFC 8785 §3.2.3 sorting example: keys ordered by UTF-16 code units.
        let v: Value = serde_json::from_str(
            r#"{"\u20ac":"Euro Sign","\r":"Carriage Return","\ufb33":"Hebrew Letter Dalet With Dagesh","1":"One","\ud83d\ude00":"Emoji: Grinning Face","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis"}"#,
        )
        .unwrap();
        let got = String::from_utf8(to_vec(&v)).unwrap();
        let keys: Vec<&str> = [
            "\r",
            "1",
            "\u{80}",
            "\u{f6}",
            "\u{20ac}",
            "\u{1f600}",
            "\u{fb33}",
        ]
        .to_vec();
        let mut pos = 0;
        for k in keys {
            let needle = String::from_utf8(to_vec(&Value::String(k.into()))).unwrap();
            let at = got[pos..].find(&needle).map(|p| p + pos).expect(k);
            pos = at + needle.len();
        }
    }

    #[test]
    fn strings_use_minimal_escapes() {
        let v = Value::String("a\"b\\c\n\u{1}\u{7f}\u{2028}é/".into());
        assert_eq!(
            String::from_utf8(to_vec(&v)).unwrap(),
            "\"a\\\"b\\\\c\\n\\u0001\u{7f}\u{2028}é/\""
        );
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            ".*".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map(".*", inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn canonical_text_parses_back_to_the_same_value(v in arb_json()) {
            let text = to_vec(&v);
            let back: Value = serde_json::from_slice(&text).unwrap();
            // Floats that are integral come back as the same double.
            prop_assert_eq!(to_vec(&back), text);
        }

        #[test]
        fn shortest_number_text_round_trips(f in any::<f64>().prop_filter("finite", |f| f.is_finite())) {
            let s = ecmascript_number(f);
            let back: f64 = s.parse().unwrap();
            prop_assert!(back == f || (f == 0.0 && back == 0.0), "{} -> {}", f, s);
        }
    }
}
