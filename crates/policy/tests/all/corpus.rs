//! Reading `shared/corpora/`: located through `WARDEN_CORPORA`, else the first
//! `shared/corpora` above this crate.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

pub fn dir() -> PathBuf {
    if let Some(d) = std::env::var_os("WARDEN_CORPORA") {
        return PathBuf::from(d);
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .map(|d| d.join("shared").join("corpora"))
        .find(|d| d.is_dir())
        .unwrap_or_else(|| {
            panic!(
                "no shared/corpora above {}; set WARDEN_CORPORA",
                manifest.display()
            )
        })
}

/// Every row of `corpora/<rel>` (JSON Lines), each parsed as `T`.
pub fn rows<T: DeserializeOwned>(rel: &str) -> Vec<T> {
    let path = dir().join(rel);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(n, l)| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("{}:{}: {e}", path.display(), n + 1))
        })
        .collect()
}

/// A percentage for reports.
pub fn pct(part: usize, whole: usize) -> f64 {
    100.0 * part as f64 / whole.max(1) as f64
}
