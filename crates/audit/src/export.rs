//! Entries as JSON for people and pipelines: `warden audit show --json` and
//! `export --format jsonl` (one object per entry, the record decrypted), and
//! the OCSF mapping of `export --format ocsf`.

mod ocsf;

pub use ocsf::{OCSF_VERSION, to_ocsf};

use serde_json::{Value, json};

use crate::record::{Content, Entry};

/// RFC 3339 UTC text of a millisecond timestamp, e.g. `2026-12-01T17:51:15.123Z`.
pub fn rfc3339_ms(ms: u64) -> String {
    let secs = ms / 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms % 1000
    )
}

/// Proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's
/// `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// One entry as a JSON object: header fields, leaf hash, and the decrypted
/// action and verdict (or why they are not there).
pub fn entry_json(e: &Entry) -> Value {
    let mut v = json!({
        "seq": e.seq,
        "time": rfc3339_ms(e.time_ms),
        "origin": e.origin,
        "segment": e.segment,
        "leaf_hash": hex::encode(e.leaf_hash),
    });
    match &e.content {
        Content::Record(r) => {
            v["action"] = serde_json::to_value(&r.action).unwrap_or(Value::Null);
            v["verdict"] = serde_json::to_value(&r.verdict).unwrap_or(Value::Null);
        }
        Content::Shredded => v["shredded"] = Value::Bool(true),
        Content::Unreadable(why) | Content::NoKey(why) => {
            v["unreadable"] = Value::String(why.clone())
        }
        Content::Sealed => v["sealed"] = Value::Bool(true),
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_format_as_rfc3339_utc() {
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_ms(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(rfc3339_ms(1_796_147_475_123), "2026-12-01T17:51:15.123Z");
    }
}
