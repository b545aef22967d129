//! The watchdog: every few seconds it looks for what should not happen and
//! raises an alert (dashboard banner, live feed, `warden status`, and a notice
//! in the audit log) when it does:
//!
//! - the key files changing (only warden creates them, and never changes them);
//! - `audit.db` changing behind the daemon's back: its head going back, a head
//!   the daemon did not sign at that size, rows past the head;
//! - a session that reported before falling silent while its process lives
//!   (its interceptor may have been switched off or bypassed);
//! - one session denied many times in a short while (an agent probing).
//!
//! Each condition is raised once, not on every tick.

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use crate::governor::{Governor, lock};

/// What a file looked like: size, change time, inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    len: u64,
    ctime: i64,
    ino: u64,
}

fn stamp(p: &std::path::Path) -> Option<Stamp> {
    let m = std::fs::metadata(p).ok()?;
    Some(Stamp {
        len: m.len(),
        ctime: m.ctime(),
        ino: m.ino(),
    })
}

/// The watchdog's memory between ticks.
pub struct Watchdog {
    keys: Vec<(PathBuf, Option<Stamp>)>,
    raised: HashSet<String>,
}

impl Watchdog {
    /// Remembers the key files as they are now.
    pub fn new(gov: &Governor) -> Watchdog {
        let dir = warden_audit::keys::keys_dir(&gov.config.state_dir);
        let mut keys: Vec<(PathBuf, Option<Stamp>)> = std::fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                !p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            })
            .map(|p| {
                let s = stamp(&p);
                (p, s)
            })
            .collect();
        keys.sort_by(|a, b| a.0.cmp(&b.0));
        Watchdog {
            keys,
            raised: HashSet::new(),
        }
    }

    /// Raises `message` under `event` unless already raised.
    fn raise(&mut self, gov: &Governor, event: &str, message: String) {
        if self.raised.insert(format!("{event}:{message}")) {
            gov.alert(event, message);
        }
    }

    /// One look.
    pub async fn tick(&mut self, gov: &Arc<Governor>) {
        for (path, before) in &mut self.keys {
            let now = stamp(path);
            if now != *before {
                let message = match now {
                    None => format!(
                        "{} was removed by someone other than warden",
                        path.display()
                    ),
                    Some(_) => format!(
                        "{} was changed by someone other than warden",
                        path.display()
                    ),
                };
                *before = now;
                let g = Arc::clone(gov);
                g.alert("tamper", message);
            }
        }
        for m in self.check_audit(gov).await {
            self.raise(gov, "tamper", m);
        }
        for (event, m) in self.check_sessions(gov) {
            self.raise(gov, event, m);
        }
    }

    async fn check_audit(&self, gov: &Arc<Governor>) -> Vec<String> {
        let ours = lock(&gov.last_head).clone();
        let ours_size = gov.audit_size();
        let home = gov.config.state_dir.clone();
        let seen = tokio::task::spawn_blocking(move || {
            let mut r = warden_audit::AuditReader::open(&home).ok()?;
            // The end before the head: a commit landing between the two reads
            // then moves the head past the end read, never the end past the
            // head (which would look like rows written outside warden).
            let end = r.store().end().ok()?;
            let head = r.checkpoint().ok()?;
            Some((head.checkpoint.size, head.note, end))
        })
        .await
        .ok()
        .flatten();
        let Some((size, note, end)) = seen else {
            return vec!["audit.db cannot be read as the daemon's log".into()];
        };
        let mut out = Vec::new();
        if size < ours_size {
            out.push(format!(
                "the audit log's head went back from {ours_size} to {size} entries behind the daemon's back"
            ));
        }
        if let Some((s, n)) = ours
            && s == size
            && n != note
        {
            out.push(format!(
                "the audit log's latest checkpoint at size {size} is not the one warden signed"
            ));
        }
        if end > size {
            out.push(format!(
                "{} rows were added to audit.db after its latest checkpoint, outside warden",
                end - size
            ));
        }
        out
    }

    fn check_sessions(&self, gov: &Governor) -> Vec<(&'static str, String)> {
        let cfg = &gov.config;
        let mut out = Vec::new();
        let mut registry = lock(&gov.registry);
        for s in registry.sessions_mut() {
            if s.state != crate::registry::SessionState::Active {
                continue;
            }
            while s
                .recent_denials
                .front()
                .is_some_and(|t| t.elapsed() > cfg.denial_window)
            {
                s.recent_denials.pop_front();
            }
            if s.recent_denials.len() >= cfg.denial_burst {
                out.push((
                    "repeated-denials",
                    format!(
                        "{} ({}) was denied {} times within {} s",
                        s.agent,
                        s.id,
                        s.recent_denials.len(),
                        cfg.denial_window.as_secs()
                    ),
                ));
                s.recent_denials.clear();
            }
            let alive = s
                .pid
                .is_some_and(|p| cfg.proc_root.join(p.to_string()).exists());
            if alive
                && let Some(seen) = s.last_seen
                && seen.elapsed() > cfg.stall_after
            {
                out.push((
                    "stalled",
                    format!(
                        "{} ({}) has not reported for {} s while its process {} runs: its interceptor may be off or bypassed",
                        s.agent,
                        s.id,
                        seen.elapsed().as_secs(),
                        s.pid.unwrap_or(0)
                    ),
                ));
                // Raised once per silence; a new report starts the clock again.
                s.last_seen = None;
            }
        }
        out
    }
}

/// Runs the watchdog until `stop` turns true.
pub async fn run(gov: Arc<Governor>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut w = Watchdog::new(&gov);
    let mut tick = tokio::time::interval(gov.config.watch_every);
    let started = Instant::now();
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if started.elapsed() >= gov.config.watch_every {
                    w.tick(&gov).await;
                }
            }
            _ = stop.changed() => break,
        }
    }
}
