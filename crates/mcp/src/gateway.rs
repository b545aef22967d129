//! The transport-independent core of the gateway: what happens to each message
//! between the agent (client) and the MCP server. Everything passes through
//! unchanged except:
//!
//! - `tools/call`: decided as a `tool_call` action first; a denial is answered
//!   by the gateway as a tool result with `isError: true` and the reason (the
//!   model reads it; the server never sees the call);
//! - `tools/list` results: each definition is scanned and decided as a
//!   `tool_definition` action (pinned by digest in the daemon); denied,
//!   flagged or changed tools are removed until a person approves them, and a
//!   call to a removed tool is answered like a call to no tool at all.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{Value, json};
use warden_types::{Action, ActionContext, ActionKind, Decision, Origin, Verdict};

use crate::rpc::{self, Message, code};
use crate::{digest, scan};

/// Asks for decisions: the daemon, over its socket. Must fail closed: an
/// unreachable or slow daemon is a deny verdict, never an error.
pub trait Decider: Send + Sync + 'static {
    /// The final verdict for `action` (an ask is answered by a person or
    /// times out before this returns).
    fn decide(&self, action: Action) -> Pin<Box<dyn Future<Output = Verdict> + Send + '_>>;
}

/// Sends a message to the client outside of a response (`list_changed`).
pub type Notifier = Arc<dyn Fn(Value) + Send + Sync>;

/// What to do with a message from the client.
#[derive(Debug, Clone, PartialEq)]
pub enum Route {
    /// Send it to the server.
    Forward(Value),
    /// Answer the client with this instead.
    Reply(Value),
    /// Drop it (a notification that must not reach the server).
    Drop,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shown {
    Yes,
    No,
    Waiting,
}

#[derive(Default)]
struct State {
    /// (tool, digest) → whether it may be shown.
    decided: HashMap<(String, String), Shown>,
    /// Tools removed from the last list the client saw.
    hidden: HashSet<String>,
    /// Tools of a list being answered whose definitions are not yet shown:
    /// not callable until that list is answered (and then as `hidden` says).
    deciding: HashSet<String>,
}

/// Settings of one gateway.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The server's configured name (`mcp__<server>__<tool>` in rules).
    pub server: String,
    /// The agent's working directory.
    pub cwd: String,
    /// How long a `tools/list` answer waits for definition decisions; tools
    /// still undecided (a person is being asked) are hidden meanwhile and
    /// announced with `notifications/tools/list_changed` once approved.
    pub list_wait: Duration,
}

/// One client ↔ server relationship.
pub struct Gateway {
    settings: Settings,
    decider: Arc<dyn Decider>,
    notifier: Option<Notifier>,
    state: Mutex<State>,
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Whether a request speaks the stateless revision (2026-07-28 and later):
/// its results then carry `resultType`.
fn modern(msg: &Value) -> bool {
    msg.pointer("/params/_meta")
        .and_then(Value::as_object)
        .is_some_and(|m| m.contains_key("io.modelcontextprotocol/protocolVersion"))
}

/// The agent's id for the tool use, when its client passes one in `_meta`
/// (Claude Code: `claudecode/toolUseId`).
fn tool_use_id(msg: &Value) -> Option<String> {
    let meta = msg.pointer("/params/_meta")?.as_object()?;
    meta.iter()
        .find(|(k, _)| {
            let k = k.to_ascii_lowercase();
            k.ends_with("tooluseid") || k.ends_with("tool_use_id")
        })
        .and_then(|(_, v)| v.as_str())
        .map(str::to_string)
}

impl Gateway {
    /// A gateway deciding through `decider`; `notifier` reaches the client
    /// between responses (stdio has one; a stateless HTTP client may not).
    pub fn new(
        settings: Settings,
        decider: Arc<dyn Decider>,
        notifier: Option<Notifier>,
    ) -> Arc<Self> {
        Arc::new(Gateway {
            settings,
            decider,
            notifier,
            state: Mutex::new(State::default()),
        })
    }

    fn action(&self, kind: ActionKind, msg_id: Option<&Value>) -> Action {
        let mut a = Action::new(self.settings.cwd.clone(), kind);
        a.origin = Origin::Mcp;
        let mut ctx = ActionContext::default();
        if let Some(id) = msg_id {
            ctx.extra.insert("mcp_request_id".into(), rpc::id_key(id));
        }
        a.context = Some(ctx);
        a
    }

    /// Handles a message from the client.
    pub async fn from_client(&self, msg: Value, kind: &Message) -> Route {
        match kind {
            Message::Request { id, method } if method == "tools/call" => self.call(msg, id).await,
            // A call sent as a notification would run undecided (and unanswered).
            Message::Notification { method } if method == "tools/call" => Route::Drop,
            _ => Route::Forward(msg),
        }
    }

    async fn call(&self, msg: Value, id: &Value) -> Route {
        let Some(tool) = msg.pointer("/params/name").and_then(Value::as_str) else {
            return Route::Reply(rpc::error(
                id,
                code::INVALID_PARAMS,
                "Invalid params: tools/call needs params.name (a string)",
            ));
        };
        let refused = {
            let st = lock(&self.state);
            st.hidden.contains(tool) || st.deciding.contains(tool)
        };
        if refused {
            return Route::Reply(rpc::error(
                id,
                code::INVALID_PARAMS,
                &format!("Unknown tool: {tool}"),
            ));
        }
        let arguments = msg
            .pointer("/params/arguments")
            .cloned()
            .unwrap_or(Value::Object(Default::default()));
        let mut action = self.action(
            ActionKind::ToolCall {
                server: self.settings.server.clone(),
                tool: tool.to_string(),
                arguments,
            },
            Some(id),
        );
        if let (Some(ctx), Some(t)) = (action.context.as_mut(), tool_use_id(&msg)) {
            ctx.tool_use_id = Some(t);
        }
        let verdict = self.decider.decide(action).await;
        if verdict.decision == Decision::Allow {
            return Route::Forward(msg);
        }
        Route::Reply(rpc::result(id, denial(tool, &verdict, modern(&msg))))
    }

