//! Limits held in Redis in cluster mode, so that a client spreading its connections over the
//! nodes meets the same limits as on one node: the token buckets ([`super::Buckets`]) and the
//! failed-password count per client address ([`crate::accounts::Throttle`]). Each check is one
//! script call, atomic on Redis, on Redis's clock. When Redis cannot answer, the node's own
//! bucket or count decides (limits never fall away; they are per node until Redis is back).

use std::net::IpAddr;
use std::sync::LazyLock;
use std::time::Duration;

use redis::aio::ConnectionManager;

use crate::store::redis::keys;

static TAKE_TOKENS: LazyLock<redis::Script> =
    LazyLock::new(|| redis::Script::new(include_str!("scripts/take_tokens.lua")));
static COUNT_FAILURE: LazyLock<redis::Script> =
    LazyLock::new(|| redis::Script::new(include_str!("scripts/count_failure.lua")));

/// The cluster's Redis, for limits.
#[derive(Clone)]
pub struct SharedLimits {
    conn: ConnectionManager,
}

/// A bucket's rule.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub per_second: f64,
    pub burst: f64,
}

impl SharedLimits {
    pub fn new(conn: ConnectionManager) -> Self {
        Self { conn }
    }

    /// Spends `cost` tokens of bucket `kind:key` once it holds `need` (see
    /// [`super::Buckets::take_cost`]); `Ok(Err(wait))` when it does not.
    pub async fn take(
        &self,
        kind: &str,
        key: &str,
        rule: Rule,
        need: f64,
        cost: f64,
    ) -> redis::RedisResult<Result<(), Duration>> {
        let wait_ms: u64 = TAKE_TOKENS
            .key(keys::limit(kind, key))
            .arg(rule.per_second)
            .arg(rule.burst)
            .arg(need)
            .arg(cost)
            .invoke_async(&mut self.conn.clone())
            .await?;
        Ok(match wait_ms {
            0 => Ok(()),
            ms => Err(Duration::from_millis(ms)),
        })
    }

    /// The failed attempts from `addr` in the current window.
    pub async fn failures(&self, addr: IpAddr) -> redis::RedisResult<u32> {
        let n: Option<u32> = redis::cmd("GET")
            .arg(keys::failures(&addr.to_string()))
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(n.unwrap_or(0))
    }

    /// Counts a failed attempt from `addr`; a window starts with its first failure.
    pub async fn failed(&self, addr: IpAddr, window: Duration) -> redis::RedisResult<u32> {
        COUNT_FAILURE
            .key(keys::failures(&addr.to_string()))
            .arg(window.as_millis().max(1) as u64)
            .invoke_async(&mut self.conn.clone())
            .await
    }
}
