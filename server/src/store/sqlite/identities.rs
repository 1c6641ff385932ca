//! Identities in the SQLite store: rows in `users` and `sessions`, served from the directory.

use std::collections::HashMap;

use async_trait::async_trait;
use natter_protocol::now_ms;
use rusqlite::params;

use super::SqliteStore;
use super::directory::{DirectoryEntry, LoadedUser};
use crate::accounts::name_key;
use crate::ids::hash_session_id;
use crate::store::{
    Account, Identities, ListedUser, NameTaken, NewUser, Renamed, StoreResult, UserRecord,
};

#[async_trait]
impl Identities for SqliteStore {
    async fn find_session(&self, session_id: &str) -> StoreResult<Option<UserRecord>> {
        let hash = hash_session_id(session_id);
        let dir = self.directory();
        Ok(dir
            .by_session
            .get(&hash)
            .and_then(|uid| dir.entry(uid))
            .map(DirectoryEntry::record))
    }

    async fn accounts_named(&self, username: &str) -> StoreResult<Vec<Account>> {
        let dir = self.directory();
        Ok(dir
            .by_name
            .get(&name_key(username))
            .into_iter()
            .flatten()
            .filter_map(|uid| dir.entry(uid).map(DirectoryEntry::account))
            .collect())
    }

    async fn account(&self, user_id: &str) -> StoreResult<Option<Account>> {
        Ok(self.directory().entry(user_id).map(DirectoryEntry::account))
    }

