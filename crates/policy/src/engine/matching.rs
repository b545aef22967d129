//! Finding the rules that match a subject (through the policy's indexes) and
//! matching one rule against its items, and the decisions no rule makes:
//! autonomy defaults and what a file path means to the threat layer.

use std::path::Path;

use warden_types::{Autonomy, Decision, Threat};

use crate::file::{Rule, RuleMode};
use crate::shell::{self, Finding, FindingKind};
use crate::spec::Tool;
use crate::subject::{CommandClass, FileOp, Item, Subject};

pub(super) fn rule_matches(r: &Rule, items: &[Item<'_>], cwd: Option<&Path>) -> bool {
    // Deny/ask path rules apply to the files a command touches; an allow rule for a
    // file never allows a whole command. `except` removes the item it matches, not
    // the rule: `cat ~/.ssh/id_rsa ~/.ssh/id_rsa.pub` is still a secret read.
    let path_rules = r.decision != Decision::Allow;
    items.iter().any(|item| {
        // A partly-known path may reach what a rule covers, but no exception can
        // be sure to cover all of it.
        let exceptable = match item {
            Item::Reach(_, comps, open) => {
                !open && !comps.iter().any(|c| c.contains(['*', '?', '[']))
            }
            _ => true,
        };
        r.specs
            .iter()
            .any(|spec| item.matched_by(spec, cwd, path_rules))
            && !(exceptable
                && r.except
                    .iter()
                    .any(|spec| item.matched_by(spec, cwd, path_rules)))
    })
}

/// Bit per tool, to skip rules that cannot match a subject's items.
pub(super) fn tool_bit(t: Tool) -> u16 {
    1 << (t as u16)
}

pub(super) fn item_tools(items: &[Item<'_>]) -> u16 {
    items.iter().fold(0, |m, it| {
        m | match it {
            Item::Line(_) => tool_bit(Tool::Bash),
            Item::ExecLine(_) => tool_bit(Tool::Exec),
            Item::Path(..) | Item::Reach(..) => {
                tool_bit(Tool::Read) | tool_bit(Tool::Write) | tool_bit(Tool::Delete)
            }
            Item::Host(..) => tool_bit(Tool::WebFetch) | tool_bit(Tool::Net),
            Item::Mcp(..) => tool_bit(Tool::Mcp),
            Item::Llm(..) => tool_bit(Tool::Llm),
        }
    })
}

/// The decision for a subject no rule matched (ARCHITECTURE §4).
pub(super) fn autonomy_default(level: Autonomy, s: &Subject) -> (Decision, String) {
    use Autonomy::*;
    let class = s.class();
    let d = match (level, class) {
        (_, CommandClass::Read) => Decision::Allow,
        (Observer, _) => Decision::Deny,
        (Assistant, _) => Decision::Ask,
        (Executor, CommandClass::Local) => Decision::Allow,
        (Executor, _) => Decision::Ask,
        (Delegated | Autonomous, _) => Decision::Allow,
    };
    let what = match class {
        CommandClass::Read => "reads",
        CommandClass::Local => "local changes",
        CommandClass::Outward => "outward or irreversible actions",
    };
    (
        d,
        format!(
            "no rule matched; at autonomy {level} ({}) {what} are {}",
            level.level(),
            match d {
                Decision::Allow => "allowed",
                Decision::Ask => "asked about",
                Decision::Deny => "denied",
            }
        ),
    )
}

/// Findings for file actions by what the path means.
pub(crate) fn file_findings(op: FileOp, path: &str, home: &str) -> Option<Finding> {
    let r = shell::paths::classify(path, home);
    let (kind, threat, why) = match op {
        FileOp::Read if r.secret => (
            FindingKind::SecretRead,
            Threat::High,
            format!("reads {path}"),
        ),
        FileOp::Write | FileOp::Delete if r.device => (
            FindingKind::Destructive,
            Threat::Critical,
            format!("writes the device {path}"),
        ),
        FileOp::Write | FileOp::Delete
            if r.auth || r.persistence && (r.system || r.login_script) =>
        {
            (
                FindingKind::AuthWrite,
                Threat::Critical,
                format!("modifies {path}, which controls who gets in or what runs"),
            )
        }
        FileOp::Write | FileOp::Delete if r.persistence => (
            FindingKind::Persistence,
            Threat::High,
            format!("modifies {path}, which runs code later"),
        ),
        _ => return None,
    };
    Some(Finding::general(kind, threat, path.to_string(), why))
}

impl super::Policy {
    /// Rules matching a subject: (enforced, audit-only).
    pub(super) fn matching_rules<'a>(
        &'a self,
        subject: &Subject,
        agent: &str,
        cwd: Option<&Path>,
    ) -> (Vec<&'a Rule>, Vec<&'a Rule>) {
        let mut enforced = Vec::new();
        let mut audited = Vec::new();
        let items = subject.items();
        let wanted = item_tools(&items);
        // Roots of the paths this subject touches, for the path-rule index; a
        // partly-known path at `/` may be under any root.
        let mut roots: Vec<&str> = Vec::new();
        let mut any_root = false;
        for it in &items {
            match it {
                Item::Path(_, p, _) => roots.extend(p.iter().nth(1).and_then(|c| c.to_str())),
                Item::Reach(_, comps, _) => match comps.first() {
                    Some(c) if !c.contains(['*', '?', '[']) => roots.push(c),
                    _ => any_root = true,
                },
                _ => {}
            }
        }
        // A rule can be reached through several index entries (two heads of the
        // same line, several roots): evaluate it once.
        let mut seen = vec![false; self.rules.len()];
        let mut consider = |i: usize| {
            if std::mem::replace(&mut seen[i], true) {
                return;
            }
            let r = &self.rules[i];
            if self.rule_tools[i] & wanted == 0 {
                return;
            }
            if !r.agents.is_empty() && !r.agents.iter().any(|a| a == agent) {
                return;
            }
            if rule_matches(r, &items, cwd) {
                if r.mode == RuleMode::Audit {
                    audited.push(r);
                } else {
                    enforced.push(r);
                }
            }
        };
        if let Subject::Command { lines, .. } = subject {
            // Every form of the line (literal, canonical) has its own first word.
            for head in lines.iter().filter_map(|l| l.split(' ').next()) {
                if let Some(v) = self.bash_by_head.get(head) {
                    v.iter().for_each(|i| consider(*i));
                }
            }
            self.bash_other.iter().for_each(|i| consider(*i));
            // Path rules (deny/ask) over the files a command touches.
            self.other_rules.iter().for_each(|i| consider(*i));
        } else {
            self.other_rules
                .iter()
                .chain(self.bash_other.iter())
                .for_each(|i| consider(*i));
            if let Subject::Exec { program, .. } = subject
                && let Some(v) = self.bash_by_head.get(program.as_str())
            {
                v.iter().for_each(|i| consider(*i));
            }
        }
        if any_root {
            self.path_by_root
                .values()
                .flatten()
                .for_each(|i| consider(*i));
        } else {
            for root in roots {
                if let Some(v) = self.path_by_root.get(root) {
                    v.iter().for_each(|i| consider(*i));
                }
            }
        }
        (enforced, audited)
    }
}
