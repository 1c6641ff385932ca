//! Identities in Redis: users, sessions and name sets, each node caching names until
//! `names_version` moves.

use std::collections::HashMap;

use async_trait::async_trait;

use super::{RedisStore, keys};
use crate::ids::hash_session_id;
use crate::store::{
    Account, Conversation, Identities, ListedUser, NameTaken, NewUser, Presence, Renamed,
    StoreResult, UserRecord,
};

/// What a node caches of a person: their name, and the directory's name for them.
#[derive(Debug, Clone, Default)]
pub(super) struct Names {
    pub(super) username: String,
    pub(super) display_name: Option<String>,
}

impl RedisStore {
    /// Every userID, in creation order.
    pub(super) async fn user_ids(&self) -> StoreResult<Vec<String>> {
        let mut conn = self.conn.clone();
        Ok(redis::cmd("ZRANGE")
            .arg(keys::USERS)
            .arg(0)
            .arg(-1)
            .query_async(&mut conn)
            .await?)
    }

    /// Drops the cached names if another node renamed or removed someone since.
    pub(super) async fn check_names_version(&self) -> StoreResult<()> {
        let mut conn = self.conn.clone();
        let version: Option<i64> = redis::cmd("GET")
            .arg(keys::NAMES_VERSION)
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

    pub(super) async fn bump_names_version(&self) -> StoreResult<()> {
        let mut conn = self.conn.clone();
        redis::cmd("INCR")
            .arg(keys::NAMES_VERSION)
            .query_async::<()>(&mut conn)
            .await?;
        self.check_names_version().await
    }

    pub(super) async fn username(&self, user_id: &str) -> StoreResult<Option<String>> {
        Ok(self.names_of(user_id).await?.map(|n| n.username))
    }

    pub(super) async fn names_of(&self, user_id: &str) -> StoreResult<Option<Names>> {
        if let Some(n) = self
            .names
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(user_id)
        {
            return Ok(Some(n.clone()));
        }
        let mut conn = self.conn.clone();
        let (name, display_name): (Option<String>, Option<String>) = redis::cmd("HMGET")
            .arg(keys::user(user_id))
            .arg("name")
            .arg("display_name")
            .query_async(&mut conn)
            .await?;
        let names = name.map(|username| Names {
            username,
            display_name,
        });
        if let Some(n) = &names {
            self.names
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .insert(user_id.to_owned(), n.clone());
        }
        Ok(names)
    }
}

#[async_trait]
impl Identities for RedisStore {
    async fn find_session(&self, session_id: &str) -> StoreResult<Option<UserRecord>> {
        let mut conn = self.conn.clone();
        let user_id: Option<String> = redis::cmd("GET")
            .arg(keys::session(&hash_session_id(session_id)))
            .query_async(&mut conn)
            .await?;
        let Some(user_id) = user_id else {
            return Ok(None);
        };
        let Some(names) = self.names_of(&user_id).await? else {
            return Ok(None);
        };
        let connected = self.is_connected(&user_id).await?;
        Ok(Some(UserRecord {
            user_id,
            username: names.username,
            display_name: names.display_name,
            connected,
        }))
    }

    async fn accounts_named(&self, username: &str) -> StoreResult<Vec<Account>> {
        let mut conn = self.conn.clone();
        let ids: Vec<String> = redis::cmd("SMEMBERS")
            .arg(keys::name(username))
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
        type Fields = (
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
        );
        let (name, password, directory, display_name): Fields = redis::cmd("HMGET")
            .arg(keys::user(user_id))
            .arg("name")
            .arg("password")
            .arg("directory")
            .arg("display_name")
            .query_async(&mut conn)
            .await?;
        Ok(name.map(|username| Account {
            user_id: user_id.to_owned(),
            username,
            password_hash: password,
            directory: directory.as_deref() == Some("1"),
            display_name,
        }))
    }

    async fn create_user(&self, user: NewUser) -> StoreResult<Result<UserRecord, NameTaken>> {
        let mut conn = self.conn.clone();
        let hash = hash_session_id(&user.session_id);
        let created: i64 = self
            .create_user
            .key(keys::name(&user.username))
            .key(keys::user(&user.user_id))
            .key(keys::USERS)
            .key(keys::session(&hash))
            .key(keys::user_sessions(&user.user_id))
            .key(keys::USER_SEQ)
            .arg(&user.user_id)
            .arg(&user.username)
            .arg(user.password_hash.as_deref().unwrap_or(""))
            .arg(&hash)
            .arg(if user.directory { "1" } else { "" })
            .arg(user.display_name.as_deref().unwrap_or(""))
            .invoke_async(&mut conn)
            .await?;
        if created == 0 {
            return Ok(Err(NameTaken));
        }
        let names = Names {
            username: user.username.clone(),
            display_name: user.display_name.clone(),
        };
        self.names
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(user.user_id.clone(), names);
        Ok(Ok(UserRecord {
            user_id: user.user_id,
            username: user.username,
            display_name: user.display_name,
            connected: false,
        }))
    }

    async fn add_session(&self, session_id: &str, user_id: &str) -> StoreResult<()> {
        let mut conn = self.conn.clone();
        let hash = hash_session_id(session_id);
        redis::pipe()
            .atomic()
            .set(keys::session(&hash), user_id)
            .sadd(keys::user_sessions(user_id), &hash)
            .query_async::<()>(&mut conn)
            .await?;
        Ok(())
    }

