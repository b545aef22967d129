//! The Insights page: charts over the recent audit log, drawn as inline SVG on
//! the server (no script, no chart library): decisions per hour, denials by
//! rule, top commands, and how asks ended.

use std::collections::BTreeMap;

use axum::Extension;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use warden_types::{ActionKind, Decision};

use super::html::esc;
use super::pages::{guard, recent, render};
use crate::api::AppState;
use crate::governor::{Peer, now_ms};

/// How many entries the charts look at (the newest).
const WINDOW: usize = 5000;

#[derive(Default)]
struct Tally {
    per_hour: BTreeMap<u64, [u64; 3]>,
    denials_by_rule: BTreeMap<String, u64>,
    commands: BTreeMap<String, u64>,
    asks_answered: u64,
    asks_timed_out: u64,
    asks_other: u64,
    total: u64,
}

fn idx(d: Decision) -> usize {
    match d {
        Decision::Allow => 0,
        Decision::Ask => 1,
        Decision::Deny => 2,
    }
}

/// A horizontal bar chart of `(label, value)` pairs, largest first.
fn bars(title: &str, items: &[(String, u64)]) -> String {
    if items.is_empty() {
        return format!(
            "<figure><figcaption>{}</figcaption><p class=\"muted\">Nothing yet.</p></figure>",
            esc(title)
        );
    }
    let max = items.iter().map(|(_, v)| *v).max().unwrap_or(1).max(1);
    let row_h = 22;
    let h = items.len() * row_h + 4;
    let mut svg = format!(
        "<svg class=\"chart\" viewBox=\"0 0 640 {h}\" role=\"img\" aria-label=\"{}\">",
        esc(title)
    );
    for (i, (label, v)) in items.iter().enumerate() {
        let y = i * row_h;
        let w = (*v as f64 / max as f64 * 380.0).round() as u64;
        svg.push_str(&format!(
            "<text x=\"0\" y=\"{ty}\" class=\"label\">{l}</text><rect x=\"220\" y=\"{y}\" width=\"{w}\" height=\"16\" class=\"bar\"></rect>\
             <text x=\"{tx}\" y=\"{ty}\" class=\"value\">{v}</text>",
            ty = y + 13,
            l = esc(&truncate(label, 32)),
            tx = 226 + w,
        ));
    }
    svg.push_str("</svg>");
    format!(
        "<figure><figcaption>{}</figcaption>{svg}</figure>",
        esc(title)
    )
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(n).collect::<String>())
    }
}

/// Stacked columns per hour over the last 24 hours: allow, ask, deny.
fn hourly(per_hour: &BTreeMap<u64, [u64; 3]>) -> String {
    let now_h = now_ms() / 3_600_000;
    let hours: Vec<u64> = (0..24).map(|i| now_h - 23 + i).collect();
    let max = hours
        .iter()
        .map(|h| per_hour.get(h).map_or(0, |c| c.iter().sum()))
        .max()
        .unwrap_or(0)
        .max(1);
    let mut svg = String::from(
        "<svg class=\"chart\" viewBox=\"0 0 640 200\" role=\"img\" aria-label=\"decisions per hour\">",
    );
    for (i, h) in hours.iter().enumerate() {
        let c = per_hour.get(h).copied().unwrap_or_default();
        let x = i * 26 + 4;
        let mut y = 180.0;
        for (k, class) in ["allow", "ask", "deny"].iter().enumerate() {
            let hgt = c[k] as f64 / max as f64 * 170.0;
            y -= hgt;
            if c[k] > 0 {
                svg.push_str(&format!(
                    "<rect x=\"{x}\" y=\"{y:.1}\" width=\"20\" height=\"{hgt:.1}\" class=\"{class}\"><title>{n} {class}</title></rect>",
                    n = c[k]
                ));
            }
        }
        if i % 6 == 0 {
            svg.push_str(&format!(
                "<text x=\"{x}\" y=\"196\" class=\"label\">{}:00</text>",
                h % 24
            ));
        }
    }
    svg.push_str("</svg>");
    format!(
        "<figure><figcaption>Decisions per hour, last 24 hours (UTC): allow, ask, deny</figcaption>{svg}</figure>"
    )
}

fn top(map: &BTreeMap<String, u64>, n: usize) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = map.iter().map(|(k, c)| (k.clone(), *c)).collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    v.truncate(n);
    v
}

pub async fn page(
    State(state): State<AppState>,
    Extension(peer): Extension<Peer>,
    headers: HeaderMap,
) -> Response {
    let b = match guard(&state, &peer, &headers) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let entries = recent(&state, None, WINDOW).await.unwrap_or_default();
    let mut t = Tally::default();
    for e in &entries {
        let Some(r) = e.record() else { continue };
        t.total += 1;
        let v = &r.verdict;
        let final_decision = v.answered.as_ref().map_or(v.decision, |a| a.decision);
        t.per_hour.entry(e.time_ms / 3_600_000).or_default()[idx(final_decision)] += 1;
        if final_decision == Decision::Deny {
            let rule = v.rules.first().cloned().unwrap_or_else(|| "(none)".into());
            *t.denials_by_rule.entry(rule).or_default() += 1;
        }
        if let ActionKind::Shell { command } = &r.action.kind {
            let head: String = command
                .split_whitespace()
                .take(2)
                .collect::<Vec<_>>()
                .join(" ");
            *t.commands.entry(head).or_default() += 1;
        }
        match &v.answered {
            Some(a) if a.by == "timeout" => t.asks_timed_out += 1,
            Some(a) if a.by == "shutdown" => t.asks_other += 1,
            Some(_) => t.asks_answered += 1,
            None => {}
        }
    }
    let asks = vec![
        ("answered by a person".to_string(), t.asks_answered),
        ("timed out (denied)".to_string(), t.asks_timed_out),
        ("denied at shutdown".to_string(), t.asks_other),
    ];
    let body = format!(
        "<p class=\"muted\">Over the newest {n} entries of the audit log.</p>{hourly}{denials}{commands}{asks}",
        n = t.total,
        hourly = hourly(&t.per_hour),
        denials = bars("Denials by rule", &top(&t.denials_by_rule, 10)),
        commands = bars("Top commands", &top(&t.commands, 10)),
        asks = bars("How asks ended", &asks),
    );
    render(&state, &b, "Insights", "/insights", &body)
}
