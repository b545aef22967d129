//! Mapping entries to OCSF events, for SIEMs that ingest OCSF (Security Lake,
//! Splunk, Sentinel…). Classes: File System Activity (1001), Process Activity
//! (1007), Network Activity (4001), HTTP Activity (4002) and API Activity (6003),
//! with the Security Control profile's `action_id`/`disposition_id` carrying the
//! decision. Every event keeps the entry's sequence number
//! (`metadata.sequence`) and leaf hash (`metadata.uid`), so it can be proven
//! against the log with `warden audit prove`.

use serde_json::{Map, Value, json};
use warden_types::{ActionKind, Decision, Threat};

use crate::record::{Entry, Record};

/// The OCSF schema version the events follow (1.x: HTTP Activity is a class of
/// its own there).
pub const OCSF_VERSION: &str = "1.3.0";

struct Class {
    uid: u32,
    name: &'static str,
    category_uid: u32,
    category_name: &'static str,
    activity_id: u32,
    activity_name: &'static str,
}

fn class_of(kind: &ActionKind) -> Class {
    let system = |uid, name, activity_id, activity_name| Class {
        uid,
        name,
        category_uid: 1,
        category_name: "System Activity",
        activity_id,
        activity_name,
    };
    let network = |uid, name, activity_id, activity_name| Class {
        uid,
        name,
        category_uid: 4,
        category_name: "Network Activity",
        activity_id,
        activity_name,
    };
    let api = |activity_id, activity_name| Class {
        uid: 6003,
        name: "API Activity",
        category_uid: 6,
        category_name: "Application Activity",
        activity_id,
        activity_name,
    };
    match kind {
        ActionKind::Shell { .. } | ActionKind::Exec { .. } => {
            system(1007, "Process Activity", 1, "Launch")
        }
        ActionKind::FileRead { .. } => system(1001, "File System Activity", 2, "Read"),
        ActionKind::FileWrite { .. } => system(1001, "File System Activity", 3, "Update"),
        ActionKind::FileDelete { .. } => system(1001, "File System Activity", 4, "Delete"),
        ActionKind::Net(n) if n.url.is_some() || n.method.is_some() => {
            let (id, name) = match n.method.as_deref().map(str::to_ascii_uppercase).as_deref() {
                Some("CONNECT") => (1, "Connect"),
                Some("DELETE") => (2, "Delete"),
                Some("GET") | None => (3, "Get"),
                Some("HEAD") => (4, "Head"),
                Some("OPTIONS") => (5, "Options"),
                Some("POST") => (6, "Post"),
                Some("PUT") => (7, "Put"),
                Some("TRACE") => (8, "Trace"),
                Some("PATCH") => (9, "Patch"),
                Some(_) => (99, "Other"),
            };
            network(4002, "HTTP Activity", id, name)
        }
        ActionKind::Net(_) => network(4001, "Network Activity", 1, "Open"),
        ActionKind::ToolCall { .. } => api(99, "Other"),
        ActionKind::ToolDefinition { .. } => api(2, "Read"),
        ActionKind::LlmRequest { .. } => api(1, "Create"),
        ActionKind::Notice { .. } => api(99, "Other"),
    }
}

fn file_object(path: &str) -> Value {
    let name = path.rsplit('/').next().unwrap_or(path);
    json!({ "path": path, "name": name, "type_id": 1, "type": "Regular File" })
}

fn class_fields(kind: &ActionKind, record: &Record, out: &mut Map<String, Value>) {
    let a = &record.action;
    match kind {
        ActionKind::Shell { command } => {
            out.insert("process".into(), json!({ "cmd_line": command }));
        }
        ActionKind::Exec { argv, .. } => {
            let program = argv.first().map(String::as_str).unwrap_or_default();
            out.insert(
                "process".into(),
                json!({
                    "cmd_line": argv.join(" "),
                    "name": program.rsplit('/').next().unwrap_or(program),
                    "file": file_object(program),
                }),
            );
        }
        ActionKind::FileRead { path }
        | ActionKind::FileWrite { path }
        | ActionKind::FileDelete { path } => {
            out.insert("file".into(), file_object(path));
        }
        ActionKind::Net(n) => {
            let mut dst = Map::new();
            if let Some(h) = &n.host {
                dst.insert("hostname".into(), json!(h));
            }
            if let Some(p) = n.port {
                dst.insert("port".into(), json!(p));
            }
            if let Some(url) = &n.url {
                let mut req = Map::new();
                req.insert("url".into(), json!({ "url_string": url }));
                if let Some(m) = &n.method {
                    req.insert("http_method".into(), json!(m.to_ascii_uppercase()));
                }
                out.insert("http_request".into(), Value::Object(req));
                if dst.is_empty() {
                    dst.insert("name".into(), json!(url));
                }
            }
            out.insert("dst_endpoint".into(), Value::Object(dst));
        }
        ActionKind::ToolCall {
            server,
            tool,
            arguments,
        } => {
            let uid = a
                .context
                .as_ref()
                .and_then(|c| c.tool_use_id.clone())
                .unwrap_or_else(|| a.id.clone());
            out.insert(
                "api".into(),
                json!({
                    "operation": tool,
                    "service": { "name": server },
                    "request": { "uid": uid, "data": arguments },
                }),
            );
        }
        ActionKind::ToolDefinition {
            server,
            tool,
            digest,
            findings,
            ..
        } => {
            out.insert(
                "api".into(),
                json!({
                    "operation": "tools/list",
                    "service": { "name": server },
                    "request": { "uid": a.id, "data": { "tool": tool, "digest": digest, "findings": findings } },
                }),
            );
        }
        ActionKind::LlmRequest {
            provider, model, ..
        } => {
            out.insert(
                "api".into(),
                json!({
                    "operation": "llm_request",
                    "service": { "name": provider },
                    "request": { "uid": a.id, "data": { "model": model } },
                }),
            );
        }
        ActionKind::Notice { event, message } => {
            out.insert(
                "api".into(),
                json!({
                    "operation": format!("warden.{event}"),
                    "service": { "name": "warden" },
                    "request": { "uid": a.id, "data": { "message": message } },
                }),
            );
        }
    }
    if matches!(
        kind,
        ActionKind::ToolCall { .. }
            | ActionKind::ToolDefinition { .. }
            | ActionKind::LlmRequest { .. }
            | ActionKind::Notice { .. }
    ) {
        // API Activity requires a source endpoint: the agent's session.
        out.insert(
            "src_endpoint".into(),
            json!({ "name": if a.agent.name.is_empty() { "unknown-agent" } else { &a.agent.name } }),
        );
    }
}

