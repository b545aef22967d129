//! Cursor: `beforeShellExecution`, `beforeMCPExecution` and `beforeReadFile`
//! gate; the rest are recorded. Replies are
//! `{"permission": "allow"|"deny"|"ask", "user_message", "agent_message"}`.

use serde_json::{Value, json};
use warden_types::{ActionKind, Decision, Verdict};

use crate::{
    Agent, Event, HookError, Ids, Phase, Reply, action, excerpt, opt_str, reason_of, req_str,
};

fn phase(name: &str) -> Result<Phase, HookError> {
    Ok(match name {
        "beforeShellExecution" | "beforeMCPExecution" | "beforeReadFile" => Phase::Gate,
        "sessionStart" => Phase::SessionStart,
        "sessionEnd" => Phase::SessionEnd,
        "beforeSubmitPrompt"
        | "afterFileEdit"
        | "afterShellExecution"
        | "afterMCPExecution"
        | "afterAgentResponse"
        | "afterAgentThought"
        | "stop" => Phase::Record,
        other => {
            return Err(HookError::UnknownEvent {
                agent: "cursor",
                event: other.to_string(),
            });
        }
    })
}

/// Cursor names no server in `beforeMCPExecution`: the server is known by
/// its URL's host or its command's program name.
fn server_of(v: &Value) -> String {
    if let Some(s) = opt_str(v, "server").or_else(|| opt_str(v, "server_name")) {
        return s;
    }
    if let Some(url) = opt_str(v, "url") {
        let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(&url);
        return rest
            .split(['/', ':', '?'])
            .next()
            .unwrap_or_default()
            .to_string();
    }
    opt_str(v, "command")
        .and_then(|c| {
            c.split_whitespace()
                .next()
                .map(|p| p.rsplit('/').next().unwrap_or(p).to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

pub(crate) fn parse(v: &Value) -> Result<Event, HookError> {
    let name = opt_str(v, "hook_event_name").ok_or(HookError::NoEvent("hook_event_name"))?;
    let phase = phase(&name)?;
    let ids = Ids {
        session: opt_str(v, "conversation_id"),
        turn: opt_str(v, "generation_id"),
        tool_use: None,
        tool: opt_str(v, "tool_name"),
    };
    let root = v
        .get("workspace_roots")
        .and_then(Value::as_array)
        .and_then(|r| r.first())
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let cwd = opt_str(v, "cwd").filter(|c| !c.is_empty()).unwrap_or(root);
    let kind = match name.as_str() {
        "beforeShellExecution" => Some(ActionKind::Shell {
            command: req_str(v, "command", &name)?,
        }),
        "beforeReadFile" => Some(ActionKind::FileRead {
            path: req_str(v, "file_path", &name)?,
        }),
        "beforeMCPExecution" => {
            // tool_input arrives as a JSON string; keep it as text if it is not JSON.
            let arguments = match v.get("tool_input") {
                Some(Value::String(s)) => {
                    serde_json::from_str(s).unwrap_or(Value::String(s.clone()))
                }
                Some(other) => other.clone(),
                None => json!({}),
            };
            Some(ActionKind::ToolCall {
                server: server_of(v),
                tool: req_str(v, "tool_name", &name)?,
                arguments,
            })
        }
        _ => None,
    };
    let note = match name.as_str() {
        "beforeSubmitPrompt" => format!(
            "prompt: {}",
            v.get("prompt").map(excerpt).unwrap_or_default()
        ),
        "afterFileEdit" => format!("edited {}", opt_str(v, "file_path").unwrap_or_default()),
        "stop" => format!("stopped ({})", opt_str(v, "status").unwrap_or_default()),
        _ => name.clone(),
    };
    Ok(Event {
        agent: Agent::Cursor,
        actions: kind
            .into_iter()
            .map(|k| action(Agent::Cursor, &cwd, k, &ids))
            .collect(),
        name,
        phase,
        session: ids.session,
        turn: ids.turn,
        tool_use: None,
        cwd,
        tool: ids.tool,
        note,
        input: Value::Null,
    })
}

pub(crate) fn reply(event: &Event, verdict: &Verdict) -> Reply {
    // Cursor's hooks cannot hand back a changed command.
    let verdict = &crate::unless_rewritten(verdict, &None);
    let body = match (event.phase, event.name.as_str()) {
        (Phase::Gate, _) => {
            let reason = reason_of(verdict);
            // beforeReadFile knows only allow and deny.
            let permission = match (verdict.decision, event.name.as_str()) {
                (Decision::Ask, "beforeReadFile") => Decision::Deny,
                (d, _) => d,
            };
            json!({"permission": permission.as_str(), "user_message": reason, "agent_message": reason})
        }
        (_, "beforeSubmitPrompt") => json!({"continue": true}),
        _ => json!({}),
    };
    Reply::json(&body)
}

pub(crate) fn refusal(reason: &str) -> Reply {
    Reply::blocking(
        &json!({"permission": "deny", "continue": false, "user_message": reason, "agent_message": reason}),
        reason,
    )
}
