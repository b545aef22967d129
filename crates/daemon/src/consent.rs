//! Asks waiting for a human. Each has a random, unguessable id, carries the full
//! action with the rules and threat that made it an ask, and is answered at most
//! once: by a human (dashboard, terminal), by its timeout (deny), or by shutdown
//! (deny). The agent never learns an id it could approve through: ids are only
//! listed to callers the API treats as human.

use std::collections::HashMap;

use serde::Serialize;
use tokio::sync::oneshot;
use warden_types::{Action, Decision, Threat, Verdict};

use crate::random_token;

/// A human's (or the timeout's) answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HumanAnswer {
    /// Allow or deny.
    pub decision: Decision,
    /// Who: `dashboard`, `cli:uid=1000,pid=4242`, `timeout`, `shutdown`.
    pub by: String,
}

/// An ask as listed to humans.
#[derive(Debug, Clone, Serialize)]
pub struct AskView {
    /// The id to approve or deny with.
    pub id: String,
    /// The action in full.
    pub action: Action,
    /// The rules that asked.
    pub rules: Vec<String>,
    /// Why.
    pub reason: String,
    /// The threat level found.
    pub threat: Threat,
    /// The session that asked, if registered.
    pub session: Option<String>,
    /// The agent's name, as registered.
    pub agent: String,
    /// When it was asked (RFC 3339).
    pub asked: String,
    /// Milliseconds since the epoch at which it becomes a deny.
    pub expires_ms: u64,
    /// Whether "always for this exact action" is on offer: no system-layer
    /// rule is among those asking.
    pub always: bool,
}

struct Pending {
    view: AskView,
    reply: oneshot::Sender<HumanAnswer>,
}

/// Why an answer was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AskError {
    /// No such ask (answered already, timed out, or never existed).
    #[error("no pending ask {0:?} (answered, timed out, or never asked)")]
    NoAsk(String),
    /// Only allow or deny answer an ask.
    #[error("an ask is answered with allow or deny, not ask")]
    NotAnAnswer,
}

/// The pending asks.
#[derive(Default)]
pub struct Asks {
    pending: HashMap<String, Pending>,
}

impl Asks {
    /// Opens an ask; the receiver gets the answer.
    #[allow(clippy::too_many_arguments)]
    pub fn open(
        &mut self,
        action: &Action,
        verdict: &Verdict,
        always: bool,
        session: Option<String>,
        agent: String,
        asked: String,
        expires_ms: u64,
    ) -> (AskView, oneshot::Receiver<HumanAnswer>) {
        let (tx, rx) = oneshot::channel();
        let view = AskView {
            id: format!("ask-{}", random_token()),
            action: action.clone(),
            rules: verdict.rules.clone(),
            reason: verdict.reason.clone(),
            threat: verdict.threat,
            session,
            agent,
            asked,
            expires_ms,
            always,
        };
        self.pending.insert(
            view.id.clone(),
            Pending {
                view: view.clone(),
                reply: tx,
            },
        );
        (view, rx)
    }

    /// Answers ask `id` once; it is gone afterwards.
    pub fn answer(&mut self, id: &str, answer: HumanAnswer) -> Result<AskView, AskError> {
        if answer.decision == Decision::Ask {
            return Err(AskError::NotAnAnswer);
        }
        let p = self
            .pending
            .remove(id)
            .ok_or_else(|| AskError::NoAsk(id.to_string()))?;
        // The asker may have given up (its deadline passed): then the answer
        // changes nothing, which is what a deny-by-default wants.
        let _ = p.reply.send(answer);
        Ok(p.view)
    }

    /// Ask `id`, if pending.
    pub fn get(&self, id: &str) -> Option<AskView> {
        self.pending.get(id).map(|p| p.view.clone())
    }

    /// Forgets ask `id` (its asker timed out and denies on its own).
    pub fn withdraw(&mut self, id: &str) -> bool {
        self.pending.remove(id).is_some()
    }

    /// The pending asks, oldest first.
    pub fn list(&self) -> Vec<AskView> {
        let mut v: Vec<AskView> = self.pending.values().map(|p| p.view.clone()).collect();
        v.sort_by(|a, b| a.asked.cmp(&b.asked).then(a.id.cmp(&b.id)));
        v
    }

    /// Denies every pending ask, answered by `by` (shutdown).
    pub fn deny_all(&mut self, by: &str) -> usize {
        let n = self.pending.len();
        for (_, p) in self.pending.drain() {
            let _ = p.reply.send(HumanAnswer {
                decision: Decision::Deny,
                by: by.to_string(),
            });
        }
        n
    }

    /// How many are pending.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// Whether none are.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use warden_types::ActionKind;

    fn open(a: &mut Asks) -> (AskView, oneshot::Receiver<HumanAnswer>) {
        let action = Action::new(
            "/w",
            ActionKind::Shell {
                command: "git push".into(),
            },
        );
        let mut v = Verdict::malformed("asks");
        v.decision = Decision::Ask;
        a.open(&action, &v, true, None, "codex".into(), "t".into(), 0)
    }

    #[test]
    fn an_ask_is_answered_once() {
        let mut a = Asks::default();
        let (view, mut rx) = open(&mut a);
        assert!(view.id.len() > 40, "ids are unguessable: {}", view.id);
        let yes = HumanAnswer {
            decision: Decision::Allow,
            by: "dashboard".into(),
        };
        a.answer(&view.id, yes.clone()).unwrap();
        assert_eq!(rx.try_recv().unwrap(), yes);
        assert_eq!(
            a.answer(&view.id, yes).err(),
            Some(AskError::NoAsk(view.id.clone()))
        );
    }

    #[test]
    fn shutdown_denies_everything_pending() {
        let mut a = Asks::default();
        let (_, mut r1) = open(&mut a);
        let (_, mut r2) = open(&mut a);
        assert_eq!(a.deny_all("shutdown"), 2);
        assert_eq!(r1.try_recv().unwrap().decision, Decision::Deny);
        assert_eq!(r2.try_recv().unwrap().by, "shutdown");
        assert!(a.is_empty());
    }
}