/// The OCSF event for an entry. Entries whose record cannot be read (shredded,
/// no key) map to `None`.
pub fn to_ocsf(entry: &Entry, log_origin: &str) -> Option<Value> {
    let record = entry.record()?;
    let kind = &record.action.kind;
    let v = &record.verdict;
    let c = class_of(kind);
    let decision = v.answered.as_ref().map_or(v.decision, |a| a.decision);
    let (action_id, action, disposition_id, disposition) = match decision {
        Decision::Allow => (1, "Allowed", 1, "Allowed"),
        Decision::Deny => (2, "Denied", 2, "Blocked"),
        Decision::Ask => (0, "Unknown", 99, "Awaiting a human"),
    };
    let (severity_id, severity) = match v.threat {
        Threat::Benign => (1, "Informational"),
        Threat::High => (4, "High"),
        Threat::Critical => (5, "Critical"),
    };
    let a = &record.action;
    let mut actor = Map::new();
    if !a.agent.name.is_empty() {
        actor.insert("app_name".into(), json!(a.agent.name));
    }
    if !a.agent.id.is_empty() {
        actor.insert("app_uid".into(), json!(a.agent.id));
    }
    if !a.session.is_empty() {
        actor.insert("session".into(), json!({ "uid": a.session }));
    }
    if let Some(pid) = a.context.as_ref().and_then(|c| c.pid) {
        actor.insert("process".into(), json!({ "pid": pid }));
    }
    if actor.is_empty() {
        actor.insert("app_name".into(), json!("unknown-agent"));
    }
    let mut out = Map::new();
    out.insert("class_uid".into(), json!(c.uid));
    out.insert("class_name".into(), json!(c.name));
    out.insert("category_uid".into(), json!(c.category_uid));
    out.insert("category_name".into(), json!(c.category_name));
    out.insert("activity_id".into(), json!(c.activity_id));
    out.insert("activity_name".into(), json!(c.activity_name));
    out.insert("type_uid".into(), json!(c.uid * 100 + c.activity_id));
    out.insert("time".into(), json!(entry.time_ms));
    out.insert("severity_id".into(), json!(severity_id));
    out.insert("severity".into(), json!(severity));
    out.insert("action_id".into(), json!(action_id));
    out.insert("action".into(), json!(action));
    out.insert("disposition_id".into(), json!(disposition_id));
    out.insert("disposition".into(), json!(disposition));
    out.insert("message".into(), json!(v.reason));
    out.insert("actor".into(), Value::Object(actor));
    out.insert(
        "metadata".into(),
        json!({
            "version": OCSF_VERSION,
            "product": {
                "name": "warden",
                "vendor_name": "warden",
                "version": env!("CARGO_PKG_VERSION"),
            },
            "log_name": log_origin,
            "uid": hex::encode(entry.leaf_hash),
            "sequence": entry.seq,
            "correlation_uid": a.session,
            "profiles": ["security_control"],
        }),
    );
    class_fields(kind, record, &mut out);
    out.insert(
        "unmapped".into(),
        json!({
            "warden": {
                "seq": entry.seq,
                "leaf_hash": hex::encode(entry.leaf_hash),
                "origin": entry.origin,
                "decision": v.decision,
                "rules": v.rules,
                "threat": v.threat,
                "answered": v.answered,
                "action_id": a.id,
                "cwd": a.cwd,
            }
        }),
    );
    Some(Value::Object(out))
}
