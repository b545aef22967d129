//! The dashboard's pages: Live, Asks, Agents, Audit (with proofs), Rules.

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use warden_audit::AuditReader;
use warden_audit::export::rfc3339_ms;
use warden_audit::record::{Content, Entry};

use super::html::{badge, esc, page};
use super::{Browser, secured};
use crate::api::AppState;
use crate::governor::{Peer, lock};

/// A page's access check: TCP, the right Host, a session cookie. Without a
/// session the answer says how to get one.
pub(super) fn guard(
    state: &AppState,
    peer: &Peer,
    headers: &HeaderMap,
) -> Result<Browser, Box<Response>> {
    state
        .check_browser_transport(peer, headers)
        .map_err(|e| Box::new(secured(e.into_response())))?;
    state.dashboard.browser(headers, state.origin_ok(headers)).ok_or_else(|| {
        Box::new(secured(
            (
                StatusCode::UNAUTHORIZED,
                Html(
                    "<!doctype html><title>warden</title><h1>Log in</h1><p>Open the login link that \
                     <code>warden up</code> printed, or run <code>warden dashboard</code> for a new one.</p>",
                ),
            )
                .into_response(),
        ))
    })
}

pub(super) fn render(
    state: &AppState,
    b: &Browser,
    title: &str,
    path: &str,
    body: &str,
) -> Response {
    let alerts = state
        .gov
        .alerts
        .read()
        .map(|a| a.clone())
        .unwrap_or_default();
    secured(Html(page(title, path, &b.csrf, &alerts, body)).into_response())
}

/// Entries newest first, below `before`, at most `limit`.
pub(super) async fn recent(
    state: &AppState,
    before: Option<u64>,
    limit: usize,
) -> Result<Vec<Entry>, String> {
    with_reader(state, move |r| {
        let mut dec = r.decryptor()?;
        let mut out = Vec::new();
        r.for_each_back(before.unwrap_or(u64::MAX), &mut dec, |e| {
            out.push(e);
            out.len() < limit
        })?;
        Ok(out)
    })
    .await
}

