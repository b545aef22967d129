//! Rewrite rules: an allow rule of `Bash(prefix:*)` specifiers with
//! `rewrite = "words"` replaces the matched prefix of a command line, e.g.
//! `git push --force origin` → `git push --force-with-lease origin`. The
//! rewritten command is decided in full, as if the agent had asked for it.
//!
//! Only a single plain command is rewritten (no quotes, variables,
//! redirections, separators or globs): anything else could not be rewritten
//! without a shell parser's guesses, so there the rule asks a person instead
//! of allowing the original.

use warden_types::{Action, ActionKind, Decision};

use super::{EvalContext, Evaluation, Policy};

/// Characters that make a command line more than plain words.
pub(crate) const SHELL_SYNTAX: [char; 24] = [
    ';', '&', '|', '<', '>', '$', '`', '(', ')', '{', '}', '\'', '"', '\\', '\n', '\r', '*', '?',
    '[', ']', '#', '~', '!', '=',
];

fn takes_rewrites(action: &Action) -> bool {
    action
        .context
        .as_ref()
        .and_then(|c| c.extra.get(warden_types::TAKES_REWRITES))
        .is_some_and(|v| v == "yes")
}

/// The words of a `Bash(words:*)` specifier, if it is one of plain words.
pub(crate) fn prefix_words(spec: &str) -> Option<Vec<String>> {
    let inner = spec.strip_prefix("Bash(")?.strip_suffix(":*)")?;
    let words: Vec<String> = inner.split_whitespace().map(str::to_string).collect();
    (!words.is_empty() && !inner.contains(SHELL_SYNTAX)).then_some(words)
}

impl Policy {
    /// The rule that rewrites `command`, with the rewritten command.
    fn rewrite_of(&self, command: &str, agent: &str) -> Option<(String, String, String)> {
        if self.rewrites.is_empty() || command.contains(SHELL_SYNTAX) {
            return None;
        }
        let words: Vec<&str> = command.split_whitespace().collect();
        self.rewrites.iter().find_map(|(i, prefixes)| {
            let r = &self.rules[*i];
            let to = r.rewrite.as_ref()?;
            if !(r.agents.is_empty() || r.agents.iter().any(|a| a == agent)) {
                return None;
            }
            prefixes.iter().find_map(|prefix| {
                let matches = words.len() >= prefix.len()
                    && words.iter().zip(prefix.iter()).all(|(w, p)| w == p);
                matches.then(|| {
                    let rest = &words[prefix.len()..];
                    let new = std::iter::once(to.as_str())
                        .chain(rest.iter().copied())
                        .collect::<Vec<_>>()
                        .join(" ");
                    (r.id.clone(), r.reason.clone(), new)
                })
            })
        })
    }

    /// Decides `action`, rewritten first if a rewrite rule applies to it.
    pub(super) fn evaluate_rewritten(
        &self,
        action: &Action,
        ctx: &EvalContext,
    ) -> Option<Evaluation> {
        let ActionKind::Shell { command } = &action.kind else {
            return None;
        };
        let (id, why, new) = self.rewrite_of(command.trim(), &action.agent.name)?;
        let mut rewritten = action.clone();
        rewritten.kind = ActionKind::Shell {
            command: new.clone(),
        };
        let mut ev = self.evaluate_plain(&rewritten, ctx);
        let v = &mut ev.verdict;
        v.rules.insert(0, id.clone());
        if !takes_rewrites(action) && v.decision != Decision::Deny {
            // An interceptor that cannot run the rewrite would run the
            // original: refuse it, and say what would be allowed.
            v.decision = Decision::Deny;
            v.reason = format!(
                "rule {id} allows this only as `{new}` ({why}), and this interceptor cannot run a rewritten command: run `{new}` instead"
            );
            ev.approvable = false;
            ev.approval = None;
            return Some(ev);
        }
        v.reason = format!("rule {id} rewrites it to `{new}` ({why}); {}", v.reason);
        v.rewrite = Some(new);
        Some(ev)
    }
}
