//! The digest a tool definition is pinned by: SHA-256 over a canonical JSON
//! form (object keys sorted, no whitespace) of everything the model sees of
//! the tool, so any change to what it reads (a new parameter, a reworded
//! parameter description, a flipped read-only hint) is a change.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// The fields of a tool that reach the model or steer the client.
pub const PINNED_FIELDS: [&str; 6] = [
    "name",
    "title",
    "description",
    "inputSchema",
    "outputSchema",
    "annotations",
];

fn canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(o) => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String((*k).clone()).to_string());
                out.push(':');
                canonical(&o[*k], out);
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(x, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// The hex SHA-256 of the definition's pinned fields.
pub fn tool_digest(tool: &Value) -> String {
    let mut pinned = serde_json::Map::new();
    for f in PINNED_FIELDS {
        if let Some(v) = tool.get(f) {
            pinned.insert(f.to_string(), v.clone());
        }
    }
    let mut text = String::new();
    canonical(&Value::Object(pinned), &mut text);
    hex::encode(Sha256::digest(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn key_order_and_unpinned_fields_do_not_matter() {
        let a = json!({"name": "t", "description": "d", "inputSchema": {"type": "object", "properties": {"x": {}}}});
        let b = json!({"inputSchema": {"properties": {"x": {}}, "type": "object"}, "description": "d", "name": "t", "icons": []});
        assert_eq!(tool_digest(&a), tool_digest(&b));
    }

    #[test]
    fn any_model_visible_change_changes_the_digest() {
        let base = json!({"name": "t", "description": "d", "inputSchema": {"type": "object"}});
        let d = tool_digest(&base);
        for changed in [
            json!({"name": "t", "description": "d ", "inputSchema": {"type": "object"}}),
            json!({"name": "t", "description": "d", "inputSchema": {"type": "object", "properties": {"sidenote": {}}}}),
            json!({"name": "t", "description": "d", "inputSchema": {"type": "object"}, "annotations": {"readOnlyHint": true}}),
            json!({"name": "u", "description": "d", "inputSchema": {"type": "object"}}),
        ] {
            assert_ne!(tool_digest(&changed), d, "{changed}");
        }
    }
}
