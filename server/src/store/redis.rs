//! The shared store for several nodes: everything in one Redis (≥ 7).
//!
//! Keys (all under `natter:`): `session:<sha256>` → userID; `user:<id>` → hash {name,
//! password}; `user:<id>:sessions` → set of session hashes; `name:<key>` → set of userIDs
//! holding that name (one, but for data from before names were compared normalised);
//! `names_version` → bumped by renames and removals, so nodes drop their cached names;
//! `users` → sorted set of userIDs in creation order; `conv:<lo>:<hi>` → sorted set of message
//! JSON scored by id; `convs:<user>` → set of peers; `client:<from>:<clientId>` → the message
//! stored under that key; `node:<node>:users` → users with a socket on that node;
//! `node:<node>:alive` → expiring heartbeat; `nodes` → every node seen; `inbox:<to>:<from>` →
//! sorted set of the ids of messages from `from` to `to` (unread counts); `read:<reader>` →
//! hash peer → the last message id read; `receipts_off` → set of users keeping read markers to
//! themselves; `group:<g>` → hash {name, createdBy}; `group:<g>:members` → sorted set of
//! userIDs by joining order; `groups:<user>` → sorted set of the user's groupIDs; a group's
//! messages are in `conv:<g>:<g>`, and `gsent:<g>:<user>` holds the ids of those the user sent
//! (unread = the group's after the marker minus one's own); `file:<id>` → hash of an upload's
//! record; `file:<id>:convs` → the users and groups it was sent to (its uploader sent it).
//! Nothing expires but heartbeats: history is kept until someone deletes it.

use std::collections::HashMap;
use std::sync::RwLock;

use async_trait::async_trait;
use natter_protocol::Message;
use redis::aio::ConnectionManager;

use super::{
    Account, Conversation, FileRecord, GroupRecord, Inserted, ListedUser, MAX_UNREAD_COUNTED,
    NameTaken, NewMessage, NewUser, NotInConversation, ReadState, SearchUnsupported, Store,
    StoreError, StoreResult, UserRecord,
};
use crate::accounts::name_key;
use crate::ids::hash_session_id;

/// Creates an identity unless its name is held: name set, user hash, creation order, session.
const CREATE_USER: &str = r#"
if redis.call('SCARD', KEYS[1]) > 0 then return 0 end
local seq = redis.call('INCR', KEYS[6])
redis.call('HSET', KEYS[2], 'name', ARGV[2])
if ARGV[3] ~= '' then redis.call('HSET', KEYS[2], 'password', ARGV[3]) end
redis.call('ZADD', KEYS[3], seq, ARGV[1])
redis.call('SET', KEYS[4], ARGV[1])
redis.call('SADD', KEYS[5], ARGV[4])
redis.call('SADD', KEYS[1], ARGV[1])
return 1
"#;

/// Renames unless another identity holds the new name.
const RENAME_USER: &str = r#"
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if id ~= ARGV[1] then return 0 end
end
redis.call('SREM', KEYS[2], ARGV[1])
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[3], 'name', ARGV[2])
redis.call('INCR', KEYS[4])
return 1
"#;

const NAMES_VERSION: &str = "natter:names_version";
const SCHEMA_KEY: &str = "natter:schema";
/// 2: name sets and per-user session sets exist. 3: inbox sets exist.
const SCHEMA: i64 = 3;

fn user_key(user_id: &str) -> String {
    format!("natter:user:{user_id}")
}

fn user_sessions_key(user_id: &str) -> String {
    format!("natter:user:{user_id}:sessions")
}

fn name_set_key(username: &str) -> String {
    format!("natter:name:{}", name_key(username))
}

fn session_key(hash: &str) -> String {
    format!("natter:session:{hash}")
}

/// Inserts a message atomically: idempotency check, id, conversation, peers, idempotency key.
const INSERT: &str = r#"
if ARGV[5] ~= '' then
  local existing = redis.call('GET', KEYS[1])
  if existing then return {0, existing} end
end
local id = redis.call('INCR', KEYS[2])
local m = {id = id, content = ARGV[3], from = ARGV[1], to = ARGV[2], ts = tonumber(ARGV[4])}
if ARGV[5] ~= '' then m.clientId = ARGV[5] end
if ARGV[6] ~= '' then
  m.attachment = cjson.decode(ARGV[6])
  redis.call('SADD', KEYS[7], ARGV[2])
