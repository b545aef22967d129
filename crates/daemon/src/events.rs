//! The live feed: every decision, ask, answer, session change and alert, as it
//! happens, to every dashboard and `GET /v1/events` subscriber. A slow
//! subscriber loses old events (and is told how many), never slows decisions.

use serde::Serialize;
use tokio::sync::broadcast;
use warden_types::{Action, Decision, Verdict};

use crate::consent::AskView;

/// One event of the feed.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A decision was made and recorded.
    Decision {
        /// The action as decided (identity filled in by the daemon).
        action: Box<Action>,
        /// The verdict, with its audit receipt.
        verdict: Box<Verdict>,
        /// Milliseconds the decision took.
        took_ms: f64,
    },
    /// An ask is waiting for a human.
    Ask {
        /// The ask.
        ask: Box<AskView>,
    },
    /// An ask was answered (by a human, the timeout or shutdown).
    Answered {
        /// Its id.
        id: String,
        /// The answer.
        decision: Decision,
        /// Who answered.
        by: String,
    },
    /// A session was registered, paused, resumed or stopped.
    Session {
        /// Its id.
        id: String,
        /// Its agent's name.
        agent: String,
        /// Its new state.
        state: String,
    },
    /// Something a human should look at.
    Alert {
        /// What happened.
        message: String,
    },
}

impl Event {
    /// The SSE event name.
    pub fn name(&self) -> &'static str {
        match self {
            Event::Decision { .. } => "decision",
            Event::Ask { .. } => "ask",
            Event::Answered { .. } => "answered",
            Event::Session { .. } => "session",
            Event::Alert { .. } => "alert",
        }
    }
}

/// The feed's sending side.
#[derive(Clone)]
pub struct Feed(broadcast::Sender<Event>);

impl Feed {
    /// A feed keeping up to `capacity` events for slow subscribers.
    pub fn new(capacity: usize) -> Feed {
        Feed(broadcast::channel(capacity.max(16)).0)
    }

    /// Publishes (nobody listening is fine).
    pub fn send(&self, e: Event) {
        let _ = self.0.send(e);
    }

    /// A new subscription.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.0.subscribe()
    }
}
