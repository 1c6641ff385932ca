//! Announcements in Redis: one hash of id → JSON, and the withdrawn ids.

use async_trait::async_trait;
use natter_protocol::{Announcement, now_ms};

use super::{RedisStore, keys};
use crate::store::{AnnouncementRecord, Announcements, StoreError, StoreResult};

impl RedisStore {
    async fn announcement_records(&self) -> StoreResult<Vec<AnnouncementRecord>> {
        let mut conn = self.conn.clone();
        let all: Vec<(u64, String)> = redis::cmd("HGETALL")
            .arg(keys::ANNOUNCEMENTS)
            .query_async(&mut conn)
            .await?;
        let withdrawn: Vec<u64> = redis::cmd("SMEMBERS")
            .arg(keys::ANNOUNCEMENTS_WITHDRAWN)
            .query_async(&mut conn)
            .await?;
        let mut records = all
            .into_iter()
            .map(|(id, json)| {
                let announcement: Announcement = serde_json::from_str(&json)
                    .map_err(|e| StoreError::Redis(format!("announcement {id}: {e}")))?;
                Ok(AnnouncementRecord {
                    withdrawn: withdrawn.contains(&id),
                    announcement,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        records.sort_by_key(|r| r.announcement.id);
        Ok(records)
    }
}

#[async_trait]
impl Announcements for RedisStore {
    async fn announce(&self, text: &str, until: Option<i64>) -> StoreResult<Announcement> {
        let mut conn = self.conn.clone();
        let id: u64 = redis::cmd("INCR")
            .arg(keys::ANNOUNCEMENT_SEQ)
            .query_async(&mut conn)
            .await?;
        let announcement = Announcement {
            id,
            text: text.to_owned(),
            ts: now_ms(),
            until,
        };
        let json =
            serde_json::to_string(&announcement).map_err(|e| StoreError::Redis(e.to_string()))?;
        redis::cmd("HSET")
            .arg(keys::ANNOUNCEMENTS)
            .arg(id)
            .arg(json)
            .query_async::<()>(&mut conn)
            .await?;
        Ok(announcement)
    }

    async fn standing_announcements(&self, now_ms: i64) -> StoreResult<Vec<Announcement>> {
        Ok(self
            .announcement_records()
            .await?
            .into_iter()
            .filter(|r| !r.withdrawn && r.announcement.active_at(now_ms))
            .map(|r| r.announcement)
            .collect())
    }

    async fn all_announcements(&self) -> StoreResult<Vec<AnnouncementRecord>> {
        self.announcement_records().await
    }

    async fn withdraw_announcement(&self, id: u64) -> StoreResult<bool> {
        let mut conn = self.conn.clone();
        let exists: bool = redis::cmd("HEXISTS")
            .arg(keys::ANNOUNCEMENTS)
            .arg(id)
            .query_async(&mut conn)
            .await?;
        if !exists {
            return Ok(false);
        }
        let added: u64 = redis::cmd("SADD")
            .arg(keys::ANNOUNCEMENTS_WITHDRAWN)
            .arg(id)
            .query_async(&mut conn)
            .await?;
        Ok(added == 1)
    }
}
