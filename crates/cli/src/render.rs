//! Human-readable explanations of a decision.

use std::fmt::Write;

use warden_policy::Evaluation;
use warden_types::{Action, Decision};

fn mark(d: Decision) -> &'static str {
    match d {
        Decision::Allow => "ALLOW",
        Decision::Ask => "ASK  ",
        Decision::Deny => "DENY ",
    }
}

/// Decision, reason, sub-commands, findings and every matched rule.
pub fn explanation(action: &Action, e: &Evaluation) -> String {
    let v = &e.verdict;
    let mut s = String::new();
    let _ = writeln!(s, "{} {}", mark(v.decision).trim_end(), v.reason);
    let _ = writeln!(
        s,
        "  action:   {} in {}",
        action.kind.tag(),
        if action.cwd.is_empty() {
            "(no cwd)"
        } else {
            &action.cwd
        }
    );
    let _ = writeln!(s, "  autonomy: {} ({})", e.autonomy, e.autonomy.level());
    let _ = writeln!(s, "  threat:   {}", v.threat);
    let _ = writeln!(s, "  rules:    {}", v.rules.join(", "));
    if !e.subjects.is_empty() {
        let _ = writeln!(s, "  judged:");
        for sub in &e.subjects {
            let _ = writeln!(s, "    {} {}  ({})", mark(sub.decision), sub.what, sub.why);
            if !sub.matched.is_empty() {
                let _ = writeln!(s, "          matched: {}", sub.matched.join(", "));
            }
        }
    }
    if !e.findings.is_empty() {
        let _ = writeln!(s, "  findings:");
        for f in &e.findings {
            let place = if f.command.is_empty() {
                String::new()
            } else {
                format!(" in `{}`", f.command.replace('\n', "⏎"))
            };
            let _ = writeln!(
                s,
                "    {:<8} {}{place}: {}",
                f.threat.as_str(),
                f.kind.id(),
                f.why
            );
        }
    }
    if let Some(u) = &e.unparseable {
        let _ = writeln!(s, "  unparseable: {u}");
    }
    if let Some(new) = &v.rewrite {
        let _ = writeln!(s, "  rewritten to: {new}  (the decision is this command's)");
    }
    if !v.loosened.is_empty() {
        let _ = writeln!(s, "  loosened by rule: {}", v.loosened.join(", "));
    }
    if !v.would_block.is_empty() {
        let _ = writeln!(
            s,
            "  audit-mode rules that would tighten this: {}",
            v.would_block.join(", ")
        );
    }
    s
}
