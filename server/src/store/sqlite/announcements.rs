//! Announcements in the SQLite store: the `announcements` table.

use async_trait::async_trait;
use natter_protocol::{Announcement, now_ms};
use rusqlite::params;

use super::SqliteStore;
use crate::store::{AnnouncementRecord, Announcements, StoreResult};

fn record(r: &rusqlite::Row<'_>) -> rusqlite::Result<AnnouncementRecord> {
    Ok(AnnouncementRecord {
        announcement: Announcement {
            id: r.get::<_, i64>(0)?.max(0) as u64,
            text: r.get(1)?,
            ts: r.get(2)?,
            until: r.get(3)?,
        },
        withdrawn: r.get(4)?,
    })
}

#[async_trait]
impl Announcements for SqliteStore {
    async fn announce(&self, text: &str, until: Option<i64>) -> StoreResult<Announcement> {
        let text = text.to_owned();
        self.run(move |conn| {
            let ts = now_ms();
            conn.prepare_cached(
                "INSERT INTO announcements (text, ts, until_ts) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![text, ts, until])?;
            Ok(Announcement {
                id: conn.last_insert_rowid().max(0) as u64,
                text: text.clone(),
                ts,
                until,
            })
        })
        .await
    }

    async fn standing_announcements(&self, now_ms: i64) -> StoreResult<Vec<Announcement>> {
        self.read(move |conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT id, text, ts, until_ts, withdrawn FROM announcements \
                     WHERE withdrawn = 0 AND (until_ts IS NULL OR until_ts > ?1) ORDER BY id",
                )?
                .query_map(params![now_ms], record)?
                .map(|r| r.map(|a| a.announcement))
                .collect::<rusqlite::Result<_>>()?)
        })
        .await
    }

    async fn all_announcements(&self) -> StoreResult<Vec<AnnouncementRecord>> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT id, text, ts, until_ts, withdrawn FROM announcements ORDER BY id",
                )?
                .query_map([], record)?
                .collect::<rusqlite::Result<_>>()?)
        })
        .await
    }

    async fn withdraw_announcement(&self, id: u64) -> StoreResult<bool> {
        let n = self
            .directory_write(move |conn| {
                conn.prepare_cached(
                    "UPDATE announcements SET withdrawn = 1 WHERE id = ?1 AND withdrawn = 0",
                )?
                .execute(params![id as i64])
            })
            .await?;
        Ok(n > 0)
    }
}
