//! Rate limits: token buckets per key (a user sending messages), so a script is slowed down
//! and a person never notices. In cluster mode the buckets live in Redis ([`shared`]).

pub mod shared;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub use shared::{Rule, SharedLimits};

/// A bucket per key: `burst` tokens, refilled at `per_second`.
pub struct Buckets {
    per_second: f64,
    burst: f64,
    by_key: Mutex<HashMap<String, Bucket>>,
    /// In cluster mode: the nodes' shared bucket of this kind, which decides while Redis
    /// answers.
    shared: Option<(SharedLimits, &'static str)>,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Buckets {
    pub fn new(per_second: f64, burst: u32) -> Self {
        Self {
            per_second: per_second.max(1e-6),
            burst: f64::from(burst.max(1)),
            by_key: Mutex::new(HashMap::new()),
            shared: None,
        }
    }

    /// The same limit held in Redis for every node, as bucket `kind` (`messages`, `fetch`…).
    pub fn shared(mut self, limits: Option<&SharedLimits>, kind: &'static str) -> Self {
        self.shared = limits.map(|l| (l.clone(), kind));
        self
    }

    /// Takes one token for `key`; when there is none, how long until there is.
    pub async fn take(&self, key: &str) -> Result<(), Duration> {
        self.take_cost(key, 1.0, 1.0).await
    }

    /// [`Buckets::take_local`], from the cluster's bucket in cluster mode.
    pub async fn take_cost(&self, key: &str, need: f64, cost: f64) -> Result<(), Duration> {
        if let Some((limits, kind)) = &self.shared {
            let rule = Rule {
                per_second: self.per_second,
                burst: self.burst,
            };
            match limits.take(kind, key, rule, need, cost).await {
                Ok(answer) => return answer,
                Err(e) => {
                    tracing::debug!(error = %e, kind, "shared limit unavailable: this node's")
                }
            }
        }
        self.take_local(key, need, cost)
    }

    /// Spends `cost` tokens of `key`'s bucket once it holds at least `need`; the bucket may go
    /// into debt, which later calls wait out. Byte budgets use this: the cost of an answer is
    /// known only once it is built, so `need` is checked before and `cost` charged after.
    pub fn take_local(&self, key: &str, need: f64, cost: f64) -> Result<(), Duration> {
        let now = Instant::now();
        let mut map = self.by_key.lock().unwrap_or_else(|p| p.into_inner());
        // Full buckets carry no information: drop them now and then so the map stays small.
        if map.len() > 10_000 {
            let (rate, burst) = (self.per_second, self.burst);
            map.retain(|_, b| b.tokens + now.duration_since(b.at).as_secs_f64() * rate < burst);
        }
        // The key is copied only the first time it is seen, not on every message.
        if !map.contains_key(key) {
            map.insert(
                key.to_owned(),
                Bucket {
                    tokens: self.burst,
                    at: now,
                },
            );
        }
        let Some(bucket) = map.get_mut(key) else {
            return Ok(());
        };
        let elapsed = now.duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.per_second).min(self.burst);
        bucket.at = now;
        if bucket.tokens >= need {
            bucket.tokens -= cost;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (need - bucket.tokens) / self.per_second,
            ))
        }
    }
}

/// Refusals counted by kind and logged as one summary line now and then: a script that hits
/// a limit thousands of times must not write thousands of lines.
#[derive(Default)]
pub struct Tally(Mutex<HashMap<&'static str, u64>>);

impl Tally {
    pub fn count(&self, kind: &'static str) {
        *self
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(kind)
            .or_default() += 1;
    }

    /// Logs and resets the counts, every `every`, for the process's life.
    pub fn spawn_summary(self: std::sync::Arc<Self>, every: Duration) {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                let counts = std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()));
                if !counts.is_empty() {
                    let mut counts: Vec<_> = counts.into_iter().collect();
                    counts.sort_unstable();
                    tracing::warn!(?counts, "refused in the last {every:?}");
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_the_rate_applies_per_key() {
        let b = Buckets::new(10.0, 5);
        for _ in 0..5 {
            assert!(b.take_local("alice", 1.0, 1.0).is_ok());
        }
        let wait = b.take_local("alice", 1.0, 1.0).unwrap_err();
        assert!(wait <= Duration::from_millis(100), "{wait:?}");
        assert!(
            b.take_local("bob", 1.0, 1.0).is_ok(),
            "another user has their own bucket"
        );
        std::thread::sleep(Duration::from_millis(120));
        assert!(b.take_local("alice", 1.0, 1.0).is_ok(), "refilled");
    }

    #[test]
    fn a_byte_budget_goes_into_debt_and_waits_it_out() {
        let b = Buckets::new(1000.0, 1000);
        assert!(
            b.take_local("alice", 1.0, 3000.0).is_ok(),
            "a full bucket pays any answer"
        );
        let wait = b.take_local("alice", 1.0, 0.0).unwrap_err();
        assert!(
            wait > Duration::from_millis(1900),
            "2000 in debt at 1000/s: {wait:?}"
        );
        assert!(b.take_local("bob", 1.0, 10.0).is_ok());
    }
}