/// Runs `f` on a fresh reader of the audit log, off the async threads.
async fn with_reader<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&mut AuditReader) -> Result<T, warden_audit::AuditError> + Send + 'static,
) -> Result<T, String> {
    let home = state.gov.config.state_dir.clone();
    tokio::task::spawn_blocking(move || {
        AuditReader::open(&home)
            .and_then(|mut r| f(&mut r))
            .map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())?
}

/// One table row for an entry (also built by the script from live events).
fn entry_row(e: &Entry) -> String {
    let time = rfc3339_ms(e.time_ms);
    match &e.content {
        Content::Record(r) => {
            let v = &r.verdict;
            let decision = v.answered.as_ref().map_or(v.decision, |a| a.decision);
            let agent = if r.action.agent.name.is_empty() {
                "unregistered"
            } else {
                &r.action.agent.name
            };
            let answered = v
                .answered
                .as_ref()
                .map(|a| {
                    format!(
                        " <span class=\"muted\">(asked; {} by {})</span>",
                        a.decision,
                        esc(&a.by)
                    )
                })
                .unwrap_or_default();
            format!(
                "<tr data-decision=\"{d}\"><td><a href=\"/audit/proof/{seq}\">#{seq}</a></td><td>{time}</td><td>{agent}</td>\
                 <td>{badge}{answered}</td><td class=\"what\">{what}</td><td>{reason}</td><td class=\"rules\">{rules}</td></tr>",
                d = decision.as_str(),
                seq = e.seq,
                agent = esc(agent),
                badge = badge(decision.as_str()),
                what = esc(&r.action.kind.summary()),
                reason = esc(&v.reason),
                rules = esc(&v.rules.join(", ")),
            )
        }
        Content::Shredded => format!(
            "<tr><td>#{}</td><td>{time}</td><td colspan=\"5\" class=\"muted\">record destroyed by retention</td></tr>",
            e.seq
        ),
        other => format!(
            "<tr><td>#{}</td><td>{time}</td><td colspan=\"5\" class=\"bad\">unreadable: {}</td></tr>",
            e.seq,
            esc(&format!("{other:?}"))
        ),
    }
}

const TABLE_HEAD: &str = "<thead><tr><th>Entry</th><th>Time</th><th>Agent</th><th>Decision</th><th>Action</th><th>Why</th><th>Rules</th></tr></thead>";

pub async fn live(
    State(state): State<AppState>,
    Extension(peer): Extension<Peer>,
    headers: HeaderMap,
) -> Response {
    let b = match guard(&state, &peer, &headers) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let rows = match recent(&state, None, 100).await {
        Ok(entries) => entries.iter().map(entry_row).collect::<String>(),
        Err(e) => format!("<tr><td colspan=\"7\" class=\"bad\">{}</td></tr>", esc(&e)),
    };
    let body = format!(
        "<p class=\"muted\">Every action as it is decided. <span id=\"feed-state\">connecting…</span></p>\
         <div class=\"filters\"><input id=\"filter\" type=\"search\" placeholder=\"Filter: command, path, agent, rule…\">\
         <select id=\"decision-filter\"><option value=\"\">all decisions</option><option>allow</option><option>ask</option><option>deny</option></select></div>\
         <table id=\"feed\">{TABLE_HEAD}<tbody>{rows}</tbody></table>"
    );
    render(&state, &b, "Live", "/", &body)
}

pub async fn asks(
    State(state): State<AppState>,
    Extension(peer): Extension<Peer>,
    headers: HeaderMap,
) -> Response {
    let b = match guard(&state, &peer, &headers) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let list = lock(&state.gov.asks).list();
    let mut body = String::from(
        "<p class=\"muted\">Actions waiting for you. Unanswered asks become denies when they expire.</p>",
    );
    if list.is_empty() {
        body.push_str("<p id=\"no-asks\">No pending asks.</p>");
    }
    for a in list {
        let action = serde_json::to_string_pretty(&a.action).unwrap_or_default();
        body.push_str(&format!(
            "<article class=\"ask\" id=\"{id}\"><h2>{agent}: {what}</h2>\
             <p><strong>Why:</strong> {reason} <span class=\"rules\">[{rules}]</span> · <strong>threat:</strong> {threat}</p>\
             <p class=\"muted\">asked {asked}; denied automatically at {expires}</p>\
             <details><summary>The full action</summary><pre>{action}</pre></details>\
             <p><button class=\"approve\" data-ask=\"{id}\" data-answer=\"approve\">Approve this action</button> \
             {always}<button class=\"deny\" data-ask=\"{id}\" data-answer=\"deny\">Deny</button> <span class=\"result\"></span></p></article>",
            id = esc(&a.id),
            agent = esc(if a.agent.is_empty() { "unregistered agent" } else { &a.agent }),
            what = esc(&a.action.kind.summary()),
            reason = esc(&a.reason),
            rules = esc(&a.rules.join(", ")),
            threat = a.threat,
            asked = esc(&a.asked),
            expires = rfc3339_ms(a.expires_ms),
            action = esc(&action),
            always = if a.always {
                format!(
                    "<button class=\"approve always\" data-ask=\"{}\" data-answer=\"approve\" data-always=\"true\" \
                     title=\"Adds an approval of exactly this action to your policy file\">Always allow exactly this</button> ",
                    esc(&a.id)
                )
            } else {
                "<span class=\"muted\">(a system rule asks: approve once only)</span> ".to_string()
            },
        ));
    }
    render(&state, &b, "Asks", "/asks", &body)
}

pub async fn agents(
    State(state): State<AppState>,
    Extension(peer): Extension<Peer>,
    headers: HeaderMap,
) -> Response {
    let b = match guard(&state, &peer, &headers) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let sessions = lock(&state.gov.registry).list().to_vec();
    let rows: String = sessions
        .iter()
        .map(|s| {
            let state_name = format!("{:?}", s.state).to_lowercase();
            format!(
                "<tr><td>{agent}</td><td>{id}</td><td>{autonomy} ({level})</td><td class=\"state-{st}\">{st}</td>\
                 <td>{ws}</td><td>{pid}</td><td>{a} / {k} / {d}</td>\
                 <td><button data-session=\"{id}\" data-op=\"pause\">Pause</button> \
                 <button data-session=\"{id}\" data-op=\"resume\">Resume</button> \
                 <button data-session=\"{id}\" data-op=\"stop\">Stop</button></td></tr>",
                agent = esc(&s.agent),
                id = esc(&s.id),
                autonomy = s.autonomy.name(),
                level = s.autonomy.level(),
                st = state_name,
                ws = esc(&s.workspace),
                pid = s.pid.map(|p| p.to_string()).unwrap_or_else(|| "-".into()),
                a = s.counts.allow,
                k = s.counts.ask,
                d = s.counts.deny,
            )
        })
        .collect();
    let body = if sessions.is_empty() {
        "<p>No sessions registered yet. Interceptors register the agents they launch.</p>"
            .to_string()
    } else {
        format!(
            "<table><thead><tr><th>Agent</th><th>Session</th><th>Autonomy</th><th>State</th><th>Workspace</th><th>Pid</th>\
             <th>Allowed / asked / denied</th><th></th></tr></thead><tbody>{rows}</tbody></table>"
        )
    };
    render(&state, &b, "Agents", "/agents", &body)
}

/// Query of `/audit`.
#[derive(Debug, Deserialize)]
pub struct AuditQuery {
    before: Option<u64>,
}

pub async fn audit(
    State(state): State<AppState>,
    Extension(peer): Extension<Peer>,
    headers: HeaderMap,
    Query(q): Query<AuditQuery>,
) -> Response {
    let b = match guard(&state, &peer, &headers) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let checkpoint = with_reader(&state, |r| r.checkpoint().map(|c| c.note))
        .await
        .unwrap_or_else(|e| format!("no checkpoint: {e}"));
    let entries = recent(&state, q.before, 50).await;
    let (rows, older) = match &entries {
        Ok(list) => (
            list.iter().map(entry_row).collect::<String>(),
            list.last()
                .filter(|e| e.seq > 0 && list.len() == 50)
                .map(|e| e.seq),
        ),
        Err(e) => (
            format!("<tr><td colspan=\"7\" class=\"bad\">{}</td></tr>", esc(e)),
            None,
        ),
    };
    let more = older
        .map(|s| format!("<p><a href=\"/audit?before={s}\">Older entries</a></p>"))
        .unwrap_or_default();
    let body = format!(
        "<section><h2>Latest checkpoint</h2><p class=\"muted\">Keep a copy elsewhere: \
         <code>warden audit verify --from-checkpoint</code> then detects any later rewrite.</p><pre id=\"checkpoint\">{cp}</pre>\
         <p><button id=\"verify\">Verify the whole log</button> <span id=\"verify-result\"></span></p></section>\
         <section><h2>Entries</h2><table id=\"entries\">{TABLE_HEAD}<tbody>{rows}</tbody></table>{more}</section>",
        cp = esc(&checkpoint),
    );
    render(&state, &b, "Audit", "/audit", &body)
}

pub async fn proof(
    State(state): State<AppState>,
    Extension(peer): Extension<Peer>,
    headers: HeaderMap,
    Path(seq): Path<u64>,
) -> Response {
    let b = match guard(&state, &peer, &headers) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let proof = with_reader(&state, move |r| r.prove(seq, None)).await;
    let body = match proof {
        Ok(p) => format!(
            "<p>Entry #{seq} is leaf {seq} of the tree of {size} entries whose root the checkpoint below signs. \
             Check it anywhere with <code>warden audit verify-inclusion</code>.</p><pre id=\"proof\">{json}</pre>",
            size = p.tree_size,
            json = esc(&serde_json::to_string_pretty(&p).unwrap_or_default()),
        ),
        Err(e) => format!("<p class=\"bad\">{}</p>", esc(&e)),
    };
    render(
        &state,
        &b,
        &format!("Proof of entry #{seq}"),
        "/audit",
        &body,
    )
}

pub async fn rules(
    State(state): State<AppState>,
    Extension(peer): Extension<Peer>,
    headers: HeaderMap,
) -> Response {
    let b = match guard(&state, &peer, &headers) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let body = {
        let p = lock(&state.gov.policies);
        let layers: String = p
            .layers()
            .iter()
            .map(|l| {
                format!(
                    "<li>{} layer: <code>{}</code> ({} rules)</li>",
                    l.kind.as_str(),
                    esc(&l.file),
                    l.rules.len()
                )
            })
            .collect();
        let rows: String = p
            .base()
            .rules()
            .iter()
            .map(|r| {
                format!(
                    "<tr><td>{id}</td><td>{badge}</td><td>{specs}</td><td>{except}</td><td>{reason}</td><td>{mode}</td><td>{agents}</td><td>{layer}</td><td><code>{file}:{line}</code></td></tr>",
                    id = esc(&r.id),
                    badge = badge(r.decision.as_str()),
                    specs = esc(&r.specs.iter().map(|s| s.text.as_str()).collect::<Vec<_>>().join(", ")),
                    except = esc(&r.except.iter().map(|s| s.text.as_str()).collect::<Vec<_>>().join(", ")),
                    reason = esc(&r.reason),
                    mode = format!("{:?}", r.mode).to_lowercase(),
                    agents = esc(&r.agents.join(", ")),
                    layer = r.layer.as_str(),
                    file = esc(&r.file),
                    line = r.line,
                )
            })
            .collect();
        let base = p.base();
        let approvals: String = base
            .approvals()
            .iter()
            .map(|a| {
                format!(
                    "<tr><td>{id}</td><td>{what}</td><td>{by}</td><td>{at}</td><td>{layer}</td><td><code>{file}:{line}</code></td></tr>",
                    id = esc(&a.id),
                    what = esc(&a.summary),
                    by = esc(&a.by),
                    at = esc(&a.at),
                    layer = a.layer.as_str(),
                    file = esc(&a.file),
                    line = a.line,
                )
            })
            .collect();
        let approvals = if approvals.is_empty() {
            "<p class=\"muted\">None yet: \"Always allow exactly this\" on an ask adds one.</p>"
                .to_string()
        } else {
            format!(
                "<table id=\"approvals\"><thead><tr><th>Approval</th><th>Exactly this action</th><th>By</th><th>When</th><th>Layer</th><th>Where</th></tr></thead><tbody>{approvals}</tbody></table>"
            )
        };
        let agents = agents_table(&base);
        format!(
            "<p>The effective policy, layered system → user → project; a lower layer only tightens. \
             Edits to the files apply within a second.</p><ul>{layers}</ul>\
             <h2>Agents</h2>{agents}\
             <h2>Rules</h2><table><thead><tr><th>Rule</th><th>Decision</th><th>Covers</th><th>Except</th><th>Why</th><th>Mode</th><th>Agents</th><th>Layer</th><th>Where</th></tr></thead><tbody>{rows}</tbody></table>\
             <h2>Standing approvals</h2><p class=\"muted\">Asks for exactly these actions are allowed without asking; delete an <code>[[approval]]</code> table from the file to take one back.</p>{approvals}"
        )
    };
    render(&state, &b, "Rules", "/rules", &body)
}

/// The autonomy every agent gets unless its `[agents.<name>]` table says
/// otherwise, and each such table's autonomy and egress limits (combined
/// across layers to the strictest).
fn agents_table(p: &warden_policy::Policy) -> String {
    let d = p.default_autonomy();
    let rows: String = p
        .named_agents()
        .into_iter()
        .map(|(name, autonomy, limits)| {
            let autonomy = match autonomy {
                Some(a) => format!("{} ({})", a.name(), a.level()),
                None => format!("{} ({}), the default", d.name(), d.level()),
            };
            let limits = if limits.any() {
                esc(&limits.describe().join("; "))
            } else {
                "the daemon's own".to_string()
            };
            format!(
                "<tr><td>{}</td><td>{autonomy}</td><td>{limits}</td></tr>",
                esc(name)
            )
        })
        .collect();
    let default = format!(
        "<p>Agents no <code>[agents.NAME]</code> table names act at autonomy <strong>{} ({})</strong>.</p>",
        d.name(),
        d.level()
    );
    if rows.is_empty() {
        return default;
    }
    format!(
        "{default}<table id=\"agent-settings\"><thead><tr><th>Agent</th><th>Autonomy</th><th>Egress limits (through the proxy)</th></tr></thead><tbody>{rows}</tbody></table>"
    )
}
