//! Who is asking: the caller as the kernel reports it (`SO_PEERCRED`, the
//! loopback connection's owner), the secret it presents, and the identity a
//! decision is made under. A session is found by the kernel's account of the
//! caller first, by its secret second; a name the caller claims is only ever
//! kept as a note.

use warden_types::{Action, ActionContext, AgentRef, Autonomy};

use crate::governor::{Governor, lock, now_rfc3339};
use crate::random_token;
use crate::registry::Session;

/// How the caller reached the daemon, as the kernel reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peer {
    /// Over the Unix socket: `SO_PEERCRED`.
    Unix {
        /// The caller's uid.
        uid: u32,
        /// Its pid (absent if the kernel did not say).
        pid: Option<u32>,
    },
    /// Over loopback TCP.
    Tcp {
        /// The caller's address.
        addr: std::net::SocketAddr,
        /// Our end of the connection (with `addr`, the kernel finds the
        /// caller's socket).
        local: Option<std::net::SocketAddr>,
    },
}

impl std::fmt::Display for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Peer::Unix { uid, pid: Some(p) } => write!(f, "unix:uid={uid},pid={p}"),
            Peer::Unix { uid, pid: None } => write!(f, "unix:uid={uid}"),
            Peer::Tcp { addr, .. } => write!(f, "tcp:{addr}"),
        }
    }
}

/// Who is asking for a decision.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The transport identity.
    pub peer: Peer,
    /// The session secret presented (`x-warden-secret`), if any.
    pub secret: Option<String>,
}

/// The identity a decision is made under.
pub(crate) enum Identity {
    Session(Box<Session>),
    Unknown,
}

impl Governor {
    /// The live session whose process tree holds `pid` (`Ok(None)`: none
    /// does; `Err`: its ancestry could not be read, so it may be in one).
    /// `/proc` is read without holding the registry (other decisions go on
    /// meanwhile), and the session is looked up again after, in case it
    /// stopped.
    pub(crate) fn session_of_process(
        &self,
        pid: u32,
    ) -> Result<Option<Session>, crate::procs::Unreadable> {
        let roots = lock(&self.registry).roots();
        if roots.is_empty() {
            return Ok(None);
        }
        let Some((root, start)) = crate::procs::nearest_root(&self.config.proc_root, pid, &roots)?
        else {
            return Ok(None);
        };
        Ok(lock(&self.registry).by_root(root, start).cloned())
    }

    /// The egress limits `[agents.NAME]` sets for `caller`'s agent, from
    /// its session's policy: none for an unknown caller, nor where that
    /// policy does not load (the decision that follows denies then anyway).
    pub fn agent_limits(&self, caller: &Caller) -> warden_policy::AgentLimits {
        let Identity::Session(s) = self.identify(caller) else {
            return warden_policy::AgentLimits::default();
        };
        let policy = lock(&self.policies).for_workspace(&s.workspace);
        policy.map(|p| p.limits_for(&s.agent)).unwrap_or_default()
    }

    pub(crate) fn identify(&self, caller: &Caller) -> Identity {
        let by_kernel = match caller.peer {
            Peer::Unix { pid: Some(pid), .. } => self.session_of_process(pid).ok().flatten(),
            Peer::Unix { pid: None, .. } => None,
            Peer::Tcp {
                addr,
                local: Some(local),
            } => self.session_of_tcp_peer(addr, local),
            Peer::Tcp { local: None, .. } => None,
        };
        if let Some(s) = by_kernel {
            return Identity::Session(Box::new(s));
        }
        if let Some(secret) = &caller.secret
            && let Some(s) = lock(&self.registry).by_secret(secret)
        {
            return Identity::Session(Box::new(s.clone()));
        }
        Identity::Unknown
    }
}

/// Fills in what the daemon knows better than the caller: ids, time, and the
/// agent's identity from the registry (a claimed name is kept only as a note).
pub(crate) fn complete(action: &mut Action, identity: &Identity, caller: &Caller) {
    if action.id.is_empty() {
        action.id = format!("act-{}", &random_token()[..16]);
    }
    if action.time.is_empty() {
        action.time = now_rfc3339();
    }
    let claimed = std::mem::take(&mut action.agent);
    let ctx = action.context.get_or_insert_with(ActionContext::default);
    ctx.extra.insert("peer".into(), caller.peer.to_string());
    match identity {
        Identity::Session(s) => {
            action.agent = AgentRef {
                id: s.agent_id.clone(),
                name: s.agent.clone(),
                autonomy: Some(claimed.autonomy.map_or(s.autonomy, |c| c.min(s.autonomy))),
            };
            action.session = s.id.clone();
            if action.cwd.is_empty() {
                action.cwd = s.workspace.clone();
            }
        }
        Identity::Unknown => {
            if !claimed.name.is_empty() {
                ctx.extra.insert("claimed_agent".into(), claimed.name);
            }
            if !action.session.is_empty() {
                ctx.extra.insert(
                    "claimed_session".into(),
                    std::mem::take(&mut action.session),
                );
            }
            action.agent = AgentRef {
                id: "unknown".into(),
                name: String::new(),
                autonomy: Some(Autonomy::Observer),
            };
        }
    }
}
