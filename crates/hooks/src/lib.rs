//! Pure translation between agents' hook payloads and warden's vocabulary.
//!
//! An agent's hook (Claude Code, Codex CLI, Gemini CLI, Cursor) hands warden a
//! JSON payload describing what the agent is about to do or just did;
//! [`parse`] turns it into an [`Event`] carrying the [`Action`]s to decide, and
//! [`reply`] turns the verdict into the answer that agent understands. No I/O:
//! the daemon and `warden hook` do the talking.
//!
//! Fail closed: a payload that cannot be understood (not JSON, an unknown
//! event, an unknown tool, a missing field) is an error, and [`refusal`]
//! builds the agent's native "deny" for it.
#![forbid(unsafe_code)]

mod claude;
mod cursor;
mod gemini;
pub mod patch;

use serde_json::Value;
use warden_types::{Action, ActionContext, ActionKind, Decision, Origin, Verdict};

/// The agents warden has hook adapters for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Agent {
    /// Anthropic's Claude Code.
    ClaudeCode,
    /// OpenAI's Codex CLI.
    Codex,
    /// Google's Gemini CLI.
    Gemini,
    /// The Cursor editor's agent.
    Cursor,
}

impl Agent {
    /// Whether the agent runs the tool input a hook hands back (Claude Code's
    /// `updatedInput`, Gemini's `tool_input`): only then can a rewritten
    /// command be run instead of the original.
    pub fn takes_rewrites(self) -> bool {
        matches!(self, Agent::ClaudeCode | Agent::Gemini)
    }

    /// Every adapter.
    pub const ALL: [Agent; 4] = [
        Agent::ClaudeCode,
        Agent::Codex,
        Agent::Gemini,
        Agent::Cursor,
    ];

    /// The name used in URLs, commands and policies (`claude-code`…).
    pub fn name(self) -> &'static str {
        match self {
            Agent::ClaudeCode => "claude-code",
            Agent::Codex => "codex",
            Agent::Gemini => "gemini",
            Agent::Cursor => "cursor",
        }
    }

    /// The agent called `name`.
    pub fn from_name(name: &str) -> Option<Agent> {
        Agent::ALL.into_iter().find(|a| a.name() == name)
    }

    /// The origin its actions carry.
    pub fn origin(self) -> Origin {
        match self {
            Agent::ClaudeCode => Origin::HookClaudeCode,
            Agent::Codex => Origin::HookCodex,
            Agent::Gemini => Origin::HookGemini,
            Agent::Cursor => Origin::HookCursor,
        }
    }
}

/// What an event asks of warden.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// A tool is about to run: decide its actions (strictest wins).
    Gate,
    /// The agent would ask its user for permission (Claude Code's
    /// `PermissionRequest`): decide its actions; the answer replaces the prompt.
    Permission,
    /// Something happened (a tool finished, a prompt was sent, the agent
    /// stopped): record it.
    Record,
    /// A session began.
    SessionStart,
    /// A session ended.
    SessionEnd,
}

/// One hook event, translated.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Whose hook sent it.
    pub agent: Agent,
    /// The agent's own event name (`PreToolUse`, `BeforeTool`…).
    pub name: String,
    /// What it asks of warden.
    pub phase: Phase,
    /// The agent's session id, as the agent reports it.
    pub session: Option<String>,
    /// The agent's turn id (prompt, generation).
    pub turn: Option<String>,
    /// The agent's id for this tool use.
    pub tool_use: Option<String>,
    /// The agent's working directory for the event.
    pub cwd: String,
    /// The tool, for tool events.
    pub tool: Option<String>,
    /// What to decide (gate and permission events); empty for a tool that only
    /// changes the agent's own state (a to-do list, plan mode).
    pub actions: Vec<Action>,
    /// One line for the audit log about what happened (record events).
    pub note: String,
    /// The tool's input as the agent sent it (gate events), for a reply that
    /// rewrites it.
    pub input: Value,
}

impl Event {
    /// Whether the agent waits for a decision.
    pub fn decides(&self) -> bool {
        matches!(self.phase, Phase::Gate | Phase::Permission)
    }
}

