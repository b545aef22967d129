//! JSON-RPC 2.0 messages as MCP uses them: one object per message, never a
//! batch (removed in 2025-06-18; a batch would let calls slip past the
//! per-message decision).

use serde_json::{Value, json};

/// JSON-RPC error codes the gateway answers with.
pub mod code {
    /// Not JSON.
    pub const PARSE_ERROR: i64 = -32700;
    /// JSON but not a JSON-RPC message, a batch, or too large.
    pub const INVALID_REQUEST: i64 = -32600;
    /// Bad parameters, or a tool the gateway hides.
    pub const INVALID_PARAMS: i64 = -32602;
    /// The gateway or the server failed.
    pub const INTERNAL_ERROR: i64 = -32603;
}

/// A parsed message.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// Expects a response.
    Request {
        /// The id, exactly as sent (a string `"1"` is not the number `1`).
        id: Value,
        /// The method.
        method: String,
    },
    /// Expects none.
    Notification {
        /// The method.
        method: String,
    },
    /// A result or an error for a request.
    Response {
        /// The request's id.
        id: Value,
    },
}

/// Why a line is not a message, with what to answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct Invalid {
    /// The JSON-RPC error code.
    pub code: i64,
    /// What was wrong.
    pub message: String,
    /// The request's id when it could be read, else null.
    pub id: Value,
}

fn invalid(code: i64, message: impl Into<String>, id: Value) -> Invalid {
    Invalid {
        code,
        message: message.into(),
        id,
    }
}

/// Parses one message; the value is returned with it so it can be forwarded
/// or edited.
pub fn parse(bytes: &[u8]) -> Result<(Value, Message), Invalid> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        invalid(
            code::PARSE_ERROR,
            format!("Parse error: not JSON ({e})"),
            Value::Null,
        )
    })?;
    let msg = classify(&value)?;
    Ok((value, msg))
}

fn classify(v: &Value) -> Result<Message, Invalid> {
    let Some(obj) = v.as_object() else {
        let what = if v.is_array() {
            "JSON-RPC batches are not supported (removed in MCP 2025-06-18)"
        } else {
            "a message must be a JSON object"
        };
        return Err(invalid(
            code::INVALID_REQUEST,
            format!("Invalid Request: {what}"),
            Value::Null,
        ));
    };
    let id = obj.get("id").cloned();
    let id_ok = |id: &Value| id.is_string() || id.as_i64().is_some() || id.as_u64().is_some();
    let echo = id.clone().filter(id_ok).unwrap_or(Value::Null);
    if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err(invalid(
            code::INVALID_REQUEST,
            "Invalid Request: \"jsonrpc\" must be \"2.0\"",
            echo,
        ));
    }
    match (obj.get("method"), id) {
        (Some(Value::String(m)), None) => Ok(Message::Notification { method: m.clone() }),
        (Some(Value::String(m)), Some(id)) if id_ok(&id) => {
            if obj.get("params").is_some_and(|p| !p.is_object()) {
                return Err(invalid(
                    code::INVALID_PARAMS,
                    "Invalid params: \"params\" must be an object",
                    id,
                ));
            }
            Ok(Message::Request {
                id,
                method: m.clone(),
            })
        }
        (Some(_), _) => Err(invalid(
            code::INVALID_REQUEST,
            "Invalid Request: \"method\" must be a string and \"id\" a string or an integer",
            echo,
        )),
        (None, Some(id)) if obj.contains_key("result") != obj.contains_key("error") => {
            Ok(Message::Response { id })
        }
        (None, _) => Err(invalid(
            code::INVALID_REQUEST,
            "Invalid Request: neither a request (method) nor a response (result or error)",
            echo,
        )),
    }
}

/// An error response.
pub fn error(id: &Value, code: i64, message: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}

/// A result response.
pub fn result(id: &Value, result: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "result": result})
}

/// A key for an id usable in maps: its JSON text (so `"1"` and `1` differ).
pub fn id_key(id: &Value) -> String {
    id.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_and_what_is_not_one() {
        let ok = |s: &str| parse(s.as_bytes()).map(|(_, m)| m);
        assert_eq!(
            ok(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#),
            Ok(Message::Request {
                id: json!(1),
                method: "tools/list".into()
            })
        );
        assert_eq!(
            ok(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#),
            Ok(Message::Notification {
                method: "notifications/initialized".into()
            })
        );
        assert_eq!(
            ok(r#"{"jsonrpc":"2.0","id":"a","result":{}}"#),
            Ok(Message::Response { id: json!("a") })
        );
        for (bad, code) in [
            ("nope", code::PARSE_ERROR),
            ("[]", code::INVALID_REQUEST),
            ("42", code::INVALID_REQUEST),
            (r#"{"id":1,"method":"x"}"#, code::INVALID_REQUEST),
            (
                r#"{"jsonrpc":"2.0","id":1.5,"method":"x"}"#,
                code::INVALID_REQUEST,
            ),
            (
                r#"{"jsonrpc":"2.0","id":null,"method":"x"}"#,
                code::INVALID_REQUEST,
            ),
            (
                r#"{"jsonrpc":"2.0","id":1,"method":"x","params":[1]}"#,
                code::INVALID_PARAMS,
            ),
            (
                r#"{"jsonrpc":"2.0","id":1,"result":{},"error":{}}"#,
                code::INVALID_REQUEST,
            ),
        ] {
            assert_eq!(ok(bad).map_err(|e| e.code), Err(code), "{bad}");
        }
    }
}
