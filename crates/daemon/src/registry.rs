//! Agents and their sessions, as registered by the interceptors that launch or
//! configure them. A session is known to the daemon by kernel identity (the
//! process tree under its root pid) or by the secret issued at registration;
//! never by the name a caller gives itself.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use warden_types::{Autonomy, Decision};

use crate::random_token;

/// A session's lifecycle state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionState {
    /// Decisions are made.
    Active,
    /// Every action is denied until resumed.
    Paused,
    /// Ended; every action is denied.
    Stopped,
}

/// What an interceptor asks for when it registers a session.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registration {
    /// The agent's name (`claude-code`, `codex`…); selects `[agents.NAME]`.
    pub agent: String,
    /// The autonomy level to grant; default: the policy's level for the agent.
    #[serde(default)]
    pub autonomy: Option<Autonomy>,
    /// The session's workspace (the agent's working directory).
    #[serde(default)]
    pub workspace: String,
    /// The session's root process: it and everything below it is the session.
    #[serde(default)]
    pub pid: Option<u32>,
    /// The root process's start time, read from `/proc` by the daemon (never
    /// taken from the caller): a session is its process, not a pid the
    /// kernel hands to someone else once that process exits.
    #[serde(skip)]
    pub pid_start: Option<u64>,
}

/// What registration hands back: the secret is shown once and stored hashed.
#[derive(Debug, Clone, Serialize)]
pub struct Issued {
    /// The session id.
    pub session: String,
    /// The agent id.
    pub agent_id: String,
    /// The per-session secret, for the `x-warden-secret` header.
    pub secret: String,
}

/// Decisions a session received.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Counts {
    /// Allowed.
    pub allow: u64,
    /// Asked (whatever the answer).
    pub ask: u64,
    /// Denied.
    pub deny: u64,
}

/// A registered session.
#[derive(Debug, Clone, Serialize)]
pub struct Session {
    /// Session id.
    pub id: String,
    /// Agent id (one per agent name).
    pub agent_id: String,
    /// Agent name.
    pub agent: String,
    /// Granted autonomy.
    pub autonomy: Autonomy,
    /// Workspace.
    pub workspace: String,
    /// Root process.
    pub pid: Option<u32>,
    /// State.
    pub state: SessionState,
    /// Registered at (RFC 3339).
    pub created: String,
    /// Decisions so far.
    pub counts: Counts,
    #[serde(skip)]
    secret_hash: [u8; 32],
    #[serde(skip)]
    root_start: Option<u64>,
    /// When it last asked for a decision (the watchdog notices silence).
    #[serde(skip)]
    pub last_seen: Option<std::time::Instant>,
    /// When its recent denials happened (the watchdog notices bursts).
    #[serde(skip)]
    pub recent_denials: std::collections::VecDeque<std::time::Instant>,
}

impl Session {
    /// Its root process (pid, start time), if it has one.
    fn root(&self) -> Option<(u32, u64)> {
        self.pid.zip(self.root_start)
    }
}

/// Why a registry operation failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RegistryError {
    /// No session with this id.
    #[error("no session {0:?}")]
    NoSession(String),
    /// A stopped session cannot be resumed.
    #[error("session {0:?} was stopped; register a new one")]
    Stopped(String),
    /// The agent name is empty or unreasonable.
    #[error("agent name {0:?} is not a name (1 to 64 of letters, digits, '-', '_', '.')")]
    BadName(String),
}