end
local json = cjson.encode(m)
redis.call('ZADD', KEYS[3], id, json)
redis.call('ZADD', KEYS[6], id, id)
if ARGV[7] ~= 'group' then
  redis.call('SADD', KEYS[4], ARGV[2])
  redis.call('SADD', KEYS[5], ARGV[1])
end
if ARGV[5] ~= '' then redis.call('SET', KEYS[1], json) end
return {1, json}
"#;

/// Moves a read marker forward only; returns the marker now stored and whether it moved.
const MARK_READ: &str = r#"
local current = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
local up_to = tonumber(ARGV[2])
if up_to <= current then return {current, 0} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return {up_to, 1}
"#;

const RECEIPTS_OFF: &str = "natter:receipts_off";

fn inbox_key(to: &str, from: &str) -> String {
    format!("natter:inbox:{to}:{from}")
}

fn read_key(reader: &str) -> String {
    format!("natter:read:{reader}")
}

pub struct RedisStore {
    conn: ConnectionManager,
    node: String,
    insert: redis::Script,
    mark_read: redis::Script,
    create_user: redis::Script,
    rename_user: redis::Script,
    /// Usernames each node has seen, valid while `names_version` is unchanged.
    names: RwLock<HashMap<String, String>>,
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

fn conv_key(a: &str, b: &str) -> String {
    if a <= b {
        format!("natter:conv:{a}:{b}")
    } else {
        format!("natter:conv:{b}:{a}")
    }
}

/// A conversation's sorted set of messages: the two userIDs sorted, or the groupID twice.
fn conversation_key(c: Conversation<'_>) -> String {
    match c {
        Conversation::Private(a, b) => conv_key(a, b),
        Conversation::Group(g) => conv_key(g, g),
    }
}

fn group_key(group_id: &str) -> String {
    format!("natter:group:{group_id}")
}

fn members_key(group_id: &str) -> String {
    format!("natter:group:{group_id}:members")
}

fn user_groups_key(user_id: &str) -> String {
    format!("natter:groups:{user_id}")
}

fn group_sent_key(group_id: &str, user_id: &str) -> String {
    format!("natter:gsent:{group_id}:{user_id}")
}

fn file_key(file_id: &str) -> String {
    format!("natter:file:{file_id}")
}

fn file_convs_key(file_id: &str) -> String {
    format!("natter:file:{file_id}:convs")
}

/// Joining order for group members and for each person's groups.
const MEMBER_SEQ: &str = "natter:member_seq";

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
    /// The groups `user_id` is a member of, oldest first.
    async fn group_ids_of(&self, user_id: &str) -> StoreResult<Vec<String>> {
        let mut conn = self.conn.clone();
        Ok(redis::cmd("ZRANGE")
            .arg(user_groups_key(user_id))
            .arg(0)
            .arg(-1)
            .query_async(&mut conn)
            .await?)
    }

    /// Everyone `user_id` has a conversation with.
    async fn peers(&self, user_id: &str) -> StoreResult<Vec<String>> {
        let mut conn = self.conn.clone();
        Ok(redis::cmd("SMEMBERS")
            .arg(format!("natter:convs:{user_id}"))
            .query_async(&mut conn)
            .await?)
    }

    pub fn new(conn: ConnectionManager, node: String) -> Self {
        Self {
            conn,
            node,
            insert: redis::Script::new(INSERT),
            mark_read: redis::Script::new(MARK_READ),
            create_user: redis::Script::new(CREATE_USER),
            rename_user: redis::Script::new(RENAME_USER),
            names: RwLock::new(HashMap::new()),
            names_version: std::sync::atomic::AtomicI64::new(-1),
        }
    }