/// Why a payload was not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HookError {
    /// Not JSON, or not an object.
    #[error("the hook payload is not a JSON object: {0}")]
    NotJson(String),
    /// No event name.
    #[error("the hook payload names no event ({0} is missing)")]
    NoEvent(&'static str),
    /// An event this adapter does not know.
    #[error("unknown {agent} hook event {event:?}")]
    UnknownEvent {
        /// The agent.
        agent: &'static str,
        /// The event.
        event: String,
    },
    /// A tool this adapter does not know: warden cannot say what it does.
    #[error("unknown {agent} tool {tool:?}: warden cannot tell what it does, so it is denied")]
    UnknownTool {
        /// The agent.
        agent: &'static str,
        /// The tool.
        tool: String,
    },
    /// A required field is missing or has the wrong type.
    #[error("{event}: field {field} is missing or not a {expected}")]
    Field {
        /// The event (and tool).
        event: String,
        /// The field's path.
        field: String,
        /// The expected JSON type.
        expected: &'static str,
    },
    /// A Codex patch that cannot be read.
    #[error("apply_patch: {0}")]
    Patch(#[from] patch::PatchError),
}

/// The answer in the agent's own format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// JSON for stdout (command hooks) or the response body (HTTP hooks).
    pub body: String,
    /// Text for stderr (a reason the agent shows when it blocks on exit 2).
    pub stderr: String,
    /// The exit code of a command hook.
    pub exit_code: i32,
}

impl Reply {
    /// A JSON answer on stdout, exit 0.
    pub(crate) fn json(body: &serde_json::Value) -> Reply {
        Reply {
            body: body.to_string(),
            stderr: String::new(),
            exit_code: 0,
        }
    }

    /// A JSON deny that also blocks by exit code (for agents that read JSON
    /// whatever the exit code, or block on exit 2 when the JSON is lost).
    pub(crate) fn blocking(body: &serde_json::Value, reason: &str) -> Reply {
        Reply {
            body: body.to_string(),
            stderr: reason.to_string(),
            exit_code: 2,
        }
    }
}

/// Parses a payload from `agent`'s hook.
pub fn parse(agent: Agent, payload: &[u8]) -> Result<Event, HookError> {
    let v: Value =
        serde_json::from_slice(payload).map_err(|e| HookError::NotJson(e.to_string()))?;
    if !v.is_object() {
        return Err(HookError::NotJson("the top level is not an object".into()));
    }
    match agent {
        Agent::ClaudeCode | Agent::Codex => claude::parse(agent, &v),
        Agent::Gemini => gemini::parse(&v),
        Agent::Cursor => cursor::parse(&v),
    }
}

/// The native answer to `event` for `verdict`.
pub fn reply(event: &Event, verdict: &Verdict) -> Reply {
    match event.agent {
        Agent::ClaudeCode | Agent::Codex => claude::reply(event, verdict),
        Agent::Gemini => gemini::reply(event, verdict),
        Agent::Cursor => cursor::reply(event, verdict),
    }
}

/// The native deny for a payload that could not be parsed or decided (the
/// daemon unreachable, slow, or the input malformed). `event` is the event
/// name if it could be read; unreadable payloads get the blocking exit code
/// with the reason on stderr.
pub fn refusal(agent: Agent, event: Option<&str>, reason: &str) -> Reply {
    let reason = format!("warden: {reason}");
    match agent {
        Agent::ClaudeCode | Agent::Codex => claude::refusal(event, &reason),
        Agent::Gemini => gemini::refusal(&reason),
        Agent::Cursor => cursor::refusal(&reason),
    }
}

