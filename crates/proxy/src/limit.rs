//! Requests per second per client: a token bucket per identity (the session
//! secret when one is presented, else the kernel's pid or the peer address),
//! so one runaway agent cannot flood the governor or a remote host.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use crate::Client;

/// Most clients remembered; the least recently seen are forgotten past it.
const MAX_CLIENTS: usize = 4096;

pub(crate) struct RateLimit {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimit {
    /// `per_second` 0 means no limit; `burst` requests may come at once.
    pub(crate) fn new(per_second: u32, burst: u32) -> RateLimit {
        RateLimit {
            per_second: f64::from(per_second),
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `client` may make one more request now, at `rate` per second
    /// (bursts of twice that) when given, else at the configured rate; `Err`
    /// holds the rate gone over.
    pub(crate) fn admit(&self, client: &Client, rate: Option<u32>) -> Result<(), u32> {
        let (per_second, burst) = match rate {
            Some(r) => (f64::from(r), f64::from(r.saturating_mul(2).max(1))),
            None => (self.per_second, self.burst),
        };
        if per_second <= 0.0 {
            return Ok(());
        }
        let key = match client {
            Client::Unix {
                secret: Some(s), ..
            }
            | Client::Tcp {
                secret: Some(s), ..
            } => {
                format!("secret:{s}")
            }
            Client::Unix { uid, pid, .. } => format!("unix:{uid}:{pid:?}"),
            Client::Tcp { addr, .. } => format!("tcp:{}", addr.ip()),
        };
        let now = Instant::now();
        let mut b = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if b.len() >= MAX_CLIENTS
            && !b.contains_key(&key)
            && let Some(oldest) = b
                .iter()
                .min_by_key(|(_, (_, t))| *t)
                .map(|(k, _)| k.clone())
        {
            b.remove(&oldest);
        }
        let (tokens, last) = b.entry(key).or_insert((burst, now));
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * per_second).min(burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(per_second as u32)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_the_client_waits_and_others_are_not_affected() {
        let l = RateLimit::new(1, 3);
        let a = Client::Unix {
            uid: 1,
            pid: Some(10),
            secret: None,
        };
        let b = Client::Unix {
            uid: 1,
            pid: Some(11),
            secret: None,
        };
        assert!((0..3).all(|_| l.admit(&a, None).is_ok()));
        assert_eq!(l.admit(&a, None), Err(1));
        assert!(l.admit(&b, None).is_ok());
        assert!(RateLimit::new(0, 0).admit(&a, None).is_ok());
    }

    #[test]
    fn an_agents_own_rate_applies_even_where_the_proxy_sets_none() {
        let unlimited = RateLimit::new(0, 0);
        let a = Client::Unix {
            uid: 1,
            pid: Some(10),
            secret: Some("s".into()),
        };
        // Two per second: a burst of four, then refused, naming the rate.
        assert!((0..4).all(|_| unlimited.admit(&a, Some(2)).is_ok()));
        assert_eq!(unlimited.admit(&a, Some(2)), Err(2));
    }
}
