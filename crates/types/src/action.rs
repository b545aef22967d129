//! `Action`: one thing an agent wants to do, as an interceptor saw it.

use std::collections::BTreeMap;
use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::Autonomy;

fn contract_version() -> u32 {
    crate::CONTRACT_VERSION
}

/// One agent action awaiting a decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Action {
    /// Contract version; only 1 exists.
    #[serde(default = "contract_version")]
    pub v: u32,
    /// Unique id assigned by the interceptor or the daemon.
    #[serde(default)]
    pub id: String,
    /// When the interceptor saw the action (RFC 3339); stamped by the daemon if empty.
    #[serde(default)]
    pub time: String,
    /// The agent on whose behalf the action runs.
    #[serde(default)]
    pub agent: AgentRef,
    /// The agent session (as issued by the daemon).
    #[serde(default)]
    pub session: String,
    /// The agent's working directory; relative paths resolve against it. Empty means
    /// unknown: then relative paths cannot be placed and are treated as outside the
    /// workspace.
    #[serde(default)]
    pub cwd: String,
    /// Which interceptor built this action.
    #[serde(default)]
    pub origin: Origin,
    /// What the agent wants to do.
    pub kind: ActionKind,
    /// Correlation ids, when the interceptor knows them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<ActionContext>,
}

impl Action {
    /// A version-1 action of `kind` in working directory `cwd`, every other field at
    /// its default.
    pub fn new(cwd: impl Into<String>, kind: ActionKind) -> Self {
        Action {
            v: crate::CONTRACT_VERSION,
            id: String::new(),
            time: String::new(),
            agent: AgentRef::default(),
            session: String::new(),
            cwd: cwd.into(),
            origin: Origin::default(),
            kind,
            context: None,
        }
    }
}

/// Who the agent is. `id` and `autonomy` are filled in by the daemon from kernel
/// identity or a session secret; a name alone is never trusted.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentRef {
    /// Registered agent id.
    #[serde(default)]
    pub id: String,
    /// Display name, e.g. `claude-code` (also selects `[agents.<name>]` in the policy).
    #[serde(default)]
    pub name: String,
    /// Autonomy level granted to this agent; when absent the policy decides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autonomy: Option<Autonomy>,
}

/// The interceptor that built an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
pub enum Origin {
    /// A Claude Code hook.
    #[serde(rename = "hook:claude-code")]
    HookClaudeCode,
    /// A Codex CLI hook.
    #[serde(rename = "hook:codex")]
    HookCodex,
    /// A Gemini CLI hook.
    #[serde(rename = "hook:gemini")]
    HookGemini,
    /// A Cursor hook.
    #[serde(rename = "hook:cursor")]
    HookCursor,
    /// The MCP gateway.
    #[serde(rename = "mcp")]
    Mcp,
    /// The sandbox's exec supervisor.
    #[serde(rename = "sandbox")]
    Sandbox,
    /// The egress proxy or LLM gateway.
    #[serde(rename = "proxy")]
    Proxy,
    /// The PTY guard.
    #[serde(rename = "pty")]
    Pty,
    /// The eBPF observer.
    #[serde(rename = "ebpf")]
    Ebpf,
    /// A person at the command line (`warden check`).
    #[default]
    #[serde(rename = "cli")]
    Cli,
    /// warden itself (its watchdog, its policy reloads): only on `notice`
    /// entries the daemon records, never on a caller's request.
    #[serde(rename = "warden")]
    Warden,
}

