//! Counters for `GET /metrics` (Prometheus text format) and `warden status`.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use warden_types::Decision;

/// Upper bounds (seconds) of the decision latency histogram.
const BUCKETS: [f64; 10] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.1, 1.0, 10.0, 130.0,
];

/// The daemon's counters.
#[derive(Default)]
pub struct Metrics {
    allow: AtomicU64,
    ask: AtomicU64,
    deny: AtomicU64,
    asks_opened: AtomicU64,
    asks_timed_out: AtomicU64,
    deadlines: AtomicU64,
    in_flight: AtomicU64,
    latency_us_sum: AtomicU64,
    buckets: [AtomicU64; BUCKETS.len()],
    rejected_requests: AtomicU64,
}

/// Decrements the in-flight gauge when dropped.
pub struct InFlight<'a>(&'a Metrics);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Relaxed);
    }
}

impl Metrics {
    /// A decision starts.
    pub fn begin(&self) -> InFlight<'_> {
        self.in_flight.fetch_add(1, Relaxed);
        InFlight(self)
    }

    /// Decisions under way.
    pub fn in_flight(&self) -> u64 {
        self.in_flight.load(Relaxed)
    }

    /// A decision was answered after `took`.
    pub fn decided(&self, d: Decision, took: Duration) {
        match d {
            Decision::Allow => &self.allow,
            Decision::Ask => &self.ask,
            Decision::Deny => &self.deny,
        }
        .fetch_add(1, Relaxed);
        let secs = took.as_secs_f64();
        self.latency_us_sum
            .fetch_add(took.as_micros() as u64, Relaxed);
        for (b, bound) in self.buckets.iter().zip(BUCKETS) {
            if secs <= bound {
                b.fetch_add(1, Relaxed);
            }
        }
    }

    /// An ask was opened.
    pub fn asked(&self) {
        self.asks_opened.fetch_add(1, Relaxed);
    }

    /// An ask timed out.
    pub fn ask_timed_out(&self) {
        self.asks_timed_out.fetch_add(1, Relaxed);
    }

    /// A decision hit its deadline.
    pub fn deadline_exceeded(&self) {
        self.deadlines.fetch_add(1, Relaxed);
    }

    /// A request was refused before reaching a handler (too large, malformed…).
    pub fn rejected(&self) {
        self.rejected_requests.fetch_add(1, Relaxed);
    }

    /// Decisions so far: (allow, ask, deny).
    pub fn totals(&self) -> (u64, u64, u64) {
        (
            self.allow.load(Relaxed),
            self.ask.load(Relaxed),
            self.deny.load(Relaxed),
        )
    }

    /// The Prometheus text exposition.
    pub fn render(
        &self,
        pending_asks: usize,
        sessions: usize,
        audit_size: u64,
        audit_commits: u64,
    ) -> String {
        let (allow, ask, deny) = self.totals();
        let mut s = String::new();
        s.push_str("# HELP warden_decisions_total Decisions answered, by final decision.\n");
        s.push_str("# TYPE warden_decisions_total counter\n");
        for (d, n) in [("allow", allow), ("ask", ask), ("deny", deny)] {
            s.push_str(&format!("warden_decisions_total{{decision=\"{d}\"}} {n}\n"));
        }
        s.push_str("# HELP warden_decision_seconds Time from request to recorded verdict.\n");
        s.push_str("# TYPE warden_decision_seconds histogram\n");
        for (b, bound) in self.buckets.iter().zip(BUCKETS) {
            s.push_str(&format!(
                "warden_decision_seconds_bucket{{le=\"{bound}\"}} {}\n",
                b.load(Relaxed)
            ));
        }
        let count = allow + ask + deny;
        s.push_str(&format!(
            "warden_decision_seconds_bucket{{le=\"+Inf\"}} {count}\n"
        ));
        s.push_str(&format!(
            "warden_decision_seconds_sum {}\n",
            self.latency_us_sum.load(Relaxed) as f64 / 1e6
        ));
        s.push_str(&format!("warden_decision_seconds_count {count}\n"));
        for (name, help, kind, v) in [
            (
                "warden_asks_opened_total",
                "Asks put to a human.",
                "counter",
                self.asks_opened.load(Relaxed),
            ),
            (
                "warden_asks_timed_out_total",
                "Asks nobody answered in time (denied).",
                "counter",
                self.asks_timed_out.load(Relaxed),
            ),
            (
                "warden_decision_deadlines_total",
                "Decisions answered deny at their deadline.",
                "counter",
                self.deadlines.load(Relaxed),
            ),
            (
                "warden_requests_rejected_total",
                "Requests refused as malformed, too large or unauthorised.",
                "counter",
                self.rejected_requests.load(Relaxed),
            ),
            (
                "warden_asks_pending",
                "Asks waiting for a human now.",
                "gauge",
                pending_asks as u64,
            ),
            (
                "warden_sessions",
                "Registered sessions.",
                "gauge",
                sessions as u64,
            ),
            (
                "warden_decisions_in_flight",
                "Decisions under way.",
                "gauge",
                self.in_flight(),
            ),
            (
                "warden_audit_entries",
                "Entries in the audit log.",
                "gauge",
                audit_size,
            ),
            (
                "warden_audit_commits_total",
                "Audit commits (each one fsync and one signed checkpoint) since start.",
                "counter",
                audit_commits,
            ),
        ] {
            s.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}\n"
            ));
        }
        s
    }
}