    /// Whether `msg` carries a tool list in a result: what `from_server`
    /// filters, and may hold while definitions are decided. Whatever the
    /// message's kind and whatever request it answers: clients match
    /// response ids loosely ("1" and 1), and a message with both `method` and
    /// `result` may still be read as a response.
    pub fn lists_tools(msg: &Value) -> bool {
        msg.pointer("/result/tools").is_some_and(Value::is_array)
    }

    /// A message from the server as the client may see it: tool lists
    /// filtered, everything else as it came.
    pub async fn from_server(self: &Arc<Self>, mut msg: Value) -> Value {
        if let Some(tools) = msg
            .pointer_mut("/result/tools")
            .and_then(Value::as_array_mut)
        {
            let listed = std::mem::take(tools);
            *tools = self.filter(listed).await;
        }
        msg
    }

    async fn filter(self: &Arc<Self>, listed: Vec<Value>) -> Vec<Value> {
        // (name, digest) once per tool: the digest canonicalises the whole
        // definition.
        let keyed: Vec<((String, String), Value)> = listed
            .into_iter()
            .map(|tool| {
                let name = tool
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                ((name, digest::tool_digest(&tool)), tool)
            })
            .collect();
        let mut waits = Vec::new();
        {
            let mut st = lock(&self.state);
            for (key, tool) in &keyed {
                // Not callable while it is being decided (or was refused).
                if st.decided.get(key) != Some(&Shown::Yes) {
                    st.deciding.insert(key.0.clone());
                }
                if st.decided.contains_key(key) {
                    continue;
                }
                st.decided.insert(key.clone(), Shown::Waiting);
                waits.push(tokio::spawn(
                    Arc::clone(self).decide_definition(key.clone(), tool.clone()),
                ));
            }
        }
        let _ = tokio::time::timeout(self.settings.list_wait, futures_join(waits)).await;
        let mut st = lock(&self.state);
        // A name is shown only if every definition listed under it is: a
        // call names the tool, not the definition the model saw.
        let hidden: HashSet<String> = keyed
            .iter()
            .filter(|(k, _)| st.decided.get(k) != Some(&Shown::Yes))
            .map(|((name, _), _)| name.clone())
            .collect();
        let mut shown = Vec::new();
        for ((name, _), tool) in keyed {
            st.deciding.remove(&name);
            if hidden.contains(&name) {
                st.hidden.insert(name);
            } else {
                st.hidden.remove(&name);
                shown.push(tool);
            }
        }
        shown
    }

    /// Decides one definition; an approval that arrives after the list was
    /// answered is announced with `list_changed`.
    async fn decide_definition(self: Arc<Self>, key: (String, String), tool: Value) {
        let report = scan::scan_tool(&tool);
        let mut action = self.action(
            ActionKind::ToolDefinition {
                server: self.settings.server.clone(),
                tool: key.0.clone(),
                digest: key.1.clone(),
                findings: report.findings(),
                pinned: None,
            },
            None,
        );
        if let (Some(ctx), Some(d)) = (
            action.context.as_mut(),
            tool.get("description").and_then(Value::as_str),
        ) {
            ctx.extra
                .insert("description".into(), d.chars().take(2000).collect());
        }
        let v = self.decider.decide(action).await;
        let shown = if v.decision == Decision::Allow {
            Shown::Yes
        } else {
            Shown::No
        };
        // The name stays hidden until the client lists again (the next
        // list decides what is shown, from every definition under the name).
        let late = {
            let mut st = lock(&self.state);
            if shown == Shown::No && !judged_the_definition(&v) {
                // Nobody judged it (no answer in time, no daemon): hidden
                // now, and decided again the next time the client lists.
                st.decided.remove(&key);
            } else {
                st.decided.insert(key.clone(), shown);
            }
            shown == Shown::Yes && st.hidden.contains(&key.0)
        };
        if late && let Some(n) = &self.notifier {
            n(json!({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"}));
        }
    }
}

/// Whether a deny is a judgement of the definition (a rule, a person) rather
/// than the absence of one: warden's own `builtin:` denies (deadline, audit
/// or daemon unavailable, a paused session) and an ask nobody answered.
fn judged_the_definition(v: &Verdict) -> bool {
    !v.rules.iter().any(|r| r.starts_with("builtin:"))
        && v.answered.as_ref().is_none_or(|a| a.by != "timeout")
}

async fn futures_join(handles: Vec<tokio::task::JoinHandle<()>>) {
    for h in handles {
        let _ = h.await;
    }
}

/// The tool result a denied call gets: an execution error the model reads,
/// never `structuredContent` (it would have to match the tool's schema).
pub fn denial(tool: &str, verdict: &Verdict, modern: bool) -> Value {
    let rules = if verdict.rules.is_empty() {
        String::new()
    } else {
        format!(" (rule {})", verdict.rules.join(", "))
    };
    let text = format!(
        "Blocked by warden: the call to {tool} was not executed. Reason: {}{rules}.",
        verdict.reason.trim_end_matches('.')
    );
    let mut r = json!({
        "content": [{"type": "text", "text": text}],
        "isError": true,
        "_meta": {"dev.warden/verdict": {
            "decision": verdict.decision,
            "rules": verdict.rules,
            "audit_seq": verdict.audit.as_ref().map(|a| a.seq),
        }},
    });
    if modern {
        r["resultType"] = json!("complete");
    }
    r
}
