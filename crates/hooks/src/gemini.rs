//! Gemini CLI: `BeforeTool` gates a tool, `AfterTool` and the agent/model
//! events are recorded. Replies are `{"decision": "allow"|"deny", "reason"}`;
//! Gemini's `ask` hangs a headless run, so warden never sends it.

use serde_json::{Value, json};
use warden_types::{ActionKind, Decision, NetRequest, Verdict};

use crate::{
    Agent, Event, HookError, Ids, Phase, Reply, action, excerpt, glob_root, opt_str, reason_of,
    req_str,
};

const INTERNAL: [&str; 4] = ["save_memory", "write_todos", "ask_user", "activate_skill"];

fn phase(name: &str) -> Result<Phase, HookError> {
    Ok(match name {
        "BeforeTool" => Phase::Gate,
        "SessionStart" => Phase::SessionStart,
        "SessionEnd" => Phase::SessionEnd,
        "AfterTool"
        | "BeforeAgent"
        | "AfterAgent"
        | "BeforeModel"
        | "AfterModel"
        | "BeforeToolSelection"
        | "PreCompress"
        | "Notification" => Phase::Record,
        other => {
            return Err(HookError::UnknownEvent {
                agent: "gemini",
                event: other.to_string(),
            });
        }
    })
}

fn field(input: &Value, keys: &[&str], what: &str) -> Result<String, HookError> {
    keys.iter()
        .find_map(|k| opt_str(input, k))
        .ok_or_else(|| HookError::Field {
            event: what.to_string(),
            field: format!("tool_input.{}", keys[0]),
            expected: "string",
        })
}

/// URLs in free text (Gemini's `web_fetch` takes a prompt, not a URL).
fn urls(text: &str) -> Vec<String> {
    text.split(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '(' | ')'))
        .filter(|w| w.starts_with("http://") || w.starts_with("https://"))
        .map(|w| w.trim_end_matches(['.', ',', ';', ':']).to_string())
        .collect()
}

fn tool_actions(
    v: &Value,
    tool: &str,
    input: &Value,
    cwd: &str,
    what: &str,
) -> Result<Vec<ActionKind>, HookError> {
    let read = |path: String| ActionKind::FileRead { path };
    if let Some(mcp) = v.get("mcp_context").filter(|m| m.is_object()) {
        return Ok(vec![ActionKind::ToolCall {
            server: req_str(mcp, "server_name", what)?,
            tool: req_str(mcp, "tool_name", what)?,
            arguments: input.clone(),
        }]);
    }
    if INTERNAL.contains(&tool) {
        return Ok(Vec::new());
    }
    Ok(match tool {
        "run_shell_command" => vec![ActionKind::Shell {
            command: field(input, &["command"], what)?,
        }],
        "read_file" => vec![read(field(
            input,
            &["file_path", "absolute_path", "path"],
            what,
        )?)],
        "write_file" | "replace" | "edit" => vec![ActionKind::FileWrite {
            path: field(input, &["file_path", "absolute_path", "path"], what)?,
        }],
        "list_directory" => vec![read(field(input, &["dir_path", "path"], what)?)],
        "glob" => {
            let base = opt_str(input, "dir_path")
                .or_else(|| opt_str(input, "path"))
                .unwrap_or_else(|| cwd.to_string());
            vec![read(glob_root(&base, &field(input, &["pattern"], what)?))]
        }
        "grep_search" | "search_file_content" => vec![read(
            opt_str(input, "dir_path")
                .or_else(|| opt_str(input, "path"))
                .unwrap_or_else(|| cwd.to_string()),
        )],
        "read_many_files" => {
            let patterns: Vec<String> = ["include", "paths"]
                .iter()
                .filter_map(|k| input.get(*k).and_then(Value::as_array))
                .flatten()
                .filter_map(Value::as_str)
                .map(|p| glob_root(cwd, p))
                .collect();
            if patterns.is_empty() {
                vec![read(cwd.to_string())]
            } else {
                patterns.into_iter().map(read).collect()
            }
        }
        "web_fetch" => {
            let prompt = field(input, &["prompt", "url"], what)?;
            let found = urls(&prompt);
            if found.is_empty() {
                return Err(HookError::Field {
                    event: what.to_string(),
                    field: "tool_input.prompt (a URL in it)".into(),
                    expected: "URL",
                });
            }
            found
                .into_iter()
                .map(|url| {
                    ActionKind::Net(NetRequest {
                        url: Some(url),
                        method: Some("GET".into()),
                        ..NetRequest::default()
                    })
                })
                .collect()
        }
        "google_web_search" | "invoke_agent" => vec![ActionKind::ToolCall {
            server: "gemini".into(),
            tool: tool.to_string(),
            arguments: input.clone(),
        }],
        other => {
            return Err(HookError::UnknownTool {
                agent: "gemini",
                tool: other.to_string(),
            });
        }
    })
}

