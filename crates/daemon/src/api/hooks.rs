//! `POST /v1/hooks/{agent}`: an agent's own hook payload in, the agent's own
//! reply out (Claude Code and Codex `hookSpecificOutput`, Gemini `decision`,
//! Cursor `permission`). Always status 200 with a native body, because the
//! agents treat an HTTP error as a hook failure and most of them then run
//! the tool: a refusal must be a well-formed deny. `?envelope=1` (used by
//! `warden hook`) wraps the reply as `{"body", "stderr", "exit_code"}` for a
//! command hook to print.
//!
//! Identity: a process inside a registered session (Unix socket, or the
//! process holding a loopback TCP connection), a session secret, or an
//! enrollment secret from `warden init` (`x-warden-secret`); an
//! enrolled agent gets one warden session per session id its hook reports.
//! Anything else is an unknown agent at autonomy 0.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::Extension;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use serde::Deserialize;
use serde_json::json;
use warden_hooks::{Agent, Event, Phase, Reply};
use warden_types::{Action, ActionKind, Decision, Verdict};

use super::{AppState, SECRET_HEADER};
use crate::events::Event as FeedEvent;
use crate::governor::{Caller, Peer, lock, now_rfc3339};
use crate::registry::{Registration, SessionState};

/// Sessions opened for enrolled agents, by (agent, the agent's session id).
#[derive(Debug, Default)]
pub struct HookSessions {
    open: Mutex<HashMap<(String, String), OpenSession>>,
    opened: std::sync::atomic::AtomicU64,
}

/// (session id, its secret, when it was opened: a count, for evicting the
/// oldest).
type OpenSession = (String, String, u64);

/// The largest hook payload read (the hook command reads as much).
const MAX_HOOK_BODY: usize = 16 << 20;

/// Open hook sessions kept at most: a caller inventing session ids cannot
/// grow the daemon without bound; the oldest-registered is stopped first.
const MAX_HOOK_SESSIONS: usize = 4096;

/// Query parameters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HookQuery {
    /// Wrap the reply for a command hook.
    #[serde(default)]
    envelope: Option<u8>,
}

fn respond(reply: Reply, envelope: bool) -> Response {
    if envelope {
        return Json(
            json!({"body": reply.body, "stderr": reply.stderr, "exit_code": reply.exit_code}),
        )
        .into_response();
    }
    let body = if reply.body.is_empty() {
        json!({"decision": "block", "reason": reply.stderr}).to_string()
    } else {
        reply.body
    };
    (StatusCode::OK, [("content-type", "application/json")], body).into_response()
}

/// The caller of a hook, or of `/v1/decide` with an enrollment secret: an
/// enrolled agent gets (and keeps) one session per session id it reports
/// (`native`); any other secret is passed on for the governor to check.
pub(crate) fn enrolled_caller(
    state: &AppState,
    peer: Peer,
    secret: Option<String>,
    agent: &str,
    native: &str,
    cwd: &str,
) -> Caller {
    let Some(s) = secret else {
        return Caller { peer, secret: None };
    };
    if state.hook_key.verify(&s).as_deref() != Some(agent) {
        return Caller {
            peer,
            secret: Some(s),
        };
    }
    let key = (agent.to_string(), native.to_string());
    // A known session keeps its identity whatever its state: a stopped or
    // paused session stays denied, it is not re-opened by its next event.
    let known = lock(&state.hook_sessions.open).get(&key).cloned();
    if let Some((_, secret, _)) = known {
        return Caller {
            peer,
            secret: Some(secret),
        };
    }
    let autonomy = lock(&state.gov.policies).base().autonomy_for(agent);
    // The agent's process tree is the session: what the agent runs (its shell
    // tool) is then an agent process, never a person at the terminal. A hook
    // process's agent is above it; an HTTP hook comes from the agent itself.
    let root = match peer {
        Peer::Unix { pid: Some(pid), .. } => {
            crate::procs::hook_agent_root(&state.gov.config.proc_root, pid)
        }
        Peer::Tcp {
            addr,
            local: Some(local),
        } => state.gov.tcp_peer_process(addr, local),
        Peer::Tcp { local: None, .. } => None,
        Peer::Unix { pid: None, .. } => None,
    };
    let reg = Registration {
        agent: agent.to_string(),
        autonomy: None,
        workspace: cwd.to_string(),
        pid: root,
        pid_start: root
            .and_then(|p| crate::procs::stat(&state.gov.config.proc_root, p))
            .map(|s| s.start),
    };
    let issued = lock(&state.gov.registry).register(reg, autonomy, now_rfc3339());
    match issued {
        Ok(issued) => {
            state.gov.feed.send(FeedEvent::Session {
                id: issued.session.clone(),
                agent: agent.to_string(),
                state: "registered".into(),
            });
            tracing::info!(agent, native, session = %issued.session, "enrolled agent session opened");
            let hs = &state.hook_sessions;
            let seq = hs.opened.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let mut open = lock(&hs.open);
            if open.len() >= MAX_HOOK_SESSIONS {
                let oldest = open
                    .iter()
                    .min_by_key(|(_, v)| v.2)
                    .map(|(k, v)| (k.clone(), v.0.clone()));
                if let Some((k, sess)) = oldest {
                    open.remove(&k);
                    let _ = lock(&state.gov.registry).set_state(&sess, SessionState::Stopped);
                }
            }
            open.insert(key, (issued.session, issued.secret.clone(), seq));
            Caller {
                peer,
                secret: Some(issued.secret),
            }
        }
        Err(_) => Caller { peer, secret: None },
    }
}

