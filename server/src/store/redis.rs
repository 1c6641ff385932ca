//! The shared store for several nodes: everything in one Redis (≥ 7).
//!
//! Keys (all under `natter:`): `session:<sha256>` → userID; `user:<id>` → hash {name};
//! `users` → sorted set of userIDs in creation order; `conv:<lo>:<hi>` → sorted set of message
//! JSON scored by id; `convs:<user>` → set of peers; `client:<from>:<clientId>` → the message
//! stored under that key; `node:<node>:users` → users with a socket on that node;
//! `node:<node>:alive` → expiring heartbeat; `nodes` → every node seen.
//! Nothing expires but heartbeats: history is kept until someone deletes it.

use std::collections::HashMap;
use std::sync::RwLock;

use async_trait::async_trait;
use natter_protocol::Message;
use redis::aio::MultiplexedConnection;

use super::{Inserted, NewMessage, Store, StoreError, StoreResult, UserRecord};
use crate::ids::hash_session_id;

/// Inserts a message atomically: idempotency check, id, conversation, peers, idempotency key.
const INSERT: &str = r#"
if ARGV[5] ~= '' then
  local existing = redis.call('GET', KEYS[1])
  if existing then return {0, existing} end
end
local id = redis.call('INCR', KEYS[2])
local m = {id = id, content = ARGV[3], from = ARGV[1], to = ARGV[2], ts = tonumber(ARGV[4])}
if ARGV[5] ~= '' then m.clientId = ARGV[5] end
local json = cjson.encode(m)
redis.call('ZADD', KEYS[3], id, json)
redis.call('SADD', KEYS[4], ARGV[2])
redis.call('SADD', KEYS[5], ARGV[1])
if ARGV[5] ~= '' then redis.call('SET', KEYS[1], json) end
return {1, json}
"#;

pub struct RedisStore {
    conn: MultiplexedConnection,
    node: String,
    insert: redis::Script,
    /// Usernames never change: each node keeps the ones it has seen.
    names: RwLock<HashMap<String, String>>,
}

impl From<redis::RedisError> for StoreError {
    fn from(e: redis::RedisError) -> Self {
        StoreError::Redis(e.to_string())
    }
}

fn conv_key(a: &str, b: &str) -> String {
    if a <= b {
        format!("natter:conv:{a}:{b}")
    } else {
        format!("natter:conv:{b}:{a}")
    }
}

pub fn node_users_key(node: &str) -> String {
    format!("natter:node:{node}:users")
}

pub fn node_alive_key(node: &str) -> String {
    format!("natter:node:{node}:alive")
}

pub const NODES_KEY: &str = "natter:nodes";

fn parse(json: &str) -> StoreResult<Message> {
    serde_json::from_str(json).map_err(|e| StoreError::Redis(format!("bad stored message: {e}")))
}

impl RedisStore {
    pub fn new(conn: MultiplexedConnection, node: String) -> Self {
        Self {
            conn,
            node,
            insert: redis::Script::new(INSERT),
            names: RwLock::new(HashMap::new()),
        }
    }

    pub fn node(&self) -> &str {
        &self.node
    }

    pub fn connection(&self) -> MultiplexedConnection {
        self.conn.clone()
    }

    /// The nodes whose heartbeat is current.
    pub async fn live_nodes(&self) -> StoreResult<Vec<String>> {
        let mut conn = self.conn.clone();
        let nodes: Vec<String> = redis::cmd("SMEMBERS")
            .arg(NODES_KEY)
            .query_async(&mut conn)
            .await?;
        if nodes.is_empty() {
            return Ok(nodes);
        }
        let mut pipe = redis::pipe();
        for n in &nodes {
            pipe.exists(node_alive_key(n));
        }
        let alive: Vec<bool> = pipe.query_async(&mut conn).await?;
        Ok(nodes
            .into_iter()
            .zip(alive)
            .filter_map(|(n, a)| a.then_some(n))
            .collect())
    }

    async fn username(&self, user_id: &str) -> StoreResult<Option<String>> {
        if let Some(n) = self
            .names
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(user_id)
        {
            return Ok(Some(n.clone()));
        }
        let mut conn = self.conn.clone();
        let name: Option<String> = redis::cmd("HGET")
            .arg(format!("natter:user:{user_id}"))
            .arg("name")
            .query_async(&mut conn)
            .await?;
        if let Some(n) = &name {
            self.names
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .insert(user_id.to_owned(), n.clone());
        }
        Ok(name)
    }

    /// Every user with a socket on a live node.
    async fn online(&self) -> StoreResult<std::collections::HashSet<String>> {
        let nodes = self.live_nodes().await?;
        if nodes.is_empty() {
            return Ok(Default::default());
        }
        let mut conn = self.conn.clone();
        let mut cmd = redis::cmd("SUNION");
        for n in &nodes {
            cmd.arg(node_users_key(n));
        }
        Ok(cmd.query_async(&mut conn).await?)
    }
}

#[async_trait]
impl Store for RedisStore {
    async fn find_session(&self, session_id: &str) -> StoreResult<Option<UserRecord>> {
        let mut conn = self.conn.clone();
        let user_id: Option<String> = redis::cmd("GET")
            .arg(format!("natter:session:{}", hash_session_id(session_id)))
            .query_async(&mut conn)
            .await?;
        let Some(user_id) = user_id else {
            return Ok(None);
        };
        let Some(username) = self.username(&user_id).await? else {
            return Ok(None);
        };
        let connected = self.is_connected(&user_id).await?;
        Ok(Some(UserRecord {
            user_id,
            username,
            connected,
        }))
    }