pub(crate) fn parse(v: &Value) -> Result<Event, HookError> {
    let name = opt_str(v, "hook_event_name").ok_or(HookError::NoEvent("hook_event_name"))?;
    let phase = phase(&name)?;
    let ids = Ids {
        session: opt_str(v, "session_id"),
        turn: opt_str(v, "prompt_id"),
        tool_use: None,
        tool: opt_str(v, "tool_name"),
    };
    let cwd = opt_str(v, "cwd").unwrap_or_default();
    let input = v.get("tool_input").cloned().unwrap_or(Value::Null);
    let mut actions = Vec::new();
    let mut note = name.clone();
    match phase {
        Phase::Gate => {
            let tool = req_str(v, "tool_name", &name)?;
            let input = if input.is_null() {
                json!({})
            } else {
                input.clone()
            };
            let what = format!("{name} {tool}");
            for kind in tool_actions(v, &tool, &input, &cwd, &what)? {
                actions.push(action(Agent::Gemini, &cwd, kind, &ids));
            }
            if actions.is_empty() {
                note = format!("{tool} changes only the agent's own state");
            }
        }
        Phase::Record if name == "AfterTool" => {
            let response = v.get("tool_response");
            let failed = response
                .and_then(|r| r.get("error"))
                .is_some_and(|e| !e.is_null());
            note = format!(
                "{} {}: {}",
                ids.tool.as_deref().unwrap_or("a tool"),
                if failed { "failed" } else { "finished" },
                response
                    .and_then(|r| r.get("returnDisplay").or(r.get("llmContent")))
                    .map(excerpt)
                    .unwrap_or_default()
            );
        }
        Phase::Record if name == "BeforeAgent" => {
            note = format!(
                "prompt: {}",
                v.get("prompt").map(excerpt).unwrap_or_default()
            );
        }
        _ => {}
    }
    Ok(Event {
        agent: Agent::Gemini,
        name,
        phase,
        session: ids.session,
        turn: ids.turn,
        tool_use: None,
        cwd,
        tool: ids.tool,
        actions,
        note,
        input,
    })
}

pub(crate) fn reply(event: &Event, verdict: &Verdict) -> Reply {
    let updated = crate::rewritten_input(event, verdict);
    let verdict = &crate::unless_rewritten(verdict, &updated);
    let body = match event.phase {
        Phase::Gate | Phase::Permission if verdict.decision == Decision::Allow => {
            match updated {
                // Gemini runs the tool with the input a hook hands back.
                Some(input) => {
                    json!({"decision": "allow", "hookSpecificOutput": {"tool_input": input}})
                }
                None => json!({"decision": "allow"}),
            }
        }
        Phase::Gate | Phase::Permission => {
            json!({"decision": "deny", "reason": reason_of(verdict)})
        }
        _ => json!({}),
    };
    Reply::json(&body)
}

pub(crate) fn refusal(reason: &str) -> Reply {
    // Gemini reads JSON on stdout whatever the exit code; exit 2 blocks too
    // should the JSON be lost.
    Reply::blocking(&json!({"decision": "deny", "reason": reason}), reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_in_a_prompt() {
        assert_eq!(
            urls("Summarise https://example.com/a, and (http://x.org/b)."),
            vec!["https://example.com/a", "http://x.org/b"]
        );
    }
}
