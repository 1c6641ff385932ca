//! Groups in Redis: a hash and a member sorted set each, a sorted set of groups per user;
//! their messages in `conv:<g>:<g>`.

use std::collections::HashMap;

use async_trait::async_trait;

use super::{RedisStore, keys, parse};
use crate::store::{
    Conversation, GroupRecord, Groups, MAX_UNREAD_COUNTED, RecentGroup, StoreError, StoreResult,
};

impl RedisStore {
    /// The groups `user_id` is a member of, oldest first.
    pub(super) async fn group_ids_of(&self, user_id: &str) -> StoreResult<Vec<String>> {
        let mut conn = self.conn.clone();
        Ok(redis::cmd("ZRANGE")
            .arg(keys::user_groups(user_id))
            .arg(0)
            .arg(-1)
            .query_async(&mut conn)
            .await?)
    }
}

#[async_trait]
impl Groups for RedisStore {
    async fn create_group(&self, group: GroupRecord) -> StoreResult<()> {
        let mut conn = self.conn.clone();
        redis::cmd("HSET")
            .arg(keys::group(&group.group_id))
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
            .hgetall(keys::group(group_id))
            .zrange(keys::members(group_id), 0, -1)
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
            .arg(keys::group(group_id))
            .query_async(&mut conn)
            .await?;
        if !exists {
            return Ok(None);
        }
        for m in members {
            let seq: i64 = redis::cmd("INCR")
                .arg(keys::MEMBER_SEQ)
                .query_async(&mut conn)
                .await?;
            // NX: a member already in keeps their place.
            redis::pipe()
                .cmd("ZADD")
                .arg(keys::members(group_id))
                .arg("NX")
                .arg(seq)
                .arg(m)
                .ignore()
                .cmd("ZADD")
                .arg(keys::user_groups(m))
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
            .zrem(keys::members(group_id), user_id)
            .ignore()
            .zrem(keys::user_groups(user_id), group_id)
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
    ) -> StoreResult<Vec<RecentGroup>> {
        if group_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.conn.clone();
        let mine: HashMap<String, u64> = redis::cmd("HGETALL")
            .arg(keys::read(user_id))
            .query_async(&mut conn)
            .await?;
        let mut pipe = redis::pipe();
        for g in group_ids {
            let after = format!("({}", mine.get(g).copied().unwrap_or(0));
            let key = keys::conversation(Conversation::Group(g));
            pipe.cmd("ZREVRANGE")
                .arg(&key)
                .arg(0)
                .arg(per_group.saturating_sub(1) as i64);
            pipe.cmd("ZCOUNT").arg(&key).arg(&after).arg("+inf");
            for counted in [
                keys::group_sent(g, user_id),
                keys::group_deleted(g),
                keys::mentions(g, user_id),
            ] {
                pipe.cmd("ZCOUNT").arg(counted).arg(&after).arg("+inf");
            }
        }
        let answers: Vec<redis::Value> = pipe.query_async(&mut conn).await?;
        let mut answers = answers.into_iter();
        let mut out = Vec::with_capacity(group_ids.len());
        for g in group_ids {
            let (Some(page), Some(all), Some(own), Some(deleted), Some(mentions)) = (
                answers.next(),
                answers.next(),
                answers.next(),
                answers.next(),
                answers.next(),
            ) else {
                return Err(StoreError::Redis("short pipeline answer".into()));
            };
            let page: Vec<String> = redis::from_redis_value(page)?;
            let all: u64 = redis::from_redis_value(all)?;
            let own: u64 = redis::from_redis_value(own)?;
            // Deleted ones are counted once: one's own leave `gsent` when deleted.
            let deleted: u64 = redis::from_redis_value(deleted)?;
            let mentions: u64 = redis::from_redis_value(mentions)?;
            let mut messages = page
                .iter()
                .map(|j| parse(j))
                .collect::<StoreResult<Vec<_>>>()?;
            messages.reverse();
            out.push(RecentGroup {
                group_id: g.clone(),
                messages,
                unread: all
                    .saturating_sub(own)
                    .saturating_sub(deleted)
                    .min(MAX_UNREAD_COUNTED),
                mentions: mentions.min(MAX_UNREAD_COUNTED),
            });
        }
        Ok(out)
    }
}
