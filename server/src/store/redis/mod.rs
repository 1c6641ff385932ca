//! The shared store for several nodes: everything in one Redis (≥ 7).
//!
//! Every key is built in [`keys`] (which also holds the key map); the Lua scripts that change
//! several keys atomically are files in `scripts/`. One file per concern of the store
//! ([`identities`], [`cluster`] (presence, status and node liveness), [`messages`],
//! [`changes`], [`awareness`],
//! [`groups`], [`files`]), and [`migrate`] for data written by older versions.

mod announcements;
mod awareness;
mod changes;
mod cluster;
mod files;
mod groups;
mod identities;
pub mod keys;
mod messages;
mod migrate;
pub mod upkeep;

use std::collections::HashMap;
use std::sync::RwLock;

use async_trait::async_trait;
use natter_protocol::Message;
use redis::aio::ConnectionManager;

use super::{Store, StoreError, StoreResult};

pub struct RedisStore {
    conn: ConnectionManager,
    node: String,
    insert: redis::Script,
    mark_read: redis::Script,
    create_user: redis::Script,
    rename_user: redis::Script,
    replace_message: redis::Script,
    /// Names each node has seen, valid while `names_version` is unchanged.
    names: RwLock<HashMap<String, identities::Names>>,
    names_version: std::sync::atomic::AtomicI64,
}

impl From<redis::ParsingError> for StoreError {
    fn from(e: redis::ParsingError) -> Self {
        StoreError::Redis(e.to_string())
    }
}

impl From<redis::RedisError> for StoreError {
    fn from(e: redis::RedisError) -> Self {
        StoreError::Redis(e.to_string())
    }
}

/// A value as the JSON a script stores.
fn to_json<T: serde::Serialize + ?Sized>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Redis(e.to_string()))
}

fn parse(json: &str) -> StoreResult<Message> {
    serde_json::from_str(json).map_err(|e| StoreError::Redis(format!("bad stored message: {e}")))
}

impl RedisStore {
    pub fn new(conn: ConnectionManager, node: String) -> Self {
        Self {
            conn,
            node,
            insert: redis::Script::new(include_str!("scripts/insert_message.lua")),
            mark_read: redis::Script::new(include_str!("scripts/mark_read.lua")),
            create_user: redis::Script::new(include_str!("scripts/create_user.lua")),
            rename_user: redis::Script::new(include_str!("scripts/rename_user.lua")),
            replace_message: redis::Script::new(include_str!("scripts/replace_message.lua")),
            names: RwLock::new(HashMap::new()),
            names_version: std::sync::atomic::AtomicI64::new(-1),
        }
    }

    /// Every key matching `pattern` (SCAN, so Redis keeps serving meanwhile). For rare
    /// operations only: migrations and removals.
    pub(super) async fn scan(&self, pattern: &str) -> StoreResult<Vec<String>> {
        let mut conn = self.conn.clone();
        let (mut cursor, mut all) = (0u64, Vec::new());
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(pattern)
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut conn)
                .await?;
            all.extend(keys);
            if next == 0 {
                return Ok(all);
            }
            cursor = next;
        }
    }

    pub fn node(&self) -> &str {
        &self.node
    }

    pub fn connection(&self) -> ConnectionManager {
        self.conn.clone()
    }
}

#[async_trait]
impl Store for RedisStore {
    async fn check_writable(&self) -> StoreResult<()> {
        let mut conn = self.conn.clone();
        redis::cmd("SET")
            .arg(keys::node_health(&self.node))
            .arg(1)
            .arg("EX")
            .arg(60)
            .query_async::<()>(&mut conn)
            .await?;
        Ok(())
    }
}
