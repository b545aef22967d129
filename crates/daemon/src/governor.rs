//! The governor: `decide(Action) -> Verdict` = identify the caller → policy →
//! (ask → a human, or the timeout) → durable audit → verdict with its receipt.
//!
//! Every step fails closed: an unknown caller decides at autonomy 0 with no
//! human to ask; a paused session is denied; a project policy that does not
//! load denies; an audit append that fails denies; a decision that outlives its
//! deadline is answered deny.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::oneshot;
use tracing::{info, warn};
use warden_audit::{AuditError, AuditLog, Options};
use warden_policy::EvalContext;
use warden_types::{Action, ActionKind, Answer, Autonomy, Decision, Verdict};

use crate::config::Config;
use crate::consent::{Asks, HumanAnswer};
use crate::events::{Event, Feed};
pub use crate::identity::{Caller, Peer};
use crate::identity::{Identity, complete};
use crate::metrics::Metrics;
use crate::policies::{Policies, PolicyLoadError};
use crate::random_token;
use crate::registry::{Registry, SessionState};

/// How long a commit waits for decisions in flight to join it (see
/// `AuditLog::announce`): about one policy evaluation under load, well under
/// an fsync.
const COMMIT_LINGER: Duration = Duration::from_micros(1000);

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The policy.
    #[error(transparent)]
    Policy(#[from] PolicyLoadError),
    /// The audit log.
    #[error(transparent)]
    Audit(#[from] AuditError),
    /// The MCP tool pins.
    #[error(transparent)]
    Pins(#[from] crate::pins::PinError),
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

pub(crate) fn now_rfc3339() -> String {
    warden_audit::export::rfc3339_ms(now_ms())
}

/// A poisoned lock here only means a panic elsewhere mid-update of plain data;
/// the data is still the last consistent state, so it is used rather than
/// turning every later decision into a panic.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The governor: one per daemon.
pub struct Governor {
    /// Settings.
    pub config: Config,
    pub(crate) policies: Mutex<Policies>,
    /// Held while the daemon itself rewrites the user policy file.
    pub(crate) policy_writes: Mutex<()>,
    pub(crate) audit: AuditLog,
    /// Sessions.
    pub registry: Mutex<Registry>,
    /// Approved MCP tool definitions.
    pub(crate) pins: Mutex<crate::pins::Pins>,
    /// Pending asks.
    pub asks: Mutex<Asks>,
    /// The live feed.
    pub feed: Feed,
    /// Counters for `/metrics`.
    pub metrics: Metrics,
    pub(crate) started: Instant,
    pub(crate) alerts: RwLock<Vec<String>>,
    audit_size: std::sync::atomic::AtomicU64,
    /// The latest checkpoint this daemon's own commits produced: `(size, note)`.
    pub(crate) last_head: Mutex<Option<(u64, String)>>,
    /// One evaluation context per (autonomy level, human available), built once:
    /// they differ only in those two fields.
    contexts: Vec<EvalContext>,
    /// The processes behind loopback TCP callers.
    pub(crate) tcp_peers: crate::tcp_peer::TcpPeers,
}

impl Governor {
    /// Loads the policy and opens the audit log.
    pub fn start(config: Config) -> Result<Arc<Governor>, StartError> {
        let policies = Policies::load(&config)?;
        let pins = crate::pins::Pins::load(&config.state_dir)?;
        let audit = AuditLog::open(
            &config.state_dir,
            Options {
                durability: config.durability,
                max_linger: COMMIT_LINGER,
                ..Options::default()
            },
        )?;
        let size = warden_audit::AuditReader::open(&config.state_dir)
            .and_then(|r| r.checkpoint())
            .map(|c| c.checkpoint.size)
            .unwrap_or(0);
        info!(home = %config.state_dir.display(), entries = size, "governor started");
        let contexts = Autonomy::ALL
            .iter()
            .flat_map(|a| {
                [false, true].map(|human| EvalContext {
                    home: config.user_home.clone(),
                    human_available: human,
                    resolve_symlinks: true,
                    protected: protected(&config),
                    autonomy: Some(*a),
                    approvals: human,
                })
            })
            .collect();
        Ok(Arc::new(Governor {
            contexts,
            config,
            policies: Mutex::new(policies),
            policy_writes: Mutex::new(()),
            audit,
            registry: Mutex::new(Registry::default()),
            pins: Mutex::new(pins),
            asks: Mutex::new(Asks::default()),
            feed: Feed::new(1024),
            metrics: Metrics::default(),
            started: Instant::now(),
            alerts: RwLock::new(Vec::new()),
            audit_size: std::sync::atomic::AtomicU64::new(size),
            last_head: Mutex::new(None),
            tcp_peers: Default::default(),
        }))
    }

    /// The audit log (for the audit endpoints).
    pub fn audit(&self) -> &AuditLog {
        &self.audit
    }

    /// Entries in the audit log as of the last commit.
    pub fn audit_size(&self) -> u64 {
        self.audit_size.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Records a notice in the audit log (fire and forget: a notice that
    /// cannot be recorded is logged, it decides nothing).
    pub fn notice(&self, event: &str, message: &str, threat: warden_types::Threat) {
        let mut action = Action::new(
            self.config.state_dir.to_string_lossy(),
            warden_types::ActionKind::Notice {
                event: event.to_string(),
                message: message.to_string(),
            },
        );
        action.id = format!("notice-{}", &random_token()[..16]);
        action.time = now_rfc3339();
        action.origin = warden_types::Origin::Warden;
        let mut v = Verdict::malformed(message.to_string());
        v.decision = Decision::Allow;
        v.rules = vec![format!("watchdog:{event}")];
        v.threat = threat;
        if let Err(e) = self.audit.submit(&action, &v, |r| {
            if let Err(e) = r {
                warn!(error = %e, "a notice was not recorded");
            }
        }) {
            warn!(error = %e, "a notice was not recorded");
        }
    }

    /// Raises an alert: logged, recorded as a notice in the audit log, shown on
    /// the feed and the dashboard's banner, kept for `/v1/status`.
    pub fn alert(&self, event: &str, message: String) {
        warn!(%event, %message, "alert");
        self.notice(event, &message, warden_types::Threat::High);
        if let Ok(mut a) = self.alerts.write() {
            a.push(format!("{} {message}", now_rfc3339()));
            let n = a.len();
            if n > 100 {
                a.drain(..n - 100);
            }
        }
        self.feed.send(Event::Alert { message });
    }

    /// The live sessions and, for each, the ports its policy denies for
    /// every host (`Net(*:PORT)`): what the observer's cgroup connect
    /// programs enforce for a session in a cgroup of its own.
    pub fn ports_denied_to_sessions(&self) -> Vec<(String, Vec<u16>)> {
        let sessions: Vec<(String, String, String)> = lock(&self.registry)
            .list()
            .iter()
            .filter(|s| s.state != SessionState::Stopped)
            .map(|s| (s.id.clone(), s.agent.clone(), s.workspace.clone()))
            .collect();
        sessions
            .into_iter()
            .filter_map(|(id, agent, workspace)| {
                let policy = lock(&self.policies).for_workspace(&workspace).ok()?;
                let ports = policy.ports_denied_everywhere(&agent);
                (!ports.is_empty()).then_some((id, ports))
            })
            .collect()
    }

    /// Decides `action` for `caller`. Judging (policy and any ask) takes at
    /// most `deadline`, after which the answer is deny; the answer is then
    /// recorded, so the log holds what the caller was told.
    pub async fn decide(&self, mut action: Action, caller: &Caller, deadline: Duration) -> Verdict {
        let _in_flight = self.metrics.begin();
        let started = Instant::now();
        let deadline = deadline.min(self.config.decide_deadline);
        // From now until it is recorded this decision is on its way to the
        // audit log: commits running meanwhile wait a moment for it.
        let mut announced = Some(self.audit.announce());
        let identity = self.identify(caller);
        complete(&mut action, &identity, caller);
        if let ActionKind::ToolDefinition {
            server,
            tool,
            pinned,
            ..
        } = &mut action.kind
        {
            *pinned = lock(&self.pins).get(server, tool).map(str::to_string);
        }
        let judged = tokio::time::timeout(
            deadline,
            self.judge(&action, &identity, deadline, &mut announced),
        )
        .await;
        let verdict = match judged {
            Ok(v) => v,
            Err(_) => {
                self.metrics.deadline_exceeded();
                deny(
                    "builtin:deadline",
                    format!("no decision within {} ms", deadline.as_millis()),
                )
            }
        };
        if let Identity::Session(s) = &identity {
            lock(&self.registry).count(&s.id, verdict.decision);
        }
        let pin = match &action.kind {
            ActionKind::ToolDefinition {
                server,
                tool,
                digest,
                ..
            } => Some((server.clone(), tool.clone(), digest.clone())),
            _ => None,
        };
        let verdict = self.record(action, verdict, started, announced).await;
        if let Some((server, tool, digest)) = pin
            && verdict.decision == Decision::Allow
            && let Err(e) = lock(&self.pins).set(&server, &tool, &digest)
        {
            // Not pinned: the definition is asked about again next time.
            warn!(error = %e, "an approved MCP tool definition was not pinned");
        }
        self.metrics.decided(verdict.decision, started.elapsed());
        verdict
    }

    /// Records something an interceptor saw but need not decide (a tool that
    /// finished, a prompt sent, a session's start and end), under the
    /// caller's identity, or a refusal made before any action could be read
    /// (`decision` deny). Returns the receipt-bearing verdict.
    pub async fn observe(
        &self,
        mut action: Action,
        caller: &Caller,
        rule: &str,
        decision: Decision,
    ) -> Verdict {
        let started = Instant::now();
        let identity = self.identify(caller);
        complete(&mut action, &identity, caller);
        let mut v = Verdict::malformed(action.kind.summary());
        v.decision = decision;
        v.rules = vec![rule.to_string()];
        self.record(action, v, started, None).await
    }

    /// The policy's evaluation of `action` for `identity`, and its session;
    /// `Err` is a deny decided before the policy (a paused session, a project
    /// policy that does not load).
    fn evaluation(
        &self,
        action: &Action,
        identity: &Identity,
    ) -> Result<(warden_policy::Evaluation, Option<String>), Box<Verdict>> {
        let (session_id, workspace, autonomy, human) = match identity {
            Identity::Session(s) => {
                if s.state != SessionState::Active {
                    return Err(Box::new(deny(
                        "builtin:session-paused",
                        format!("session {} is {:?}: its actions are denied", s.id, s.state),
                    )));
                }
                (Some(s.id.clone()), s.workspace.clone(), s.autonomy, true)
            }
            // Unknown callers decide at autonomy 0 and have no human to ask.
            Identity::Unknown => (None, String::new(), Autonomy::Observer, false),
        };
        let policy = {
            let mut p = lock(&self.policies);
            p.for_workspace(&workspace)
        };
        let policy = match policy {
            Ok(p) => p,
            Err(why) => return Err(Box::new(deny("builtin:project-policy", why))),
        };
        let ctx = &self.contexts[usize::from(autonomy.level()) * 2 + usize::from(human)];
        Ok((policy.evaluate(action, ctx), session_id))
    }

    /// The policy's verdict for `action`, asking no one and recording nothing:
    /// an interceptor's second look at an action already decided (the proxy's
    /// check of the addresses an allowed name resolved to). A deny it acts on
    /// must be recorded by the caller.
    pub fn check(&self, mut action: Action, caller: &Caller) -> Verdict {
        let identity = self.identify(caller);
        complete(&mut action, &identity, caller);
        match self.evaluation(&action, &identity) {
            Ok((e, _)) => e.verdict,
            Err(v) => *v,
        }
    }

    async fn judge(
        &self,
        action: &Action,
        identity: &Identity,
        deadline: Duration,
        announced: &mut Option<warden_audit::Announcement>,
    ) -> Verdict {
        let started = Instant::now();
        let (evaluation, session_id) = match self.evaluation(action, identity) {
            Ok(e) => e,
            Err(v) => return *v,
        };
        if evaluation.verdict.decision != Decision::Ask {
            return evaluation.verdict;
        }
        let left = deadline.saturating_sub(started.elapsed());
        let always = evaluation.approvable;
        // A person takes seconds: no commit should wait for this one meanwhile.
        announced.take();
        let verdict = self
            .ask_human(action, evaluation.verdict, always, session_id, left)
            .await;
        *announced = Some(self.audit.announce());
        verdict
    }

    /// Holds an ask open until a human answers, the ask times out, or the
    /// decision's own deadline comes (all but a human "allow" end in deny).
    async fn ask_human(
        &self,
        action: &Action,
        mut verdict: Verdict,
        always: bool,
        session: Option<String>,
        left: Duration,
    ) -> Verdict {
        let wait = self
            .config
            .ask_timeout
            .min(left.saturating_sub(Duration::from_millis(50)));
        let (view, rx): (_, oneshot::Receiver<HumanAnswer>) = lock(&self.asks).open(
            action,
            &verdict,
            always,
            session,
            action.agent.name.clone(),
            now_rfc3339(),
            now_ms() + wait.as_millis() as u64,
        );
        let id = view.id.clone();
        self.metrics.asked();
        if let Some(program) = &self.config.notify {
            crate::notify::ask(program, &view);
        }
        self.feed.send(Event::Ask {
            ask: Box::new(view),
        });
        let answer = match tokio::time::timeout(wait, rx).await {
            Ok(Ok(a)) => a,
            // Timed out, or the ask was dropped: deny, and make sure nobody can
            // still answer it.
            _ => {
                lock(&self.asks).withdraw(&id);
                self.metrics.ask_timed_out();
                HumanAnswer {
                    decision: Decision::Deny,
                    by: "timeout".into(),
                }
            }
        };
        self.feed.send(Event::Answered {
            id,
            decision: answer.decision,
            by: answer.by.clone(),
        });
        verdict.decision = answer.decision;
        verdict.reason = match answer.decision {
            Decision::Allow => format!("approved by {}: {}", answer.by, verdict.reason),
            _ if answer.by == "timeout" => {
                format!(
                    "nobody answered within {} s: {}",
                    wait.as_secs(),
                    verdict.reason
                )
            }
            _ => format!("denied by {}: {}", answer.by, verdict.reason),
        };
        verdict.answered = Some(Answer {
            decision: answer.decision,
            by: answer.by,
            at: now_rfc3339(),
        });
        verdict
    }

    /// Records the decision durably; a decision that cannot be recorded is a
    /// deny (and that deny is recorded if the log still takes it).
    async fn record(
        &self,
        action: Action,
        verdict: Verdict,
        started: Instant,
        announced: Option<warden_audit::Announcement>,
    ) -> Verdict {
        let verdict = match self.append(&action, &verdict, announced).await {
            Ok(receipt) => {
                let size = receipt.checkpoint.checkpoint.size;
                self.audit_size
                    .fetch_max(size, std::sync::atomic::Ordering::Relaxed);
                let mut head = lock(&self.last_head);
                if head.as_ref().is_none_or(|(s, _)| *s < size) {
                    *head = Some((size, receipt.checkpoint.note.clone()));
                }
                Verdict {
                    audit: Some(receipt.to_audit_receipt()),
                    ..verdict
                }
            }
            Err(e) => {
                self.alert(
                    "audit-unavailable",
                    format!("the audit log refused a record: {e}"),
                );
                deny(
                    "builtin:audit-unavailable",
                    format!("the decision could not be recorded: {e}"),
                )
            }
        };
        self.feed.send(Event::Decision {
            action: Box::new(action),
            verdict: Box::new(verdict.clone()),
            took_ms: started.elapsed().as_secs_f64() * 1000.0,
        });
        verdict
    }

    async fn append(
        &self,
        action: &Action,
        verdict: &Verdict,
        announced: Option<warden_audit::Announcement>,
    ) -> Result<warden_audit::Receipt, AuditError> {
        let (tx, rx) = oneshot::channel();
        let done = move |r| {
            let _ = tx.send(r);
        };
        match announced {
            Some(a) => self.audit.submit_announced(a, action, verdict, done)?,
            None => self.audit.submit(action, verdict, done)?,
        }
        rx.await.map_err(|_| AuditError::Closed)?
    }

    /// Shutdown: every pending ask is denied (and recorded by its waiter), then
    /// the audit log is flushed.
    pub async fn shutdown(&self) {
        let n = lock(&self.asks).deny_all("shutdown");
        if n > 0 {
            info!(asks = n, "pending asks denied at shutdown");
        }
        // Give the waiters of those asks a moment to record their denies.
        for _ in 0..100 {
            if self.metrics.in_flight() == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if let Err(e) = self.audit.flush() {
            warn!(error = %e, "flushing the audit log at shutdown");
        }
    }
}

/// The protected paths no agent may write: warden's state and config.
fn protected(config: &Config) -> Vec<PathBuf> {
    let mut p = vec![config.state_dir.clone()];
    p.extend(config.user_policy.parent().map(PathBuf::from));
    p.extend(config.system_policy.parent().map(PathBuf::from));
    p
}

/// A deny from warden itself.
pub(crate) fn deny(rule: &str, reason: String) -> Verdict {
    let mut v = Verdict::malformed(reason);
    v.rules = vec![rule.to_string()];
    v
}