impl Origin {
    /// The JSON name, e.g. `hook:claude-code`.
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::HookClaudeCode => "hook:claude-code",
            Origin::HookCodex => "hook:codex",
            Origin::HookGemini => "hook:gemini",
            Origin::HookCursor => "hook:cursor",
            Origin::Mcp => "mcp",
            Origin::Sandbox => "sandbox",
            Origin::Proxy => "proxy",
            Origin::Pty => "pty",
            Origin::Ebpf => "ebpf",
            Origin::Cli => "cli",
            Origin::Warden => "warden",
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an agent wants to do. Externally tagged: `{"shell":{"command":"ls"}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ActionKind {
    /// A command line for a shell (`bash -c`).
    Shell {
        /// The command text, possibly several lines.
        command: String,
    },
    /// A direct exec of a program, as the sandbox supervisor sees it.
    Exec {
        /// The full argument vector; `argv[0]` is the program (path as given).
        argv: Vec<String>,
        /// Names (never values) of the environment variables passed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        env_keys: Option<Vec<String>>,
    },
    /// Read a file.
    FileRead {
        /// The path as the agent gave it.
        path: String,
    },
    /// Create or modify a file.
    FileWrite {
        /// The path as the agent gave it.
        path: String,
    },
    /// Delete a file.
    FileDelete {
        /// The path as the agent gave it.
        path: String,
    },
    /// A network request or connection.
    Net(NetRequest),
    /// A tool call to an MCP server.
    ToolCall {
        /// The MCP server's configured name.
        server: String,
        /// The tool name.
        tool: String,
        /// The call's arguments, as sent.
        #[serde(default)]
        arguments: serde_json::Value,
    },
    /// Something warden itself noticed and recorded (a watchdog alert, a policy
    /// reload): an audit entry, never a request to decide. The daemon refuses a
    /// caller's action of this kind.
    Notice {
        /// What kind of event, e.g. `tamper`, `policy-reloaded`, `repeated-denials`.
        event: String,
        /// What happened, in a sentence.
        message: String,
    },
    /// A tool definition an MCP server offers (from `tools/list`), before the
    /// agent's model may see it. Allowed = shown (and pinned by its digest);
    /// denied = hidden; asked = hidden until a person approves it.
    ToolDefinition {
        /// The MCP server's configured name.
        server: String,
        /// The tool name.
        tool: String,
        /// SHA-256 (hex) of the definition's canonical model-visible fields.
        digest: String,
        /// Poisoning findings of the description scan, as `rule: excerpt`.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        findings: Vec<String>,
        /// The digest approved before for this server and tool, filled in by the
        /// daemon from its pins (a caller's value is replaced).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pinned: Option<String>,
    },
    /// A call to an LLM provider's API.
    LlmRequest {
        /// Provider, e.g. `anthropic`, `openai`.
        provider: String,
        /// Model name as requested.
        model: String,
        /// Names of the tools offered to the model.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tools_offered: Option<Vec<String>>,
    },
}

impl ActionKind {
    /// What the action does, in a few plain words (for people: logs, the
    /// dashboard); command lines and paths are shown as given.
    pub fn summary(&self) -> String {
        match self {
            ActionKind::Shell { command } => format!("run {command}"),
            ActionKind::Exec { argv, .. } => format!("exec {}", argv.join(" ")),
            ActionKind::FileRead { path } => format!("read {path}"),
            ActionKind::FileWrite { path } => format!("write {path}"),
            ActionKind::FileDelete { path } => format!("delete {path}"),
            ActionKind::Net(n) => match (&n.url, &n.host) {
                (Some(u), _) => format!("{} {u}", n.method.as_deref().unwrap_or("GET")),
                (None, Some(h)) => match n.port {
                    Some(p) => format!("connect {h}:{p}"),
                    None => format!("connect {h}"),
                },
                (None, None) => "network request".to_string(),
            },
            ActionKind::ToolCall { server, tool, .. } => format!("MCP tool {server}/{tool}"),
            ActionKind::ToolDefinition { server, tool, .. } => {
                format!("show MCP tool {server}/{tool}")
            }
            ActionKind::LlmRequest {
                provider, model, ..
            } => format!("LLM request {provider}/{model}"),
            ActionKind::Notice { event, message } => format!("warden {event}: {message}"),
        }
    }

    /// The kind's JSON tag, e.g. `file_read`.
    pub fn tag(&self) -> &'static str {
        match self {
            ActionKind::Shell { .. } => "shell",
            ActionKind::Exec { .. } => "exec",
            ActionKind::FileRead { .. } => "file_read",
            ActionKind::FileWrite { .. } => "file_write",
            ActionKind::FileDelete { .. } => "file_delete",
            ActionKind::Net(_) => "net",
            ActionKind::ToolCall { .. } => "tool_call",
            ActionKind::ToolDefinition { .. } => "tool_definition",
            ActionKind::LlmRequest { .. } => "llm_request",
            ActionKind::Notice { .. } => "notice",
        }
    }
}

/// A network target: either a full `url`, or `host` and `port` (a CONNECT tunnel, a
/// socket connect). When both are present the url wins and host/port must agree.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NetRequest {
    /// The full URL, for HTTP requests whose URL is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Host name or IP literal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Destination port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Scheme or transport, e.g. `https`, `tcp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<String>,
    /// HTTP method, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The addresses the egress proxy resolved `host` to and will connect to
    /// (IP literals), so the policy classes what is really reached, not only
    /// the name. A non-public address here can only make the decision
    /// stricter, never looser, so a caller's own list is harmless.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved: Option<Vec<String>>,
}