    /// Brings data written by an older natter-server up to [`SCHEMA`]: name sets for existing
    /// users, per-user session sets for existing sessions. Idempotent; nodes may race on it.
    pub async fn migrate(&self) -> StoreResult<()> {
        let mut conn = self.conn.clone();
        let version: Option<i64> = redis::cmd("GET")
            .arg(SCHEMA_KEY)
            .query_async(&mut conn)
            .await?;
        if version.unwrap_or(0) >= SCHEMA {
            return Ok(());
        }
        let ids = self.user_ids().await?;
        for id in &ids {
            let name: Option<String> = redis::cmd("HGET")
                .arg(user_key(id))
                .arg("name")
                .query_async(&mut conn)
                .await?;
            if let Some(name) = name {
                redis::cmd("SADD")
                    .arg(name_set_key(&name))
                    .arg(id)
                    .query_async::<()>(&mut conn)
                    .await?;
            }
        }
        for key in self.scan("natter:session:*").await? {
            let uid: Option<String> = redis::cmd("GET").arg(&key).query_async(&mut conn).await?;
            if let (Some(uid), Some(hash)) = (uid, key.strip_prefix("natter:session:")) {
                redis::cmd("SADD")
                    .arg(user_sessions_key(&uid))
                    .arg(hash)
                    .query_async::<()>(&mut conn)
                    .await?;
            }
        }
        // Inbox sets (for unread counts) of the messages stored before them.
        for key in self.scan("natter:conv:*").await? {
            let stored: Vec<String> = redis::cmd("ZRANGE")
                .arg(&key)
                .arg(0)
                .arg(-1)
                .query_async(&mut conn)
                .await?;
            let mut pipe = redis::pipe();
            for json in &stored {
                let m = parse(json)?;
                pipe.zadd(inbox_key(&m.to, &m.from), m.id, m.id).ignore();
            }
            pipe.query_async::<()>(&mut conn).await?;
        }
        redis::cmd("SET")
            .arg(SCHEMA_KEY)
            .arg(SCHEMA)
            .query_async::<()>(&mut conn)
            .await?;
        tracing::info!(users = ids.len(), "redis data upgraded to schema {SCHEMA}");
        Ok(())
    }

    /// Every userID, in creation order.
    async fn user_ids(&self) -> StoreResult<Vec<String>> {
        let mut conn = self.conn.clone();
        Ok(redis::cmd("ZRANGE")
            .arg("natter:users")
            .arg(0)
            .arg(-1)
            .query_async(&mut conn)
            .await?)
    }

