//! The OpenAPI 3.1 description served at `/v1/openapi.json`.

use serde_json::{Value, json};

fn op(summary: &str, trust: &str) -> Value {
    json!({
        "summary": summary,
        "description": format!("Caller: {trust}."),
        "responses": {
            "200": { "description": "OK" },
            "400": { "description": "Malformed request", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
            "401": { "description": "TCP without a valid API token" },
            "403": { "description": "Caller not trusted for this endpoint" },
            "413": { "description": "Body larger than the limit (1 MiB)" },
            "421": { "description": "Host header is not the loopback listener" }
        }
    })
}

/// The document.
pub fn document() -> Value {
    let decide = json!({
        "summary": "Decide an Action: policy, then a human if it asks, then the durable audit record",
        "description": "Caller: anyone. Identity comes from the kernel (the Unix peer's process tree) or the x-warden-secret header; otherwise the caller is an unknown agent at autonomy 0. A body that is not an Action is answered 400 with a deny Verdict.",
        "parameters": [
            { "name": "deadline_ms", "in": "query", "schema": { "type": "integer", "minimum": 0 }, "description": "The caller's deadline; deny past it." },
            { "name": "x-warden-secret", "in": "header", "schema": { "type": "string" }, "description": "A session's secret from registration." }
        ],
        "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Action" } } } },
        "responses": {
            "200": { "description": "The verdict, with its audit receipt", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Verdict" } } } },
            "400": { "description": "Not an Action: a deny verdict naming why", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Verdict" } } } },
            "413": { "description": "Body larger than the limit" },
            "415": { "description": "TCP without Content-Type: application/json" }
        }
    });
    let mut approve = op(
        "Allow the asked action; with {\"always\": true}, also allow exactly this action from now on",
        "human",
    );
    approve["requestBody"] = json!({
        "required": false,
        "content": { "application/json": { "schema": {
            "type": "object",
            "additionalProperties": false,
            "properties": { "always": { "type": "boolean", "default": false,
                "description": "Add a standing approval of this exact action (working directory and action kind) to the user policy file. Refused (409) when a system-layer rule asks." } }
        } } }
    });
    approve["responses"]["404"] = json!({ "description": "No such pending ask" });
    approve["responses"]["409"] =
        json!({ "description": "always: a system policy rule asks; approve once instead" });
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "warden local API",
            "version": "1",
            "description": "Served on $WARDEN_HOME/warden.sock (callers identified by SO_PEERCRED) and on 127.0.0.1:7420 (Authorization: Bearer <api.token>). Trust levels: anyone; trusted (outside every agent session, or the API token); human (trusted and holding a terminal, or the dashboard session)."
        },
        "paths": {
            "/v1/decide": { "post": decide },
            "/v1/denied-ports": { "get": op("For each live session, the ports its policy denies for every host (Net(*:PORT) deny rules): [{session, ports}], for warden watch to refuse in the kernel", "trusted") },
            "/v1/observe": { "post": op("What the eBPF observer saw processes do: one {pid, ppid, uid, comm, llm_host, action} or {observations: [...]} (at most 1024, recorded together), each under its process's identity with the policy's view; alerts for actions against the policy and for agents outside every session (agent programs, connects to LLM API hosts)", "trusted") },
            "/v1/check": { "post": op("What the policy says of an Action (a Verdict), with no ask and no audit record: for a session's root process choosing what to hold (warden shell); 403 for anyone else", "a session's root process, over the Unix socket") },
            "/v1/hooks/{agent}": { "post": op("An agent's own hook payload (agent: claude-code, codex, gemini, cursor) -> the agent's own reply, always 200 (a refusal is a native deny); ?envelope=1 wraps it as {body, stderr, exit_code}. x-warden-secret: the enrollment secret `warden init` wrote, or a session secret", "anyone (identity from the secret or the process tree)") },
            "/v1/status": { "get": op("Daemon status: uptime, sessions, pending asks, decision counts, audit size", "anyone (alerts only for trusted callers)") },
            "/v1/events": { "get": op("The live feed (Server-Sent Events: decision, ask, answered, session, alert, lagged)", "trusted") },
            "/v1/asks": { "get": op("Pending asks, with the full action, rules and threat", "trusted") },
            "/v1/asks/{id}/approve": { "post": approve },
            "/v1/asks/{id}/deny": { "post": op("Deny this one action", "human") },
            "/v1/sessions": {
                "get": op("Registered sessions", "trusted"),
                "post": op("Register a session: {agent, autonomy?, workspace?, pid?} -> {session, agent_id, secret}", "trusted")
            },
            "/v1/sessions/{id}/pause": { "post": op("Deny every action of the session until resumed", "trusted") },
            "/v1/sessions/{id}/resume": { "post": op("Resume a paused session", "human") },
            "/v1/sessions/{id}/stop": { "post": op("End the session; its actions are denied", "trusted") },
            "/v1/sessions/{id}/violations": { "post": op("Report what the session's sandbox refused (a seccomp call, an exec): recorded in the audit log and raised as an alert", "the session's own secret (its supervisor)") },
            "/v1/audit/checkpoint": { "get": op("The latest signed checkpoint", "anyone") },
            "/v1/audit/entries": { "get": op("Decrypted entries: ?from=SEQ&limit=N (newest first without from)", "trusted") },
            "/v1/audit/prove/{seq}": { "get": op("Inclusion proof of an entry with its signed checkpoint", "anyone") },
            "/v1/audit/verify": { "post": op("Full verification of the log", "trusted") },
            "/v1/policy": { "get": op("The effective layered policy, each rule with its file and line", "trusted") },
            "/v1/dashboard/link": { "post": op("A one-time dashboard login link", "human") },
            "/v1/shutdown": { "post": op("Stop the daemon (pending asks are denied and recorded)", "trusted") },
            "/metrics": { "get": op("Prometheus text metrics", "trusted") },
            "/v1/openapi.json": { "get": op("This document", "anyone") },
            "/llm/{provider}/{path}": { "post": op("The LLM API gateway (also on the egress proxy's address): the provider's own API, each request decided as an llm_request and scanned for secrets, the response streamed back unchanged; refusals in the provider's error shape", "anyone (the session by SO_PEERCRED or x-warden-secret)") }
        },
        "components": {
            "schemas": {
                "Action": warden_types::action_schema(),
                "Verdict": warden_types::verdict_schema(),
                "Error": { "type": "object", "properties": { "error": { "type": "string" }, "status": { "type": "integer" } }, "required": ["error", "status"] }
            }
        }
    })
}