    async fn create_user(&self, user: NewUser) -> StoreResult<Result<UserRecord, NameTaken>> {
        let key = name_key(&user.username);
        {
            let mut dir = self.directory_mut();
            if !dir.name_free(&key) {
                return Ok(Err(NameTaken));
            }
            dir.reserved.insert(key.clone());
        }
        let session_hash = hash_session_id(&user.session_id);
        let (uid, name, hash, pw, directory, display) = (
            user.user_id.clone(),
            user.username.clone(),
            session_hash.clone(),
            user.password_hash.clone(),
            user.directory,
            user.display_name.clone(),
        );
        let written = self
            .directory_write(move |conn| {
                let now = now_ms();
                conn.prepare_cached(
                    "INSERT INTO users (user_id, username, password_hash, created_at, directory, \
                     display_name) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?
                .execute(params![uid, name, pw, now, directory, display])?;
                conn.prepare_cached(
                    "INSERT INTO sessions (session_hash, user_id, created_at) VALUES (?1, ?2, ?3)",
                )?
                .execute(params![hash, uid, now])
            })
            .await;
        let mut dir = self.directory_mut();
        dir.reserved.remove(&key);
        written?;
        dir.add(LoadedUser {
            user_id: user.user_id.clone(),
            username: user.username.clone(),
            password_hash: user.password_hash,
            status: Default::default(),
            directory: user.directory,
            display_name: user.display_name.clone(),
        });
        dir.by_session.insert(session_hash, user.user_id.clone());
        Ok(Ok(UserRecord {
            user_id: user.user_id,
            username: user.username,
            display_name: user.display_name,
            connected: false,
        }))
    }

    async fn add_session(&self, session_id: &str, user_id: &str) -> StoreResult<()> {
        let hash = hash_session_id(session_id);
        let (h, uid) = (hash.clone(), user_id.to_owned());
        self.directory_write(move |conn| {
            conn.prepare_cached(
                "INSERT INTO sessions (session_hash, user_id, created_at) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![h, uid, now_ms()])
        })
        .await?;
        self.directory_mut()
            .by_session
            .insert(hash, user_id.to_owned());
        Ok(())
    }

    async fn revoke_session(&self, session_id: &str) -> StoreResult<bool> {
        let hash = hash_session_id(session_id);
        // Refused from now on, even before the delete is committed.
        let known = self.directory_mut().by_session.remove(&hash).is_some();
        let n = self
            .directory_write(move |conn| {
                conn.prepare_cached("DELETE FROM sessions WHERE session_hash = ?1")?
                    .execute(params![hash])
            })
            .await?;
        Ok(known || n > 0)
    }

    async fn revoke_user_sessions(&self, user_id: &str) -> StoreResult<usize> {
        self.directory_mut()
            .by_session
            .retain(|_, uid| uid != user_id);
        let uid = user_id.to_owned();
        self.directory_write(move |conn| {
            conn.prepare_cached("DELETE FROM sessions WHERE user_id = ?1")?
                .execute(params![uid])
        })
        .await
    }

    async fn session_counts(&self) -> StoreResult<HashMap<String, usize>> {
        let mut counts = HashMap::new();
        for uid in self.directory().by_session.values() {
            *counts.entry(uid.clone()).or_insert(0) += 1;
        }
        Ok(counts)
    }

    async fn set_password(&self, user_id: &str, password_hash: Option<String>) -> StoreResult<()> {
        let (uid, pw) = (user_id.to_owned(), password_hash.clone());
        self.directory_write(move |conn| {
            conn.prepare_cached("UPDATE users SET password_hash = ?2 WHERE user_id = ?1")?
                .execute(params![uid, pw])
        })
        .await?;
        if let Some(e) = self.directory_mut().entry_mut(user_id) {
            e.password_hash = password_hash;
        }
        Ok(())
    }

    async fn rename_user(&self, user_id: &str, username: &str) -> StoreResult<Renamed> {
        let key = name_key(username);
        {
            let mut dir = self.directory_mut();
            let holders = dir.by_name.get(&key);
            // Renaming to another spelling of one's own name is fine.
            if dir.reserved.contains(&key)
                || holders.is_some_and(|ids| ids.iter().any(|id| id != user_id))
            {
                return Ok(Err(NameTaken));
            }
            dir.reserved.insert(key.clone());
        }
        let (uid, name) = (user_id.to_owned(), username.to_owned());
        let written = self
            .directory_write(move |conn| {
                conn.prepare_cached("UPDATE users SET username = ?2 WHERE user_id = ?1")?
                    .execute(params![uid, name])
            })
            .await;
        let mut dir = self.directory_mut();
        dir.reserved.remove(&key);
        written?;
        if let Some(old) = dir.entry(user_id).map(|e| e.username().to_owned()) {
            dir.forget_name(user_id, &old);
            dir.by_name.entry(key).or_default().push(user_id.to_owned());
            if let Some(e) = dir.entry_mut(user_id) {
                let connected = e.listed.connected;
                e.relist(Some(username), connected);
            }
        }
        Ok(Ok(()))
    }

    async fn remove_user(&self, user_id: &str) -> StoreResult<bool> {
        if !self.directory().by_user.contains_key(user_id) {
            return Ok(false);
        }
        let uid = user_id.to_owned();
        self.directory_write(move |conn| {
            conn.prepare_cached("DELETE FROM sessions WHERE user_id = ?1")?
                .execute(params![uid])?;
            conn.prepare_cached(
                "DELETE FROM mentions WHERE user_id = ?1 \
                 OR message_id IN (SELECT id FROM messages WHERE sender = ?1)",
            )?
            .execute(params![uid])?;
            conn.prepare_cached("DELETE FROM messages WHERE sender = ?1 OR recipient = ?1")?
                .execute(params![uid])?;
            conn.prepare_cached("DELETE FROM read_markers WHERE reader = ?1 OR peer = ?1")?
                .execute(params![uid])?;
            conn.prepare_cached("DELETE FROM group_members WHERE user_id = ?1")?
                .execute(params![uid])?;
            conn.prepare_cached("DELETE FROM users WHERE user_id = ?1")?
                .execute(params![uid])
        })
        .await?;
        self.directory_mut().remove(user_id);
        Ok(true)
    }

    async fn user_exists(&self, user_id: &str) -> StoreResult<bool> {
        Ok(self.directory().by_user.contains_key(user_id))
    }

    async fn users(&self) -> StoreResult<Vec<ListedUser>> {
        Ok(self
            .directory()
            .entries
            .iter()
            .map(DirectoryEntry::listed)
            .collect())
    }

    async fn set_directory_identity(
        &self,
        user_id: &str,
        display_name: Option<&str>,
    ) -> StoreResult<()> {
        let (uid, name) = (user_id.to_owned(), display_name.map(str::to_owned));
        self.directory_write(move |conn| {
            conn.prepare_cached(
                "UPDATE users SET directory = 1, password_hash = NULL, display_name = ?2 \
                 WHERE user_id = ?1",
            )?
            .execute(params![uid, name])
        })
        .await?;
        if let Some(e) = self.directory_mut().entry_mut(user_id) {
            e.make_directory(display_name);
        }
        Ok(())
    }

    async fn directory_accounts(&self) -> StoreResult<Vec<Account>> {
        Ok(self
            .directory()
            .entries
            .iter()
            .filter(|e| e.directory)
            .map(DirectoryEntry::account)
            .collect())
    }
}