fn hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Stopped sessions kept for the session list; older ones are forgotten (their
/// decisions stay in the audit log).
const KEEP_STOPPED: usize = 1024;

/// All sessions, in registration order.
#[derive(Debug, Default)]
pub struct Registry {
    sessions: Vec<Session>,
    /// Processes paused or stopped with `hold`.
    holds: HashMap<(u32, u64), SessionState>,
    agent_ids: HashMap<String, String>,
}

impl Registry {
    /// Registers a session at `autonomy` and returns its id and secret.
    pub fn register(
        &mut self,
        reg: Registration,
        autonomy: Autonomy,
        now: String,
    ) -> Result<Issued, RegistryError> {
        let name_ok = !reg.agent.is_empty()
            && reg.agent.len() <= 64
            && reg
                .agent
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        if !name_ok {
            return Err(RegistryError::BadName(reg.agent));
        }
        let agent_id = self
            .agent_ids
            .entry(reg.agent.clone())
            .or_insert_with(|| format!("agent-{}", &random_token()[..12]))
            .clone();
        let id = format!("sess-{}", &random_token()[..16]);
        let secret = random_token();
        // A new session on a process someone paused or stopped (`hold`)
        // starts that way: an agent cannot undo it by opening another.
        let state = reg
            .pid
            .zip(reg.pid_start)
            .and_then(|r| self.holds.get(&r).copied())
            .unwrap_or(SessionState::Active);
        self.sessions.push(Session {
            id: id.clone(),
            agent_id: agent_id.clone(),
            agent: reg.agent,
            autonomy,
            workspace: reg.workspace,
            pid: reg.pid,
            state,
            created: now,
            counts: Counts::default(),
            secret_hash: hash(&secret),
            root_start: reg.pid_start,
            last_seen: None,
            recent_denials: std::collections::VecDeque::new(),
        });
        self.forget_old_stopped();
        Ok(Issued {
            session: id,
            agent_id,
            secret,
        })
    }

    /// The session whose secret this is.
    pub fn by_secret(&self, secret: &str) -> Option<&Session> {
        let h = hash(secret);
        self.sessions.iter().find(|s| s.secret_hash == h)
    }

    /// The live sessions' root processes (pid, start time), to look for among
    /// a caller's ancestors without holding the registry.
    pub fn roots(&self) -> Vec<(u32, u64)> {
        self.sessions
            .iter()
            .filter(|s| s.state != SessionState::Stopped)
            .filter_map(Session::root)
            .collect()
    }

    /// The live session whose root is the process `pid` started at `start`.
    pub fn by_root(&self, pid: u32, start: u64) -> Option<&Session> {
        self.sessions
            .iter()
            .rev()
            .find(|s| s.root() == Some((pid, start)) && s.state != SessionState::Stopped)
    }

    fn forget_old_stopped(&mut self) {
        let stopped = self
            .sessions
            .iter()
            .filter(|s| s.state == SessionState::Stopped)
            .count();
        let mut extra = stopped.saturating_sub(KEEP_STOPPED);
        if extra > 0 {
            self.sessions.retain(|s| {
                let forget = extra > 0 && s.state == SessionState::Stopped;
                if forget {
                    extra -= 1;
                }
                !forget
            });
        }
    }

    /// A session by id.
    pub fn get(&self, id: &str) -> Option<&Session> {
        self.sessions.iter().find(|s| s.id == id)
    }

    /// Pauses, resumes or stops a session.
    pub fn set_state(&mut self, id: &str, state: SessionState) -> Result<&Session, RegistryError> {
        let s = self
            .sessions
            .iter_mut()
            .find(|s| s.id == id)
            .ok_or_else(|| RegistryError::NoSession(id.to_string()))?;
        if s.state == SessionState::Stopped && state != SessionState::Stopped {
            return Err(RegistryError::Stopped(id.to_string()));
        }
        s.state = state;
        Ok(s)
    }

    /// Pauses, resumes or stops a session as a person or an interceptor
    /// asks: for its whole process — every live session on the same root,
    /// and any the process opens later (an agent session ending on its own
    /// is `set_state`, and holds nothing).
    pub fn hold(&mut self, id: &str, state: SessionState) -> Result<&Session, RegistryError> {
        let root = self.set_state(id, state)?.root();
        if let Some(root) = root {
            for other in &mut self.sessions {
                if other.root() == Some(root) && other.state != SessionState::Stopped {
                    other.state = state;
                }
            }
            if state == SessionState::Active {
                self.holds.remove(&root);
            } else {
                self.holds.insert(root, state);
            }
        }
        self.get(id)
            .ok_or_else(|| RegistryError::NoSession(id.to_string()))
    }

    /// Counts a decision for a session.
    pub fn count(&mut self, id: &str, d: Decision) {
        if let Some(s) = self.sessions.iter_mut().find(|s| s.id == id) {
            let now = std::time::Instant::now();
            s.last_seen = Some(now);
            match d {
                Decision::Allow => s.counts.allow += 1,
                Decision::Ask => s.counts.ask += 1,
                Decision::Deny => {
                    s.counts.deny += 1;
                    s.recent_denials.push_back(now);
                    while s.recent_denials.len() > 64 {
                        s.recent_denials.pop_front();
                    }
                }
            }
        }
    }

    /// Every session, to update (the watchdog).
    pub fn sessions_mut(&mut self) -> &mut [Session] {
        &mut self.sessions
    }

    /// Every session.
    pub fn list(&self) -> &[Session] {
        &self.sessions
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reg(agent: &str, pid: Option<u32>) -> Registration {
        Registration {
            agent: agent.into(),
            autonomy: None,
            workspace: "/w".into(),
            pid,
            pid_start: pid.map(|p| u64::from(p) * 10),
        }
    }

    #[test]
    fn secrets_and_process_trees_identify_sessions() {
        let mut r = Registry::default();
        let a = r
            .register(
                reg("claude-code", Some(100)),
                Autonomy::Executor,
                "t".into(),
            )
            .unwrap();
        let b = r
            .register(reg("claude-code", None), Autonomy::Observer, "t".into())
            .unwrap();
        assert_eq!(a.agent_id, b.agent_id, "one agent id per agent name");
        assert_eq!(r.by_secret(&a.secret).unwrap().id, a.session);
        assert!(r.by_secret("guess").is_none());
        assert_eq!(r.roots(), vec![(100, 1000)]);
        assert_eq!(r.by_root(100, 1000).unwrap().id, a.session);
        assert!(r.by_root(100, 1001).is_none(), "the pid, reused");
        r.set_state(&a.session, SessionState::Stopped).unwrap();
        assert!(r.by_root(100, 1000).is_none());
        assert!(r.roots().is_empty());
        assert_eq!(
            r.set_state(&a.session, SessionState::Active).err(),
            Some(RegistryError::Stopped(a.session.clone()))
        );
    }

    #[test]
    fn stopped_sessions_are_forgotten_beyond_a_limit_live_ones_never() {
        let mut r = Registry::default();
        let live = r
            .register(reg("a", None), Autonomy::Observer, "t".into())
            .unwrap();
        for _ in 0..KEEP_STOPPED + 10 {
            let s = r
                .register(reg("a", None), Autonomy::Observer, "t".into())
                .unwrap();
            r.set_state(&s.session, SessionState::Stopped).unwrap();
        }
        let last = r
            .register(reg("a", None), Autonomy::Observer, "t".into())
            .unwrap();
        assert_eq!(r.list().len(), KEEP_STOPPED + 2);
        assert!(r.get(&live.session).is_some() && r.get(&last.session).is_some());
    }

    #[test]
    fn pausing_or_stopping_a_process_holds_for_all_its_sessions_old_and_new() {
        let mut r = Registry::default();
        let t = || "t".to_string();
        let a = r
            .register(reg("claude-code", Some(7)), Autonomy::Executor, t())
            .unwrap();
        let b = r
            .register(reg("claude-code", Some(7)), Autonomy::Executor, t())
            .unwrap();
        r.hold(&b.session, SessionState::Paused).unwrap();
        assert_eq!(r.get(&a.session).unwrap().state, SessionState::Paused);
        assert!(
            r.by_root(7, 70)
                .is_some_and(|s| s.state == SessionState::Paused)
        );
        let c = r
            .register(reg("claude-code", Some(7)), Autonomy::Executor, t())
            .unwrap();
        assert_eq!(
            r.get(&c.session).unwrap().state,
            SessionState::Paused,
            "a new one cannot undo it"
        );
        r.hold(&c.session, SessionState::Stopped).unwrap();
        assert!(r.by_root(7, 70).is_none(), "stopped, every one");
        let d = r
            .register(reg("claude-code", Some(7)), Autonomy::Executor, t())
            .unwrap();
        assert_eq!(r.get(&d.session).unwrap().state, SessionState::Stopped);
        let other = r
            .register(reg("claude-code", Some(8)), Autonomy::Executor, t())
            .unwrap();
        assert_eq!(r.get(&other.session).unwrap().state, SessionState::Active);
        // A session that ends on its own (the agent's SessionEnd) holds
        // nothing: the next one of that process starts active.
        r.set_state(&other.session, SessionState::Stopped).unwrap();
        let next = r
            .register(reg("claude-code", Some(8)), Autonomy::Executor, t())
            .unwrap();
        assert_eq!(r.get(&next.session).unwrap().state, SessionState::Active);
    }

    #[test]
    fn names_are_names() {
        let mut r = Registry::default();
        for bad in ["", "a b", "x/../y", &"n".repeat(65)] {
            assert!(
                r.register(reg(bad, None), Autonomy::Observer, "t".into())
                    .is_err(),
                "{bad:?}"
            );
        }
    }
}