pub async fn hook(
    State(state): State<AppState>,
    Extension(peer): Extension<Peer>,
    Path(agent): Path<String>,
    query: Result<Query<HookQuery>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    if let Err(e) = state.check_transport(&peer, &headers) {
        return e.into_response();
    }
    let envelope = query.ok().and_then(|q| q.0.envelope).unwrap_or(0) == 1;
    let Some(agent) = Agent::from_name(&agent) else {
        return super::ApiError::not_found(format!(
            "no hook adapter for {agent:?} (claude-code, codex, gemini, cursor)"
        ))
        .into_response();
    };
    // The agent sets the size (a Write carries the file): an oversized body
    // is the agent's own deny, with status 200 like every hook answer.
    let body = match http_body_util::Limited::new(body, MAX_HOOK_BODY)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            state.gov.metrics.rejected();
            return respond(
                warden_hooks::refusal(
                    agent,
                    None,
                    &format!("the hook payload is over {} MiB", MAX_HOOK_BODY >> 20),
                ),
                envelope,
            );
        }
    };
    let ev = match warden_hooks::parse(agent, &body) {
        Ok(ev) => ev,
        Err(e) => {
            state.gov.metrics.rejected();
            let reason = e.to_string();
            let name = warden_hooks::event_name(&body);
            let mut a = Action::new(
                String::new(),
                ActionKind::Notice {
                    event: "hook-refused".into(),
                    message: format!("{} hook payload refused: {reason}", agent.name()),
                },
            );
            a.origin = agent.origin();
            let caller = Caller { peer, secret: None };
            state
                .gov
                .observe(a, &caller, "builtin:malformed-input", Decision::Deny)
                .await;
            return respond(
                warden_hooks::refusal(agent, name.as_deref(), &reason),
                envelope,
            );
        }
    };
    let secret = headers
        .get(SECRET_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let native = ev.session.clone().unwrap_or_else(|| "no-session-id".into());
    let caller = enrolled_caller(&state, peer, secret, agent.name(), &native, &ev.cwd);
    // One deadline for the whole event, inside the request's own, so the
    // answer is always a native one (a timed-out request would be an HTTP
    // error, which the agents take as "run the tool").
    let deadline = state.gov.config.decide_deadline;
    let verdict = match ev.phase {
        Phase::Gate | Phase::Permission => {
            match tokio::time::timeout(deadline, decide_all(&state, &ev, &caller, deadline)).await {
                Ok(v) => v,
                Err(_) => crate::governor::deny(
                    "builtin:deadline",
                    format!("no decision within {} s", deadline.as_secs()),
                ),
            }
        }
        Phase::Record | Phase::SessionStart | Phase::SessionEnd => {
            let v = observe(&state, &ev, &caller).await;
            if ev.phase == Phase::SessionEnd {
                end_session(&state, agent, &ev);
            }
            v
        }
    };
    respond(warden_hooks::reply(&ev, &verdict), envelope)
}

async fn decide_all(
    state: &AppState,
    ev: &Event,
    caller: &Caller,
    deadline: std::time::Duration,
) -> Verdict {
    if ev.actions.is_empty() {
        // A tool that changes only the agent's own state: recorded, allowed.
        return observe(state, ev, caller).await;
    }
    let started = std::time::Instant::now();
    let mut verdicts = Vec::with_capacity(ev.actions.len());
    for a in &ev.actions {
        let left = deadline.saturating_sub(started.elapsed());
        let v = state.gov.decide(a.clone(), caller, left).await;
        let denied = v.decision == Decision::Deny;
        verdicts.push(v);
        // The strictest decision wins: after a deny nobody need be asked.
        if denied {
            break;
        }
    }
    warden_hooks::combine(verdicts)
}

async fn observe(state: &AppState, ev: &Event, caller: &Caller) -> Verdict {
    let mut a = Action::new(
        ev.cwd.clone(),
        ActionKind::Notice {
            event: format!("hook:{}", ev.name),
            message: ev.note.clone(),
        },
    );
    a.origin = ev.agent.origin();
    let ctx = a.context.get_or_insert_with(Default::default);
    ctx.tool_use_id = ev.tool_use.clone();
    ctx.turn_id = ev.turn.clone();
    if let Some(s) = &ev.session {
        ctx.extra.insert("agent_session".into(), s.clone());
    }
    if let Some(t) = &ev.tool {
        ctx.extra.insert("agent_tool".into(), t.clone());
    }
    state
        .gov
        .observe(a, caller, "hook:record", Decision::Allow)
        .await
}

fn end_session(state: &AppState, agent: Agent, ev: &Event) {
    let Some(native) = &ev.session else { return };
    let key = (agent.name().to_string(), native.clone());
    if let Some((session, _, _)) = lock(&state.hook_sessions.open).remove(&key) {
        let _ = lock(&state.gov.registry).set_state(&session, SessionState::Stopped);
        state.gov.feed.send(FeedEvent::Session {
            id: session,
            agent: agent.name().to_string(),
            state: "stopped".into(),
        });
    }
}
