//! File records in Redis, and the conversations each file was sent to.

use std::collections::HashMap;

use async_trait::async_trait;

use super::{RedisStore, keys};
use crate::store::{FileRecord, Files, StoreError, StoreResult};

#[async_trait]
impl Files for RedisStore {
    async fn insert_file(&self, file: FileRecord) -> StoreResult<()> {
        let mut conn = self.conn.clone();
        let i = &file.info.file;
        redis::cmd("SADD")
            .arg(keys::user_files(&file.uploader))
            .arg(&i.file_id)
            .query_async::<()>(&mut conn)
            .await?;
        redis::cmd("HSET")
            .arg(keys::file(&i.file_id))
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
            .arg(keys::file(file_id))
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
            .arg(keys::file_conversations(file_id))
            .arg(&candidates)
            .query_async(&mut conn)
            .await?;
        Ok(found.into_iter().any(|f| f))
    }

    async fn uploaded_bytes(&self, user_id: &str) -> StoreResult<u64> {
        let mut conn = self.conn.clone();
        let ids: Vec<String> = redis::cmd("SMEMBERS")
            .arg(keys::user_files(user_id))
            .query_async(&mut conn)
            .await?;
        if ids.is_empty() {
            return Ok(0);
        }
        let mut pipe = redis::pipe();
        for id in &ids {
            pipe.hget(keys::file(id), "size");
        }
        let sizes: Vec<Option<u64>> = pipe.query_async(&mut conn).await?;
        Ok(sizes.into_iter().flatten().sum())
    }

    async fn forget_files_of(&self, user_id: &str) -> StoreResult<Vec<String>> {
        let mut conn = self.conn.clone();
        let ids: Vec<String> = redis::cmd("SMEMBERS")
            .arg(keys::user_files(user_id))
            .query_async(&mut conn)
            .await?;
        let mut pipe = redis::pipe();
        pipe.atomic();
        for id in &ids {
            pipe.del(keys::file(id))
                .del(keys::file_conversations(id))
                .del(keys::file_messages(id));
        }
        pipe.del(keys::user_files(user_id));
        pipe.query_async::<()>(&mut conn).await?;
        Ok(ids)
    }
}
