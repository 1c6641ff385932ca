//! File records in the SQLite store, and who may download a file: the messages that carry it.

use async_trait::async_trait;
use natter_protocol::now_ms;
use rusqlite::{OptionalExtension, params};

use super::SqliteStore;
use crate::store::{FileRecord, Files, StoreError, StoreResult};

#[async_trait]
impl Files for SqliteStore {
    async fn insert_file(&self, file: FileRecord) -> StoreResult<()> {
        self.directory_write(move |conn| {
            let (i, sha256) = (&file.info.file, &file.info.sha256);
            conn.prepare_cached(
                "INSERT INTO files (file_id, uploader, name, size, media_type, sha256, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                i.file_id,
                file.uploader,
                i.name,
                i.size as i64,
                i.media_type,
                sha256,
                now_ms()
            ])
        })
        .await?;
        Ok(())
    }

    async fn file(&self, file_id: &str) -> StoreResult<Option<FileRecord>> {
        let id = file_id.to_owned();
        self.read(move |conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT file_id, uploader, name, size, media_type, sha256 FROM files \
                     WHERE file_id = ?1",
                )?
                .query_row(params![id], |r| {
                    Ok(FileRecord {
                        info: natter_protocol::FileInfo {
                            file: natter_protocol::Attachment {
                                file_id: r.get(0)?,
                                name: r.get(2)?,
                                size: r.get::<_, i64>(3)?.max(0) as u64,
                                media_type: r.get(4)?,
                            },
                            sha256: r.get(5)?,
                        },
                        uploader: r.get(1)?,
                    })
                })
                .optional()?)
        })
        .await
    }

    async fn file_sent_to(&self, file_id: &str, user_id: &str) -> StoreResult<bool> {
        let groups = serde_json::to_string(&self.directory().groups_of(user_id))
            .map_err(|e| StoreError::Commit(e.to_string()))?;
        let (fid, uid) = (file_id.to_owned(), user_id.to_owned());
        self.read(move |conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT 1 FROM messages WHERE attachment_id = ?1 \
                     AND (recipient = ?2 OR recipient IN (SELECT value FROM json_each(?3)))",
                )?
                .exists(params![fid, uid, groups])?)
        })
        .await
    }

    async fn uploaded_bytes(&self, user_id: &str) -> StoreResult<u64> {
        let uid = user_id.to_owned();
        self.read(move |conn| {
            let bytes: i64 = conn
                .prepare_cached("SELECT coalesce(sum(size), 0) FROM files WHERE uploader = ?1")?
                .query_row(params![uid], |r| r.get(0))?;
            Ok(bytes.max(0) as u64)
        })
        .await
    }

    async fn forget_files_of(&self, user_id: &str) -> StoreResult<Vec<String>> {
        let uid = user_id.to_owned();
        self.run(move |conn| {
            let unsent: Vec<String> = conn
                .prepare_cached(
                    "SELECT file_id FROM files WHERE uploader = ?1 AND NOT EXISTS \
                     (SELECT 1 FROM messages WHERE attachment_id = files.file_id)",
                )?
                .query_map(params![uid], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            let mut forget = conn.prepare_cached("DELETE FROM files WHERE file_id = ?1")?;
            for id in &unsent {
                forget.execute(params![id])?;
            }
            Ok(unsent)
        })
        .await
    }
}