    async fn create_session(
        &self,
        session_id: &str,
        user_id: &str,
        username: &str,
    ) -> StoreResult<UserRecord> {
        let mut conn = self.conn.clone();
        let seq: i64 = redis::cmd("INCR")
            .arg("natter:user_seq")
            .query_async(&mut conn)
            .await?;
        redis::pipe()
            .atomic()
            .hset(format!("natter:user:{user_id}"), "name", username)
            .zadd("natter:users", user_id, seq)
            .set(
                format!("natter:session:{}", hash_session_id(session_id)),
                user_id,
            )
            .query_async::<()>(&mut conn)
            .await?;
        self.names
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(user_id.to_owned(), username.to_owned());
        Ok(UserRecord {
            user_id: user_id.to_owned(),
            username: username.to_owned(),
            connected: false,
        })
    }

    async fn set_connected(&self, user_id: &str, connected: bool) -> StoreResult<()> {
        let mut conn = self.conn.clone();
        let cmd = if connected { "SADD" } else { "SREM" };
        redis::cmd(cmd)
            .arg(node_users_key(&self.node))
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
            pipe.sismember(node_users_key(n), user_id);
        }
        let member: Vec<bool> = pipe.query_async(&mut conn).await?;
        Ok(member.into_iter().any(|m| m))
    }

    async fn user_exists(&self, user_id: &str) -> StoreResult<bool> {
        Ok(self.username(user_id).await?.is_some())
    }

    async fn users(&self) -> StoreResult<Vec<UserRecord>> {
        let mut conn = self.conn.clone();
        let ids: Vec<String> = redis::cmd("ZRANGE")
            .arg("natter:users")
            .arg(0)
            .arg(-1)
            .query_async(&mut conn)
            .await?;
        let missing: Vec<&String> = {
            let names = self.names.read().unwrap_or_else(|p| p.into_inner());
            ids.iter().filter(|id| !names.contains_key(*id)).collect()
        };
        if !missing.is_empty() {
            let mut pipe = redis::pipe();
            for id in &missing {
                pipe.hget(format!("natter:user:{id}"), "name");
            }
            let fetched: Vec<Option<String>> = pipe.query_async(&mut conn).await?;
            let mut names = self.names.write().unwrap_or_else(|p| p.into_inner());
            for (id, name) in missing.into_iter().zip(fetched) {
                if let Some(name) = name {
                    names.insert(id.clone(), name);
                }
            }
        }
        let online = self.online().await?;
        let names = self.names.read().unwrap_or_else(|p| p.into_inner());
        Ok(ids
            .into_iter()
            .filter_map(|id| {
                let username = names.get(&id)?.clone();
                Some(UserRecord {
                    connected: online.contains(&id),
                    user_id: id,
                    username,
                })
            })
            .collect())
    }

    async fn insert_message(&self, m: NewMessage) -> StoreResult<Inserted> {
        let mut conn = self.conn.clone();
        let client_key = m
            .client_id
            .as_ref()
            .map(|c| format!("natter:client:{}:{c}", m.from))
            .unwrap_or_else(|| "natter:client:-".into());
        let ts = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        let (new, json): (i64, String) = self
            .insert
            .key(client_key)
            .key("natter:msg_seq")
            .key(conv_key(&m.from, &m.to))
            .key(format!("natter:convs:{}", m.from))
            .key(format!("natter:convs:{}", m.to))
            .arg(&m.from)
            .arg(&m.to)
            .arg(&m.content)
            .arg(ts)
            .arg(m.client_id.as_deref().unwrap_or(""))
            .invoke_async(&mut conn)
            .await?;
        let message = parse(&json)?;
        Ok(if new == 1 {
            Inserted::New(message)
        } else {
            Inserted::Duplicate(message)
        })
    }

    async fn recent_conversations(
        &self,
        user_id: &str,
        per_peer: u32,
    ) -> StoreResult<Vec<(String, Vec<Message>)>> {
        let mut conn = self.conn.clone();
        let peers: Vec<String> = redis::cmd("SMEMBERS")
            .arg(format!("natter:convs:{user_id}"))
            .query_async(&mut conn)
            .await?;
        if peers.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for p in &peers {
            pipe.cmd("ZREVRANGE")
                .arg(conv_key(user_id, p))
                .arg(0)
                .arg(per_peer.saturating_sub(1) as i64);
        }
        let pages: Vec<Vec<String>> = pipe.query_async(&mut conn).await?;
        peers
            .into_iter()
            .zip(pages)
            .map(|(peer, page)| {
                let mut messages = page
                    .iter()
                    .map(|j| parse(j))
                    .collect::<StoreResult<Vec<_>>>()?;
                messages.reverse();
                Ok((peer, messages))
            })
            .collect()
    }

    async fn page(
        &self,
        a: &str,
        b: &str,
        before: Option<u64>,
        limit: u32,
    ) -> StoreResult<(Vec<Message>, bool)> {
        let mut conn = self.conn.clone();
        let max = before.map_or("+inf".to_owned(), |b| format!("({b}"));
        let page: Vec<String> = redis::cmd("ZREVRANGEBYSCORE")
            .arg(conv_key(a, b))
            .arg(max)
            .arg("-inf")
            .arg("LIMIT")
            .arg(0)
            .arg(limit as i64 + 1)
            .query_async(&mut conn)
            .await?;
        let has_more = page.len() > limit as usize;
        let mut messages = page
            .iter()
            .take(limit as usize)
            .map(|j| parse(j))
            .collect::<StoreResult<Vec<_>>>()?;
        messages.reverse();
        Ok((messages, has_more))
    }
}
