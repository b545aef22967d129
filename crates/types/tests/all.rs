//! The published JSON Schemas under `docs/schema/` must match the types. Regenerate
//! with `WARDEN_BLESS=1 cargo test -p warden-types`.

// Test code: a failed unwrap is a failed test with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use std::path::PathBuf;

fn check(name: &str, schema: serde_json::Value) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../docs/schema")
        .join(name);
    let generated = serde_json::to_string_pretty(&schema).unwrap() + "\n";
    if std::env::var_os("WARDEN_BLESS").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run WARDEN_BLESS=1 cargo test", path.display()));
    assert_eq!(
        committed,
        generated,
        "{} is stale: run WARDEN_BLESS=1 cargo test -p warden-types",
        path.display()
    );
}

#[test]
fn action_schema_is_current() {
    check("action.schema.json", warden_types::action_schema());
}

#[test]
fn verdict_schema_is_current() {
    check("verdict.schema.json", warden_types::verdict_schema());
}

#[test]
fn schema_accepts_the_minimal_action() {
    let schema = warden_types::action_schema();
    assert_eq!(schema["required"], serde_json::json!(["kind"]));
}