    /// Every key matching `pattern` (SCAN, so Redis keeps serving meanwhile). For rare
    /// operations only: migrations and removals.
    async fn scan(&self, pattern: &str) -> StoreResult<Vec<String>> {
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

    /// Drops the cached names if another node renamed or removed someone since.
    async fn check_names_version(&self) -> StoreResult<()> {
        let mut conn = self.conn.clone();
        let version: Option<i64> = redis::cmd("GET")
            .arg(NAMES_VERSION)
            .query_async(&mut conn)
            .await?;
        let version = version.unwrap_or(0);
        let seen = self
            .names_version
            .swap(version, std::sync::atomic::Ordering::Relaxed);
        if seen != version {
            self.names
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .clear();
        }
        Ok(())
    }

    async fn bump_names_version(&self) -> StoreResult<()> {
        let mut conn = self.conn.clone();
        redis::cmd("INCR")
            .arg(NAMES_VERSION)
            .query_async::<()>(&mut conn)
            .await?;
        self.check_names_version().await
    }

    pub fn node(&self) -> &str {
        &self.node
    }

    pub fn connection(&self) -> ConnectionManager {
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

    async fn accounts_named(&self, username: &str) -> StoreResult<Vec<Account>> {
        let mut conn = self.conn.clone();
        let ids: Vec<String> = redis::cmd("SMEMBERS")
            .arg(name_set_key(username))
            .query_async(&mut conn)
            .await?;
        let mut accounts = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(a) = self.account(&id).await? {
                accounts.push(a);
            }
        }
        Ok(accounts)
    }

    async fn account(&self, user_id: &str) -> StoreResult<Option<Account>> {
        let mut conn = self.conn.clone();
        let (name, password): (Option<String>, Option<String>) = redis::cmd("HMGET")
            .arg(user_key(user_id))
            .arg("name")
            .arg("password")
            .query_async(&mut conn)
            .await?;
        Ok(name.map(|username| Account {
            user_id: user_id.to_owned(),
            username,
            password_hash: password,
        }))
    }

    async fn create_user(&self, user: NewUser) -> StoreResult<Result<UserRecord, NameTaken>> {
        let mut conn = self.conn.clone();
        let hash = hash_session_id(&user.session_id);
        let created: i64 = self
            .create_user
            .key(name_set_key(&user.username))
            .key(user_key(&user.user_id))
            .key("natter:users")
            .key(session_key(&hash))
            .key(user_sessions_key(&user.user_id))
            .key("natter:user_seq")
            .arg(&user.user_id)
            .arg(&user.username)
            .arg(user.password_hash.as_deref().unwrap_or(""))
            .arg(&hash)
            .invoke_async(&mut conn)
            .await?;
        if created == 0 {
            return Ok(Err(NameTaken));
        }
        self.names
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(user.user_id.clone(), user.username.clone());
        Ok(Ok(UserRecord {
            user_id: user.user_id,
            username: user.username,
            connected: false,
        }))
    }

    async fn add_session(&self, session_id: &str, user_id: &str) -> StoreResult<()> {
        let mut conn = self.conn.clone();
        let hash = hash_session_id(session_id);
        redis::pipe()
            .atomic()
            .set(session_key(&hash), user_id)
            .sadd(user_sessions_key(user_id), &hash)
            .query_async::<()>(&mut conn)
            .await?;
        Ok(())
    }

    async fn revoke_session(&self, session_id: &str) -> StoreResult<bool> {
        let mut conn = self.conn.clone();
        let hash = hash_session_id(session_id);
        let user_id: Option<String> = redis::cmd("GETDEL")
            .arg(session_key(&hash))
            .query_async(&mut conn)
            .await?;
        if let Some(uid) = &user_id {
            redis::cmd("SREM")
                .arg(user_sessions_key(uid))
                .arg(&hash)
                .query_async::<()>(&mut conn)
                .await?;
        }
        Ok(user_id.is_some())
    }

    async fn revoke_user_sessions(&self, user_id: &str) -> StoreResult<usize> {
        let mut conn = self.conn.clone();
        let hashes: Vec<String> = redis::cmd("SMEMBERS")
            .arg(user_sessions_key(user_id))
            .query_async(&mut conn)
            .await?;
        let mut pipe = redis::pipe();
        pipe.atomic();
        for h in &hashes {
            pipe.del(session_key(h));
        }
        pipe.del(user_sessions_key(user_id));
        pipe.query_async::<()>(&mut conn).await?;
        Ok(hashes.len())
    }

    async fn session_counts(&self) -> StoreResult<HashMap<String, usize>> {
        let mut conn = self.conn.clone();
        let ids = self.user_ids().await?;
        let mut pipe = redis::pipe();
        for id in &ids {
            pipe.scard(user_sessions_key(id));
        }
        let counts: Vec<usize> = pipe.query_async(&mut conn).await?;
        Ok(ids
            .into_iter()
            .zip(counts)
            .filter(|(_, n)| *n > 0)
            .collect())
    }

    async fn set_password(&self, user_id: &str, password_hash: Option<String>) -> StoreResult<()> {
        let mut conn = self.conn.clone();
        let cmd = match &password_hash {
            Some(h) => {
                let mut c = redis::cmd("HSET");
                c.arg(user_key(user_id)).arg("password").arg(h);
                c
            }
            None => {
                let mut c = redis::cmd("HDEL");
                c.arg(user_key(user_id)).arg("password");
                c
            }
        };
        cmd.query_async::<()>(&mut conn).await?;
        Ok(())
    }

    async fn rename_user(
        &self,
        user_id: &str,
        username: &str,
    ) -> StoreResult<Result<(), NameTaken>> {
        let Some(old) = self.account(user_id).await? else {
            return Ok(Ok(()));
        };
        let mut conn = self.conn.clone();
        let renamed: i64 = self
            .rename_user
            .key(name_set_key(username))
            .key(name_set_key(&old.username))
            .key(user_key(user_id))
            .key(NAMES_VERSION)
            .arg(user_id)
            .arg(username)
            .invoke_async(&mut conn)
            .await?;
        if renamed == 0 {
            return Ok(Err(NameTaken));
        }
        self.check_names_version().await?;
        Ok(Ok(()))
    }

    async fn check_writable(&self) -> StoreResult<()> {
        let mut conn = self.conn.clone();
        redis::cmd("SET")
            .arg(format!("natter:node:{}:health", self.node))
            .arg(1)
            .arg("EX")
            .arg(60)
            .query_async::<()>(&mut conn)
            .await?;
        Ok(())
    }

    async fn remove_user(&self, user_id: &str) -> StoreResult<bool> {
        let Some(account) = self.account(user_id).await? else {
            return Ok(false);
        };
        self.revoke_user_sessions(user_id).await?;
        let mut conn = self.conn.clone();
        let peers = self.peers(user_id).await?;
        let mut pipe = redis::pipe();
        pipe.atomic();
        for p in &peers {
            pipe.del(conv_key(user_id, p));
            pipe.srem(format!("natter:convs:{p}"), user_id);
            pipe.del(inbox_key(user_id, p));
            pipe.del(inbox_key(p, user_id));
            pipe.hdel(read_key(p), user_id);
        }
        for g in self.group_ids_of(user_id).await? {
            pipe.zrem(members_key(&g), user_id);
        }
        pipe.del(format!("natter:convs:{user_id}"))
            .del(user_groups_key(user_id))
            .del(read_key(user_id))
            .srem(RECEIPTS_OFF, user_id)
            .srem(name_set_key(&account.username), user_id)
            .zrem("natter:users", user_id)
            .del(user_key(user_id));
        pipe.query_async::<()>(&mut conn).await?;
        // Its idempotency keys hold copies of what it sent.
        for keys in self
            .scan(&format!("natter:client:{user_id}:*"))
            .await?
            .chunks(1000)
        {
            redis::cmd("DEL")
                .arg(keys)
                .query_async::<()>(&mut conn)
                .await?;
        }
        self.names
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(user_id);
        self.bump_names_version().await?;
        Ok(true)
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

    async fn users(&self) -> StoreResult<Vec<ListedUser>> {
        self.check_names_version().await?;
        let mut conn = self.conn.clone();
        let ids = self.user_ids().await?;
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
                let username = names.get(&id)?.as_str().into();
                let connected = online.contains(&id);
                Some(ListedUser::new(id.into(), username, connected))
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
        let group = natter_protocol::is_group_id(&m.to);
        let attachment = match &m.attachment {
            Some(a) => serde_json::to_string(a).map_err(|e| StoreError::Redis(e.to_string()))?,
            None => String::new(),
        };
        let (new, json): (i64, String) = self
            .insert
            .key(client_key)
            .key("natter:msg_seq")
            .key(conversation_key(Conversation::between(&m.from, &m.to)))
            .key(format!("natter:convs:{}", m.from))
            .key(format!("natter:convs:{}", m.to))
            .key(if group {
                group_sent_key(&m.to, &m.from)
            } else {
                inbox_key(&m.to, &m.from)
            })
            .key(file_convs_key(
                m.attachment.as_ref().map_or("-", |a| a.file_id.as_str()),
            ))
            .arg(&m.from)
            .arg(&m.to)
            .arg(&m.content)
            .arg(ts)
            .arg(m.client_id.as_deref().unwrap_or(""))
            .arg(attachment)
            .arg(if group { "group" } else { "private" })
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
        let peers = self.peers(user_id).await?;
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

    async fn mark_read(
        &self,
        reader: &str,
        peer: &str,
        up_to: u64,
    ) -> StoreResult<Result<Option<u64>, NotInConversation>> {
        let mut conn = self.conn.clone();
        let in_conversation: u64 = redis::cmd("ZCOUNT")
            .arg(conversation_key(Conversation::between(reader, peer)))
            .arg(up_to)
            .arg(up_to)
            .query_async(&mut conn)
            .await?;
        if in_conversation == 0 {
            return Ok(Err(NotInConversation));
        }
        let (marker, moved): (u64, u8) = self
            .mark_read
            .key(read_key(reader))
            .arg(peer)
            .arg(up_to)
            .invoke_async(&mut conn)
            .await?;
        Ok(Ok((moved == 1).then_some(marker)))
    }

    async fn read_states(&self, user_id: &str) -> StoreResult<HashMap<String, ReadState>> {
        let mut conn = self.conn.clone();
        let peers = self.peers(user_id).await?;
        if peers.is_empty() {
            return Ok(HashMap::new());
        }
        let mine: HashMap<String, u64> = redis::cmd("HGETALL")
            .arg(read_key(user_id))
            .query_async(&mut conn)
            .await?;
        let mut pipe = redis::pipe();
        for p in &peers {
            let after = mine.get(p).copied().unwrap_or(0);
            pipe.cmd("ZCOUNT")
                .arg(inbox_key(user_id, p))
                .arg(format!("({after}"))
                .arg("+inf");
            pipe.hget(read_key(p), user_id);
            pipe.sismember(RECEIPTS_OFF, p);
        }
        let answers: Vec<redis::Value> = pipe.query_async(&mut conn).await?;
        let mut out = HashMap::with_capacity(peers.len());
        let mut answers = answers.into_iter();
        for peer in peers {
            let (Some(unread), Some(theirs), Some(private)) =
                (answers.next(), answers.next(), answers.next())
            else {
                return Err(StoreError::Redis("short pipeline answer".into()));
            };
            let unread: u64 = redis::from_redis_value(unread)?;
            let theirs: Option<u64> = redis::from_redis_value(theirs)?;
            let private: bool = redis::from_redis_value(private)?;
            out.insert(
                peer,
                ReadState {
                    unread: unread.min(MAX_UNREAD_COUNTED),
                    read_up_to: if private { 0 } else { theirs.unwrap_or(0) },
                },
            );
        }
        Ok(out)
    }

    async fn set_receipts(&self, user_id: &str, send: bool) -> StoreResult<()> {
        let mut conn = self.conn.clone();
        let cmd = if send { "SREM" } else { "SADD" };
        redis::cmd(cmd)
            .arg(RECEIPTS_OFF)
            .arg(user_id)
            .query_async::<()>(&mut conn)
            .await?;
        Ok(())
    }

    async fn sends_receipts(&self, user_id: &str) -> StoreResult<bool> {
        let mut conn = self.conn.clone();
        let off: bool = redis::cmd("SISMEMBER")
            .arg(RECEIPTS_OFF)
            .arg(user_id)
            .query_async(&mut conn)
            .await?;
        Ok(!off)
    }

    async fn page(
        &self,
        conversation: Conversation<'_>,
        before: Option<u64>,
        limit: u32,
    ) -> StoreResult<(Vec<Message>, bool)> {
        let mut conn = self.conn.clone();
        let max = before.map_or("+inf".to_owned(), |b| format!("({b}"));
        let page: Vec<String> = redis::cmd("ZREVRANGEBYSCORE")
            .arg(conversation_key(conversation))
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

    async fn create_group(&self, group: GroupRecord) -> StoreResult<()> {
        let mut conn = self.conn.clone();
        redis::cmd("HSET")
            .arg(group_key(&group.group_id))
            .arg("name")
            .arg(&group.name)
            .arg("createdBy")
            .arg(&group.created_by)
            .query_async::<()>(&mut conn)
            .await?;
        self.add_members(&group.group_id, &group.members).await?;
        Ok(())
    }

    async fn group(&self, group_id: &str) -> StoreResult<Option<GroupRecord>> {
        let mut conn = self.conn.clone();
        let (fields, members): (HashMap<String, String>, Vec<String>) = redis::pipe()
            .hgetall(group_key(group_id))
            .zrange(members_key(group_id), 0, -1)
            .query_async(&mut conn)
            .await?;
        let (Some(name), Some(created_by)) = (fields.get("name"), fields.get("createdBy")) else {
            return Ok(None);
        };
        Ok(Some(GroupRecord {
            group_id: group_id.to_owned(),
            name: name.clone(),
            members,
            created_by: created_by.clone(),
        }))
    }

    async fn add_members(
        &self,
        group_id: &str,
        members: &[String],
    ) -> StoreResult<Option<GroupRecord>> {
        let mut conn = self.conn.clone();
        let exists: bool = redis::cmd("EXISTS")
            .arg(group_key(group_id))
            .query_async(&mut conn)
            .await?;
        if !exists {
            return Ok(None);
        }
        for m in members {
            let seq: i64 = redis::cmd("INCR")
                .arg(MEMBER_SEQ)
                .query_async(&mut conn)
                .await?;
            // NX: a member already in keeps their place.
            redis::pipe()
                .cmd("ZADD")
                .arg(members_key(group_id))
                .arg("NX")
                .arg(seq)
                .arg(m)
                .ignore()
                .cmd("ZADD")
                .arg(user_groups_key(m))
                .arg("NX")
                .arg(seq)
                .arg(group_id)
                .ignore()
                .query_async::<()>(&mut conn)
                .await?;
        }
        self.group(group_id).await
    }

    async fn remove_member(
        &self,
        group_id: &str,
        user_id: &str,
    ) -> StoreResult<Option<GroupRecord>> {
        let mut conn = self.conn.clone();
        redis::pipe()
            .atomic()
            .zrem(members_key(group_id), user_id)
            .ignore()
            .zrem(user_groups_key(user_id), group_id)
            .ignore()
            .query_async::<()>(&mut conn)
            .await?;
        self.group(group_id).await
    }

    async fn groups_of(&self, user_id: &str) -> StoreResult<Vec<GroupRecord>> {
        let mut out = Vec::new();
        for g in self.group_ids_of(user_id).await? {
            if let Some(group) = self.group(&g).await? {
                out.push(group);
            }
        }
        Ok(out)
    }

    async fn recent_in_groups(
        &self,
        user_id: &str,
        group_ids: &[String],
        per_group: u32,
    ) -> StoreResult<Vec<(String, Vec<Message>, u64)>> {
        if group_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.conn.clone();
        let mine: HashMap<String, u64> = redis::cmd("HGETALL")
            .arg(read_key(user_id))
            .query_async(&mut conn)
            .await?;
        let mut pipe = redis::pipe();
        for g in group_ids {
            let after = format!("({}", mine.get(g).copied().unwrap_or(0));
            let key = conversation_key(Conversation::Group(g));
            pipe.cmd("ZREVRANGE")
                .arg(&key)
                .arg(0)
                .arg(per_group.saturating_sub(1) as i64);
            pipe.cmd("ZCOUNT").arg(&key).arg(&after).arg("+inf");
            pipe.cmd("ZCOUNT")
                .arg(group_sent_key(g, user_id))
                .arg(&after)
                .arg("+inf");
        }
        let answers: Vec<redis::Value> = pipe.query_async(&mut conn).await?;
        let mut answers = answers.into_iter();
        let mut out = Vec::with_capacity(group_ids.len());
        for g in group_ids {
            let (Some(page), Some(all), Some(own)) =
                (answers.next(), answers.next(), answers.next())
            else {
                return Err(StoreError::Redis("short pipeline answer".into()));
            };
            let page: Vec<String> = redis::from_redis_value(page)?;
            let all: u64 = redis::from_redis_value(all)?;
            let own: u64 = redis::from_redis_value(own)?;
            let mut messages = page
                .iter()
                .map(|j| parse(j))
                .collect::<StoreResult<Vec<_>>>()?;
            messages.reverse();
            out.push((
                g.clone(),
                messages,
                all.saturating_sub(own).min(MAX_UNREAD_COUNTED),
            ));
        }
        Ok(out)
    }

    async fn insert_file(&self, file: FileRecord) -> StoreResult<()> {
        let mut conn = self.conn.clone();
        let i = &file.info.file;
        redis::cmd("HSET")
            .arg(file_key(&i.file_id))
            .arg("uploader")
            .arg(&file.uploader)
            .arg("name")
            .arg(&i.name)
            .arg("size")
            .arg(i.size)
            .arg("type")
            .arg(&i.media_type)
            .arg("sha256")
            .arg(&file.info.sha256)
            .query_async::<()>(&mut conn)
            .await?;
        Ok(())
    }

    async fn file(&self, file_id: &str) -> StoreResult<Option<FileRecord>> {
        let mut conn = self.conn.clone();
        let mut f: HashMap<String, String> = redis::cmd("HGETALL")
            .arg(file_key(file_id))
            .query_async(&mut conn)
            .await?;
        let mut take = |k: &str| f.remove(k);
        let (Some(uploader), Some(name), Some(size), Some(media_type), Some(sha256)) = (
            take("uploader"),
            take("name"),
            take("size"),
            take("type"),
            take("sha256"),
        ) else {
            return Ok(None);
        };
        Ok(Some(FileRecord {
            info: natter_protocol::FileInfo {
                file: natter_protocol::Attachment {
                    file_id: file_id.to_owned(),
                    name,
                    size: size
                        .parse()
                        .map_err(|_| StoreError::Redis(format!("bad stored file size {size}")))?,
                    media_type,
                },
                sha256,
            },
            uploader,
        }))
    }

    async fn file_sent_to(&self, file_id: &str, user_id: &str) -> StoreResult<bool> {
        let mut conn = self.conn.clone();
        let mut candidates = self.group_ids_of(user_id).await?;
        candidates.push(user_id.to_owned());
        let found: Vec<bool> = redis::cmd("SMISMEMBER")
            .arg(file_convs_key(file_id))
            .arg(&candidates)
            .query_async(&mut conn)
            .await?;
        Ok(found.into_iter().any(|f| f))
    }

    async fn search(
        &self,
        _user_id: &str,
        _query: &str,
        _within: Option<Conversation<'_>>,
        _limit: u32,
    ) -> StoreResult<Result<Vec<Message>, SearchUnsupported>> {
        Ok(Err(SearchUnsupported))
    }
}