    async fn revoke_session(&self, session_id: &str) -> StoreResult<bool> {
        let mut conn = self.conn.clone();
        let hash = hash_session_id(session_id);
        let user_id: Option<String> = redis::cmd("GETDEL")
            .arg(keys::session(&hash))
            .query_async(&mut conn)
            .await?;
        if let Some(uid) = &user_id {
            redis::cmd("SREM")
                .arg(keys::user_sessions(uid))
                .arg(&hash)
                .query_async::<()>(&mut conn)
                .await?;
        }
        Ok(user_id.is_some())
    }

    async fn revoke_user_sessions(&self, user_id: &str) -> StoreResult<usize> {
        let mut conn = self.conn.clone();
        let hashes: Vec<String> = redis::cmd("SMEMBERS")
            .arg(keys::user_sessions(user_id))
            .query_async(&mut conn)
            .await?;
        let mut pipe = redis::pipe();
        pipe.atomic();
        for h in &hashes {
            pipe.del(keys::session(h));
        }
        pipe.del(keys::user_sessions(user_id));
        pipe.query_async::<()>(&mut conn).await?;
        Ok(hashes.len())
    }

    async fn session_counts(&self) -> StoreResult<HashMap<String, usize>> {
        let mut conn = self.conn.clone();
        let ids = self.user_ids().await?;
        let mut pipe = redis::pipe();
        for id in &ids {
            pipe.scard(keys::user_sessions(id));
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
                c.arg(keys::user(user_id)).arg("password").arg(h);
                c
            }
            None => {
                let mut c = redis::cmd("HDEL");
                c.arg(keys::user(user_id)).arg("password");
                c
            }
        };
        cmd.query_async::<()>(&mut conn).await?;
        Ok(())
    }

    async fn rename_user(&self, user_id: &str, username: &str) -> StoreResult<Renamed> {
        let Some(old) = self.account(user_id).await? else {
            return Ok(Ok(()));
        };
        let mut conn = self.conn.clone();
        let renamed: i64 = self
            .rename_user
            .key(keys::name(username))
            .key(keys::name(&old.username))
            .key(keys::user(user_id))
            .key(keys::NAMES_VERSION)
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
            pipe.del(keys::conversation(Conversation::Private(user_id, p)));
            pipe.srem(keys::peers(p), user_id);
            pipe.del(keys::inbox(user_id, p));
            pipe.del(keys::inbox(p, user_id));
            pipe.hdel(keys::read(p), user_id);
        }
        for g in self.group_ids_of(user_id).await? {
            pipe.zrem(keys::members(&g), user_id);
        }
        pipe.del(keys::peers(user_id))
            .del(keys::user_groups(user_id))
            .del(keys::read(user_id))
            .srem(keys::RECEIPTS_OFF, user_id)
            .hdel(keys::STATUSES, user_id)
            .srem(keys::name(&account.username), user_id)
            .zrem(keys::USERS, user_id)
            .del(keys::user(user_id));
        pipe.query_async::<()>(&mut conn).await?;
        // Its idempotency keys hold copies of what it sent.
        for keys in self.scan(&keys::clients_of(user_id)).await?.chunks(1000) {
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
                pipe.cmd("HMGET")
                    .arg(keys::user(id))
                    .arg("name")
                    .arg("display_name");
            }
            let fetched: Vec<(Option<String>, Option<String>)> =
                pipe.query_async(&mut conn).await?;
            let mut names = self.names.write().unwrap_or_else(|p| p.into_inner());
            for (id, (name, display_name)) in missing.into_iter().zip(fetched) {
                if let Some(username) = name {
                    names.insert(
                        id.clone(),
                        Names {
                            username,
                            display_name,
                        },
                    );
                }
            }
        }
        let online = self.online().await?;
        let mut statuses = self.statuses().await?;
        let names = self.names.read().unwrap_or_else(|p| p.into_inner());
        Ok(ids
            .into_iter()
            .filter_map(|id| {
                let n = names.get(&id)?;
                let connected = online.contains(&id);
                let status = statuses.remove(&id).unwrap_or_default();
                Some(ListedUser::new(
                    id.into(),
                    n.username.as_str().into(),
                    n.display_name.as_deref().map(Into::into),
                    connected,
                    status,
                ))
            })
            .collect())
    }

    async fn set_directory_identity(
        &self,
        user_id: &str,
        display_name: Option<&str>,
    ) -> StoreResult<()> {
        let mut conn = self.conn.clone();
        let key = keys::user(user_id);
        let mut pipe = redis::pipe();
        pipe.atomic()
            .hset(&key, "directory", "1")
            .hdel(&key, "password");
        match display_name {
            Some(name) => pipe.hset(&key, "display_name", name),
            None => pipe.hdel(&key, "display_name"),
        };
        pipe.query_async::<()>(&mut conn).await?;
        // Other nodes drop the name they cached.
        self.bump_names_version().await
    }

    async fn directory_accounts(&self) -> StoreResult<Vec<Account>> {
        let mut accounts = Vec::new();
        for id in self.user_ids().await? {
            if let Some(a) = self.account(&id).await?
                && a.directory
            {
                accounts.push(a);
            }
        }
        Ok(accounts)
    }
}