/// The `ActionContext.extra` key an interceptor sets to `"yes"` on a shell
/// action whose command it can replace with a policy rewrite
/// (`Verdict.rewrite`); without it a rewritten command is denied, since the
/// interceptor would run the original.
pub const TAKES_REWRITES: &str = "takes_rewrites";

/// Ids that tie an action to the agent turn that produced it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionContext {
    /// The agent's tool-use id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_use_id: Option<String>,
    /// The agent's turn id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn_id: Option<String>,
    /// The process that performed the action, when the kernel told us.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// Further interceptor-specific correlation ids.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_action_from_architecture_parses_with_defaults() {
        let a: Action =
            serde_json::from_str(r#"{"cwd":"/w","kind":{"shell":{"command":"ls"}}}"#).unwrap();
        assert_eq!(a.v, 1);
        assert_eq!(a.origin, Origin::Cli);
        assert_eq!(a.agent, AgentRef::default());
        assert_eq!(
            a.kind,
            ActionKind::Shell {
                command: "ls".into()
            }
        );
    }

    #[test]
    fn every_kind_round_trips() {
        let kinds = [
            r#"{"shell":{"command":"ls"}}"#,
            r#"{"exec":{"argv":["/bin/ls","-l"],"env_keys":["PATH"]}}"#,
            r#"{"file_read":{"path":"a"}}"#,
            r#"{"file_write":{"path":"a"}}"#,
            r#"{"file_delete":{"path":"a"}}"#,
            r#"{"net":{"url":"https://x.org/"}}"#,
            r#"{"net":{"host":"x.org","port":443,"scheme":"https","method":"GET"}}"#,
            r#"{"tool_call":{"server":"gh","tool":"create_issue","arguments":{"t":1}}}"#,
            r#"{"tool_definition":{"server":"gh","tool":"t","digest":"ab","findings":["T1: <x>"]}}"#,
            r#"{"llm_request":{"provider":"anthropic","model":"m","tools_offered":["Bash"]}}"#,
        ];
        for k in kinds {
            let text = format!(r#"{{"origin":"hook:codex","kind":{k}}}"#);
            let a: Action = serde_json::from_str(&text).unwrap();
            let back: Action = serde_json::from_str(&serde_json::to_string(&a).unwrap()).unwrap();
            assert_eq!(a, back, "{k}");
            assert_eq!(a.origin, Origin::HookCodex);
        }
    }

    #[test]
    fn unknown_keys_and_kinds_are_errors() {
        for bad in [
            r#"{"kind":{"shell":{"command":"ls","sudo":true}}}"#,
            r#"{"kind":{"teleport":{}}}"#,
            r#"{"kind":{"shell":{"command":"ls"}},"admin":true}"#,
            r#"{"cwd":"/w"}"#,
            r#"{"kind":{"shell":{"command":"ls"}},"origin":"kernel"}"#,
        ] {
            assert!(serde_json::from_str::<Action>(bad).is_err(), "{bad}");
        }
    }
}
