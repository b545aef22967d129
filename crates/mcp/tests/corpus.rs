//! The poisoning scan on the development corpus `shared/corpora/mcp/`: the
//! share of poisoned definitions flagged (target ≥ 90 %) and of benign ones
//! flagged (target ≤ 5 %), printed as a report and held to the targets.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use serde_json::Value;
use warden_mcp::scan::scan_tool;

fn corpora() -> PathBuf {
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

fn rows(name: &str) -> Vec<Value> {
    let path = corpora().join("mcp").join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A corpus row as `tools/list` would carry it.
fn as_tool(row: &Value) -> Value {
    let mut t = serde_json::json!({"name": row["name"], "description": row["description"]});
    if row["input_schema"].is_object() {
        t["inputSchema"] = row["input_schema"].clone();
    }
    if let Some(title) = row.get("title") {
        t["title"] = title.clone();
    }
    t
}

#[test]
fn corpus_mcp_poisoning_rates() {
    let poisoned = rows("poisoned_tools.jsonl");
    let benign = rows("benign_tools.jsonl");
    let flagged = |rows: &[Value]| -> Vec<String> {
        rows.iter()
            .filter(|r| scan_tool(&as_tool(r)).flagged)
            .map(|r| r["name"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    let p = flagged(&poisoned);
    let b = flagged(&benign);
    let missed: Vec<&str> = poisoned
        .iter()
        .map(|r| r["name"].as_str().unwrap_or_default())
        .filter(|n| !p.iter().any(|x| x == n))
        .collect();
    let pct = |n: usize, of: usize| 100.0 * n as f64 / of.max(1) as f64;
    println!(
        "mcp poisoning scan: poisoned flagged {}/{} ({:.1} %), benign flagged {}/{} ({:.1} %)",
        p.len(),
        poisoned.len(),
        pct(p.len(), poisoned.len()),
        b.len(),
        benign.len(),
        pct(b.len(), benign.len())
    );
    println!("  poisoned missed: {missed:?}");
    println!("  benign flagged: {b:?}");
    assert!(pct(p.len(), poisoned.len()) >= 90.0, "missed {missed:?}");
    assert!(pct(b.len(), benign.len()) <= 5.0, "flagged {b:?}");
}
