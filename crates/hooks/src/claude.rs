//! Claude Code and Codex CLI: one hook family. Both send
//! `{session_id, cwd, hook_event_name, tool_name, tool_input, tool_use_id…}`
//! and read `hookSpecificOutput.permissionDecision`; Codex adds `turn_id`,
//! reports its exec tool as `Bash` and its patches as `apply_patch` with the
//! patch text in `tool_input.command`.

use serde_json::{Value, json};
use warden_types::{ActionKind, Decision, NetRequest, Verdict};

use crate::patch::{FileChange, changes};
use crate::{
    Agent, Event, HookError, Ids, Phase, Reply, action, excerpt, glob_root, opt_str, reason_of,
    req_str,
};

/// Tools that only change the agent's own state (its to-do list, its plan
/// mode, its own background shells' output): nothing to decide.
const INTERNAL: [&str; 17] = [
    "TodoWrite",
    "TodoRead",
    "ExitPlanMode",
    "EnterPlanMode",
    "AskUserQuestion",
    "BashOutput",
    "TaskOutput",
    "KillShell",
    "KillBash",
    "TaskStop",
    "ToolSearch",
    "update_plan",
    "ListAgents",
    "CronList",
    "Monitor",
    "ReportFindings",
    "DeferredToolPlaceholder",
];

fn phase(agent: Agent, name: &str) -> Result<Phase, HookError> {
    Ok(match name {
        "PreToolUse" => Phase::Gate,
        "PermissionRequest" => Phase::Permission,
        "SessionStart" => Phase::SessionStart,
        "SessionEnd" => Phase::SessionEnd,
        "PostToolUse" | "PostToolUseFailure" | "UserPromptSubmit" | "Stop" | "SubagentStart"
        | "SubagentStop" | "PreCompact" | "PostCompact" | "Notification" | "Interrupt"
        | "TaskCompleted" | "TeammateIdle" => Phase::Record,
        other => {
            return Err(HookError::UnknownEvent {
                agent: agent.name(),
                event: other.to_string(),
            });
        }
    })
}

pub(crate) fn parse(agent: Agent, v: &Value) -> Result<Event, HookError> {
    let name = opt_str(v, "hook_event_name").ok_or(HookError::NoEvent("hook_event_name"))?;
    let phase = phase(agent, &name)?;
    let ids = Ids {
        session: opt_str(v, "session_id"),
        turn: opt_str(v, "turn_id").or_else(|| opt_str(v, "prompt_id")),
        tool_use: opt_str(v, "tool_use_id"),
        tool: opt_str(v, "tool_name"),
    };
    let cwd = opt_str(v, "cwd").unwrap_or_default();
    let input = v.get("tool_input").cloned().unwrap_or(Value::Null);
    let mut actions = Vec::new();
    let mut note = String::new();
    match phase {
        Phase::Gate | Phase::Permission => {
            let tool = req_str(v, "tool_name", &name)?;
            let input = if input.is_null() {
                json!({})
            } else {
                input.clone()
            };
            let what = format!("{name} {tool}");
            for kind in tool_actions(agent, &tool, &input, &cwd, &what)? {
                actions.push(action(agent, &cwd, kind, &ids));
            }
            if actions.is_empty() {
                note = format!("{tool} changes only the agent's own state");
            }
        }
        Phase::Record => {
            note = match name.as_str() {
                "PostToolUse" => format!(
                    "{} finished: {}",
                    ids.tool.as_deref().unwrap_or("a tool"),
                    v.get("tool_response").map(excerpt).unwrap_or_default()
                ),
                "PostToolUseFailure" => format!(
                    "{} failed: {}",
                    ids.tool.as_deref().unwrap_or("a tool"),
                    v.get("error").map(excerpt).unwrap_or_default()
                ),
                "UserPromptSubmit" => format!(
                    "prompt: {}",
                    v.get("prompt").map(excerpt).unwrap_or_default()
                ),
                other => other.to_string(),
            };
        }
        Phase::SessionStart => {
            note = format!(
                "session started ({})",
                opt_str(v, "source").unwrap_or_else(|| "startup".into())
            )
        }
        Phase::SessionEnd => {
            note = format!(
                "session ended ({})",
                opt_str(v, "reason").unwrap_or_else(|| "other".into())
            )
        }
    }
    Ok(Event {
        agent,
        name,
        phase,
        session: ids.session,
        turn: ids.turn,
        tool_use: ids.tool_use,
        cwd,
        tool: ids.tool,
        actions,
        note,
        input,
    })
}

fn path_field(input: &Value, key: &str, what: &str) -> Result<String, HookError> {
    req_str(input, key, what).map_err(|e| match e {
        HookError::Field {
            event,
            field,
            expected,
        } => HookError::Field {
            event,
            field: format!("tool_input.{field}"),
            expected,
        },
        other => other,
    })
}