/// The event name in a payload, if one can be read (for [`refusal`]).
pub fn event_name(payload: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(payload).ok()?;
    v.get("hook_event_name")
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// Several actions' verdicts as one: the strictest decision, with its rules
/// and reasons; receipts of the others are kept out (the strictest one's
/// receipt proves the decision that was enforced).
pub fn combine(verdicts: Vec<Verdict>) -> Verdict {
    let Some(max) = verdicts.iter().map(|v| v.decision).max() else {
        // No verdict is no decision: deny.
        return Verdict::malformed("no action was decided");
    };
    let mut strictest: Vec<Verdict> = verdicts.into_iter().filter(|v| v.decision == max).collect();
    let mut first = strictest.remove(0);
    for v in strictest {
        for r in v.rules {
            if !first.rules.contains(&r) {
                first.rules.push(r);
            }
        }
        if !v.reason.is_empty() && !first.reason.contains(&v.reason) {
            first.reason = format!("{}; {}", first.reason, v.reason);
        }
        first.threat = first.threat.max(v.threat);
    }
    first
}

/// Builds an action of `kind` for an event.
pub(crate) fn action(agent: Agent, cwd: &str, kind: ActionKind, ids: &Ids) -> Action {
    let mut a = Action::new(cwd, kind);
    a.origin = agent.origin();
    a.agent.name = agent.name().to_string();
    let mut ctx = ActionContext {
        tool_use_id: ids.tool_use.clone(),
        turn_id: ids.turn.clone(),
        ..ActionContext::default()
    };
    if let Some(s) = &ids.session {
        ctx.extra.insert("agent_session".into(), s.clone());
    }
    if let Some(t) = &ids.tool {
        ctx.extra.insert("agent_tool".into(), t.clone());
    }
    // Elsewhere a rewrite is a deny (in the policy).
    if agent.takes_rewrites() && matches!(a.kind, ActionKind::Shell { .. }) {
        ctx.extra
            .insert(warden_types::TAKES_REWRITES.into(), "yes".into());
    }
    a.context = Some(ctx);
    a
}

/// The correlation ids of an event.
#[derive(Debug, Clone, Default)]
pub(crate) struct Ids {
    pub session: Option<String>,
    pub turn: Option<String>,
    pub tool_use: Option<String>,
    pub tool: Option<String>,
}

pub(crate) fn opt_str(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

pub(crate) fn req_str(v: &Value, key: &str, event: &str) -> Result<String, HookError> {
    v.get(key)
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| HookError::Field {
            event: event.to_string(),
            field: key.to_string(),
            expected: "string",
        })
}

/// The directory a glob starts from: its literal prefix (so `/etc/**` reads
/// `/etc`, `**/*.rs` reads the base).
pub(crate) fn glob_root(base: &str, pattern: &str) -> String {
    let literal: Vec<&str> = pattern
        .split('/')
        .take_while(|seg| !seg.contains(['*', '?', '[', '{']))
        .collect();
    let prefix = literal.join("/");
    if pattern.starts_with('/') {
        if prefix.is_empty() {
            "/".into()
        } else {
            prefix
        }
    } else if prefix.is_empty() {
        base.to_string()
    } else if base.is_empty() {
        prefix
    } else {
        format!("{}/{prefix}", base.trim_end_matches('/'))
    }
}

/// A short, single-line excerpt of a tool's output for the audit.
pub(crate) fn excerpt(v: &Value) -> String {
    let text = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let one_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let mut out: String = one_line.chars().take(200).collect();
    if one_line.chars().count() > 200 {
        out.push('…');
    }
    out
}

/// The tool input with its command replaced by the verdict's rewrite, when
/// the verdict allows a rewritten shell command.
pub(crate) fn rewritten_input(event: &Event, verdict: &Verdict) -> Option<Value> {
    let new = verdict
        .rewrite
        .as_ref()
        .filter(|_| event.agent.takes_rewrites() && verdict.decision == Decision::Allow)?;
    let mut input = event.input.clone();
    let obj = input.as_object_mut()?;
    obj.contains_key("command").then(|| {
        obj.insert("command".into(), Value::String(new.clone()));
    })?;
    Some(input)
}

/// A verdict carrying a rewrite the reply cannot hand over (no `command`
/// in the input, or not an allow) is a deny: the agent would run the original.
pub(crate) fn unless_rewritten(verdict: &Verdict, updated: &Option<Value>) -> Verdict {
    let mut v = verdict.clone();
    if let Some(new) = &verdict.rewrite
        && updated.is_none()
        && verdict.decision != Decision::Deny
    {
        v.decision = Decision::Deny;
        v.reason =
            format!("this is allowed only as `{new}`, which cannot be handed to the agent here");
    }
    v
}

/// The reason text of a verdict, with its rules, for the agent's user and model.
pub(crate) fn reason_of(verdict: &Verdict) -> String {
    let reason = if verdict.reason.is_empty() {
        format!("{} by warden", verdict.decision)
    } else {
        verdict.reason.clone()
    };
    if verdict.rules.is_empty() {
        format!("warden: {reason}")
    } else {
        format!("warden: {reason} (rule {})", verdict.rules.join(", "))
    }
}
