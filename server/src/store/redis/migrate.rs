//! Bringing data written by an older natter-server up to the current schema.

use super::{RedisStore, keys, parse};
use crate::store::StoreResult;

/// 2: name sets and per-user session sets exist. 3: inbox sets exist. 4: every message is found
/// by id (`msgconv`), and every file by the messages carrying it. 5: each user's uploads are
/// listed (`user:<id>:files`).
const SCHEMA: i64 = 5;

impl RedisStore {
    /// Brings data written by an older natter-server up to [`SCHEMA`]: name sets for existing
    /// users, per-user session sets for existing sessions. Idempotent; nodes may race on it.
    pub async fn migrate(&self) -> StoreResult<()> {
        let mut conn = self.conn.clone();
        let version: Option<i64> = redis::cmd("GET")
            .arg(keys::SCHEMA)
            .query_async(&mut conn)
            .await?;
        if version.unwrap_or(0) >= SCHEMA {
            return Ok(());
        }
        let ids = self.user_ids().await?;
        for id in &ids {
            let name: Option<String> = redis::cmd("HGET")
                .arg(keys::user(id))
                .arg("name")
                .query_async(&mut conn)
                .await?;
            if let Some(name) = name {
                redis::cmd("SADD")
                    .arg(keys::name(&name))
                    .arg(id)
                    .query_async::<()>(&mut conn)
                    .await?;
            }
        }
        for key in self.scan(keys::ALL_SESSIONS).await? {
            let uid: Option<String> = redis::cmd("GET").arg(&key).query_async(&mut conn).await?;
            if let (Some(uid), Some(hash)) = (uid, keys::session_hash(&key)) {
                redis::cmd("SADD")
                    .arg(keys::user_sessions(&uid))
                    .arg(hash)
                    .query_async::<()>(&mut conn)
                    .await?;
            }
        }
        // Inbox sets (for unread counts) of the messages stored before them; where each message
        // is (to change it by id) and which messages carry each file.
        for key in self.scan(keys::ALL_CONVERSATIONS).await? {
            let stored: Vec<String> = redis::cmd("ZRANGE")
                .arg(&key)
                .arg(0)
                .arg(-1)
                .query_async(&mut conn)
                .await?;
            let mut pipe = redis::pipe();
            for json in &stored {
                let m = parse(json)?;
                pipe.zadd(keys::inbox(&m.to, &m.from), m.id, m.id).ignore();
                pipe.hset(keys::MSG_CONVERSATIONS, m.id, &key).ignore();
                if let Some(a) = &m.attachment {
                    pipe.sadd(keys::file_messages(&a.file_id), m.id).ignore();
                }
            }
            pipe.query_async::<()>(&mut conn).await?;
        }
        for key in self.scan(keys::ALL_FILES).await? {
            let Some(file_id) = keys::file_id_of(&key) else {
                continue;
            };
            let uploader: Option<String> = redis::cmd("HGET")
                .arg(&key)
                .arg("uploader")
                .query_async(&mut conn)
                .await?;
            if let Some(uploader) = uploader {
                redis::cmd("SADD")
                    .arg(keys::user_files(&uploader))
                    .arg(file_id)
                    .query_async::<()>(&mut conn)
                    .await?;
            }
        }
        redis::cmd("SET")
            .arg(keys::SCHEMA)
            .arg(SCHEMA)
            .query_async::<()>(&mut conn)
            .await?;
        tracing::info!(users = ids.len(), "redis data upgraded to schema {SCHEMA}");
        Ok(())
    }
}
