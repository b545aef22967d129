//! What the model said, read from the response as it streams past: the tool
//! calls it asked for and the tokens used. The bytes themselves are relayed
//! unchanged and at once; this only looks. Anthropic Messages and OpenAI
//! Responses / Chat Completions, streamed (SSE) or whole (JSON).

use serde_json::Value;

/// The most response bytes looked at; past it only what was seen is recorded.
const MAX_OBSERVED: usize = 8 << 20;

/// What a response contained.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Seen {
    /// `(id, name)` of each tool call the model emitted.
    pub tool_uses: Vec<(String, String)>,
    /// Prompt tokens.
    pub input_tokens: Option<u64>,
    /// Completion tokens.
    pub output_tokens: Option<u64>,
    /// Why the model stopped.
    pub stop_reason: Option<String>,
}

/// Reads a response incrementally.
#[derive(Debug, Default)]
pub struct Observer {
    sse: bool,
    line: Vec<u8>,
    whole: Vec<u8>,
    observed: usize,
    /// What was found so far.
    pub seen: Seen,
}

impl Observer {
    /// An observer for a response of this content type.
    pub fn new(content_type: &str) -> Observer {
        Observer {
            sse: content_type.starts_with("text/event-stream"),
            ..Observer::default()
        }
    }

    /// Looks at the next chunk of the body.
    pub fn feed(&mut self, chunk: &[u8]) {
        if self.observed >= MAX_OBSERVED {
            return;
        }
        let take = chunk.len().min(MAX_OBSERVED - self.observed);
        self.observed += take;
        let chunk = &chunk[..take];
        if !self.sse {
            self.whole.extend_from_slice(chunk);
            return;
        }
        for &b in chunk {
            if b == b'\n' {
                let line = std::mem::take(&mut self.line);
                self.event_line(&line);
            } else {
                self.line.push(b);
            }
        }
    }

    /// The body ended: what was seen.
    pub fn finish(mut self) -> Seen {
        if self.sse {
            let line = std::mem::take(&mut self.line);
            self.event_line(&line);
        } else if let Ok(v) = serde_json::from_slice::<Value>(&self.whole) {
            self.message(&v);
        }
        self.seen
    }

    fn event_line(&mut self, line: &[u8]) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(data) = line.strip_prefix(b"data:") else {
            return;
        };
        if let Ok(v) = serde_json::from_slice::<Value>(data) {
            self.event(&v);
        }
    }

    /// One streamed event.
    fn event(&mut self, v: &Value) {
        match v["type"].as_str().unwrap_or_default() {
            // Anthropic.
            "message_start" => self.usage(&v["message"]["usage"]),
            "content_block_start" => self.block(&v["content_block"]),
            "message_delta" => {
                self.usage(&v["usage"]);
                self.stop(&v["delta"]["stop_reason"]);
            }
            // OpenAI Responses.
            "response.output_item.added" | "response.output_item.done" => self.block(&v["item"]),
            "response.completed" => self.message(&v["response"]),
            _ => {
                // OpenAI Chat Completions chunks.
                for c in v["choices"].as_array().into_iter().flatten() {
                    for t in c["delta"]["tool_calls"].as_array().into_iter().flatten() {
                        self.call(&t["id"], &t["function"]["name"]);
                    }
                    self.stop(&c["finish_reason"]);
                }
                self.usage(&v["usage"]);
            }
        }
    }

    /// A whole message or response object.
    fn message(&mut self, v: &Value) {
        for b in v["content"].as_array().into_iter().flatten() {
            self.block(b);
        }
        for b in v["output"].as_array().into_iter().flatten() {
            self.block(b);
        }
        for c in v["choices"].as_array().into_iter().flatten() {
            for t in c["message"]["tool_calls"].as_array().into_iter().flatten() {
                self.call(&t["id"], &t["function"]["name"]);
            }
            self.stop(&c["finish_reason"]);
        }
        self.usage(&v["usage"]);
        self.stop(&v["stop_reason"]);
    }

    fn block(&mut self, b: &Value) {
        match b["type"].as_str() {
            Some("tool_use" | "server_tool_use") => self.call(&b["id"], &b["name"]),
            Some("function_call") => {
                let id = if b["call_id"].is_string() {
                    &b["call_id"]
                } else {
                    &b["id"]
                };
                self.call(id, &b["name"]);
            }
            _ => {}
        }
    }

    fn call(&mut self, id: &Value, name: &Value) {
        let (Some(id), Some(name)) = (id.as_str(), name.as_str()) else {
            return;
        };
        if !self.seen.tool_uses.iter().any(|(i, _)| i == id) && self.seen.tool_uses.len() < 256 {
            self.seen.tool_uses.push((id.to_string(), name.to_string()));
        }
    }

    fn usage(&mut self, u: &Value) {
        let get = |k: &str| u[k].as_u64();
        if let Some(n) = get("input_tokens").or_else(|| get("prompt_tokens")) {
            self.seen.input_tokens = Some(n);
        }
        if let Some(n) = get("output_tokens").or_else(|| get("completion_tokens")) {
            self.seen.output_tokens = Some(n);
        }
    }

    fn stop(&mut self, r: &Value) {
        if let Some(r) = r.as_str() {
            self.seen.stop_reason = Some(r.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anthropic_stream_split_anywhere() {
        let stream = concat!(
            "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":42}}}\n\n",
            "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_01\",\"name\":\"Bash\",\"input\":{}}}\n\n",
            "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\"},\"usage\":{\"output_tokens\":7}}\n\n",
        );
        for cut in [1, 7, 50, stream.len() - 1] {
            let mut o = Observer::new("text/event-stream; charset=utf-8");
            o.feed(&stream.as_bytes()[..cut]);
            o.feed(&stream.as_bytes()[cut..]);
            let s = o.finish();
            assert_eq!(s.tool_uses, vec![("toolu_01".into(), "Bash".into())]);
            assert_eq!((s.input_tokens, s.output_tokens), (Some(42), Some(7)));
            assert_eq!(s.stop_reason.as_deref(), Some("tool_use"));
        }
    }

    #[test]
    fn openai_responses_and_chat() {
        let mut o = Observer::new("text/event-stream");
        o.feed(b"data: {\"type\":\"response.output_item.added\",\"item\":{\"type\":\"function_call\",\"call_id\":\"call_1\",\"name\":\"shell\"}}\n\n");
        o.feed(b"data: {\"type\":\"response.completed\",\"response\":{\"usage\":{\"input_tokens\":5,\"output_tokens\":3}}}\n\n");
        let s = o.finish();
        assert_eq!(s.tool_uses, vec![("call_1".into(), "shell".into())]);
        assert_eq!(s.output_tokens, Some(3));
        let mut o = Observer::new("application/json");
        o.feed(br#"{"choices":[{"message":{"tool_calls":[{"id":"c9","function":{"name":"get"}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":9,"completion_tokens":2}}"#);
        let s = o.finish();
        assert_eq!(s.tool_uses, vec![("c9".into(), "get".into())]);
        assert_eq!((s.input_tokens, s.output_tokens), (Some(9), Some(2)));
    }
}
