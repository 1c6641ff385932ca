//! Presence and status in cluster mode: each node records its own users (`node:<id>:users`), so a dead
//! node's users can be found; a user is online when listed by a node whose heartbeat is current.

use std::collections::HashMap;

use async_trait::async_trait;
use natter_protocol::Status;

use super::{RedisStore, keys, to_json};
use crate::store::{Presence, StoreResult};

impl RedisStore {
    /// The nodes whose heartbeat is current.
    pub async fn live_nodes(&self) -> StoreResult<Vec<String>> {
        let mut conn = self.conn.clone();
        let nodes: Vec<String> = redis::cmd("SMEMBERS")
            .arg(keys::NODES)
            .query_async(&mut conn)
            .await?;
        if nodes.is_empty() {
            return Ok(nodes);
        }
        let mut pipe = redis::pipe();
        for n in &nodes {
            pipe.exists(keys::node_alive(n));
        }
        let alive: Vec<bool> = pipe.query_async(&mut conn).await?;
        Ok(nodes
            .into_iter()
            .zip(alive)
            .filter_map(|(n, a)| a.then_some(n))
            .collect())
    }

    /// Every user with a socket on a live node.
    pub(super) async fn online(&self) -> StoreResult<std::collections::HashSet<String>> {
        let nodes = self.live_nodes().await?;
        if nodes.is_empty() {
            return Ok(Default::default());
        }
        let mut conn = self.conn.clone();
        let mut cmd = redis::cmd("SUNION");
        for n in &nodes {
            cmd.arg(keys::node_users(n));
        }
        Ok(cmd.query_async(&mut conn).await?)
    }
}

impl RedisStore {
    /// Everyone's status but the available's.
    pub(super) async fn statuses(&self) -> StoreResult<HashMap<String, Status>> {
        let mut conn = self.conn.clone();
        let stored: HashMap<String, String> = redis::cmd("HGETALL")
            .arg(keys::STATUSES)
            .query_async(&mut conn)
            .await?;
        Ok(stored
            .into_iter()
            .filter_map(|(user, json)| Some((user, serde_json::from_str(&json).ok()?)))
            .collect())
    }
}

#[async_trait]
impl Presence for RedisStore {
    async fn set_status(&self, user_id: &str, status: &Status) -> StoreResult<()> {
        let mut conn = self.conn.clone();
        if status.state.is_available() && status.text.is_none() {
            redis::cmd("HDEL")
                .arg(keys::STATUSES)
                .arg(user_id)
                .query_async::<()>(&mut conn)
                .await?;
        } else {
            redis::cmd("HSET")
                .arg(keys::STATUSES)
                .arg(user_id)
                .arg(to_json(status)?)
                .query_async::<()>(&mut conn)
                .await?;
        }
        Ok(())
    }

    async fn set_connected(&self, user_id: &str, connected: bool) -> StoreResult<()> {
        let mut conn = self.conn.clone();
        let cmd = if connected { "SADD" } else { "SREM" };
        redis::cmd(cmd)
            .arg(keys::node_users(&self.node))
            .arg(user_id)
            .query_async::<()>(&mut conn)
            .await?;
        Ok(())
    }

    async fn is_connected(&self, user_id: &str) -> StoreResult<bool> {
        let nodes = self.live_nodes().await?;
        if nodes.is_empty() {
            return Ok(false);
        }
        let mut conn = self.conn.clone();
        let mut pipe = redis::pipe();
        for n in &nodes {
            pipe.sismember(keys::node_users(n), user_id);
        }
        let member: Vec<bool> = pipe.query_async(&mut conn).await?;
        Ok(member.into_iter().any(|m| m))
    }
}