/// The actions a tool call performs.
fn tool_actions(
    agent: Agent,
    tool: &str,
    input: &Value,
    cwd: &str,
    what: &str,
) -> Result<Vec<ActionKind>, HookError> {
    let one = |k| Ok(vec![k]);
    if let Some(rest) = tool.strip_prefix("mcp__")
        && let Some((server, name)) = rest.split_once("__")
        && !server.is_empty()
        && !name.is_empty()
    {
        return one(ActionKind::ToolCall {
            server: server.to_string(),
            tool: name.to_string(),
            arguments: input.clone(),
        });
    }
    if INTERNAL.contains(&tool) {
        return Ok(Vec::new());
    }
    let agent_tool = |name: &str| ActionKind::ToolCall {
        server: agent.name().to_string(),
        tool: name.to_string(),
        arguments: input.clone(),
    };
    match (agent, tool) {
        (_, "Bash") => one(ActionKind::Shell {
            command: path_field(input, "command", what)?,
        }),
        (Agent::ClaudeCode, "Read") => one(ActionKind::FileRead {
            path: path_field(input, "file_path", what)?,
        }),
        (Agent::ClaudeCode, "Write" | "Edit" | "MultiEdit") => one(ActionKind::FileWrite {
            path: path_field(input, "file_path", what)?,
        }),
        (Agent::ClaudeCode, "NotebookEdit") => one(ActionKind::FileWrite {
            path: path_field(input, "notebook_path", what)?,
        }),
        (Agent::ClaudeCode, "Glob") => {
            let base = opt_str(input, "path").unwrap_or_else(|| cwd.to_string());
            let pattern = path_field(input, "pattern", what)?;
            one(ActionKind::FileRead {
                path: glob_root(&base, &pattern),
            })
        }
        (Agent::ClaudeCode, "Grep" | "LS") => one(ActionKind::FileRead {
            path: opt_str(input, "path").unwrap_or_else(|| cwd.to_string()),
        }),
        (Agent::ClaudeCode, "WebFetch") => one(ActionKind::Net(NetRequest {
            url: Some(path_field(input, "url", what)?),
            method: Some("GET".into()),
            ..NetRequest::default()
        })),
        // Tools whose effects reach beyond the agent's own state (other
        // agents, scheduled prompts, worktrees, workflows): decided as tool
        // calls of the agent itself, so rules can name them
        // (`mcp__claude-code__SendMessage`).
        (
            Agent::ClaudeCode,
            "WebSearch" | "Task" | "Agent" | "Skill" | "SlashCommand" | "SendMessage"
            | "CronCreate" | "CronDelete" | "EnterWorktree" | "ExitWorktree" | "ScheduleWakeup"
            | "Workflow",
        ) => one(agent_tool(tool)),
        (Agent::ClaudeCode, "ListMcpResourcesTool" | "ReadMcpResourceTool") => {
            one(ActionKind::ToolCall {
                server: opt_str(input, "server").unwrap_or_else(|| "claude-code".into()),
                tool: tool.to_string(),
                arguments: input.clone(),
            })
        }
        (Agent::Codex, "apply_patch") => {
            let text = path_field(input, "command", what)
                .or_else(|_| path_field(input, "patch", what))
                .or_else(|_| path_field(input, "input", what))?;
            Ok(changes(&text)?
                .into_iter()
                .map(|c| match c {
                    FileChange::Write(path) => ActionKind::FileWrite { path },
                    FileChange::Delete(path) => ActionKind::FileDelete { path },
                })
                .collect())
        }
        (Agent::Codex, "view_image") => one(ActionKind::FileRead {
            path: path_field(input, "path", what)?,
        }),
        (Agent::Codex, "web_search") => one(agent_tool(tool)),
        _ => Err(HookError::UnknownTool {
            agent: agent.name(),
            tool: tool.to_string(),
        }),
    }
}

pub(crate) fn reply(event: &Event, verdict: &Verdict) -> Reply {
    let updated = crate::rewritten_input(event, verdict);
    let verdict = &crate::unless_rewritten(verdict, &updated);
    let reason = reason_of(verdict);
    let body = match event.phase {
        Phase::Gate => {
            // Codex runs the tool on "ask"; warden's asks are answered before
            // this reply, so an ask still standing here is a deny for Codex.
            let decision = match (event.agent, verdict.decision) {
                (Agent::Codex, Decision::Ask) => Decision::Deny,
                (_, d) => d,
            };
            let mut out = json!({
                "hookEventName": "PreToolUse",
                "permissionDecision": decision.as_str(),
                "permissionDecisionReason": reason,
            });
            if let Some(input) = updated {
                out["updatedInput"] = input;
            }
            json!({ "hookSpecificOutput": out })
        }
        // The agent's own prompt for a tool that changes only its own state
        // (leaving plan mode, a question to the user) stays the user's.
        Phase::Permission if event.actions.is_empty() => json!({}),
        Phase::Permission => {
            let mut decision = if verdict.decision == Decision::Allow {
                json!({"behavior": "allow"})
            } else {
                json!({"behavior": "deny", "message": reason})
            };
            if let Some(input) = updated {
                decision["updatedInput"] = input;
            }
            json!({"hookSpecificOutput": {
                "hookEventName": "PermissionRequest",
                "decision": decision,
            }})
        }
        Phase::Record | Phase::SessionStart | Phase::SessionEnd => json!({}),
    };
    Reply::json(&body)
}

pub(crate) fn refusal(event: Option<&str>, reason: &str) -> Reply {
    let body = match event {
        Some("PreToolUse") => json!({"hookSpecificOutput": {
            "hookEventName": "PreToolUse",
            "permissionDecision": "deny",
            "permissionDecisionReason": reason,
        }}),
        Some("PermissionRequest") => json!({"hookSpecificOutput": {
            "hookEventName": "PermissionRequest",
            "decision": {"behavior": "deny", "message": reason},
        }}),
        Some("UserPromptSubmit") => json!({"decision": "block", "reason": reason}),
        // Exit 2 blocks what the event guards and shows the reason.
        _ => {
            return Reply {
                body: String::new(),
                stderr: reason.to_string(),
                exit_code: 2,
            };
        }
    };
    Reply {
        body: body.to_string(),
        stderr: reason.to_string(),
        exit_code: 0,
    }
}
