//! Groups in the SQLite store: `groups` and `group_members`, kept in the directory; a
//! group's messages are rows of `messages` with both conversation columns set to the groupID.

use async_trait::async_trait;
use natter_protocol::now_ms;
use rusqlite::params;

use super::SqliteStore;
use super::conversation_index::Sender;
use super::rows::ConversationColumns;
use crate::store::{
    Conversation, GroupRecord, Groups, MAX_UNREAD_COUNTED, RecentGroup, StoreResult,
};

#[async_trait]
impl Groups for SqliteStore {
    async fn create_group(&self, group: GroupRecord) -> StoreResult<()> {
        let g = group.clone();
        self.directory_write(move |conn| {
            let now = now_ms();
            conn.prepare_cached(
                "INSERT INTO groups (group_id, name, created_by, created_at) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![g.group_id, g.name, g.created_by, now])?;
            let mut add = conn.prepare_cached(
                "INSERT INTO group_members (group_id, user_id, seq) VALUES (?1, ?2, ?3)",
            )?;
            for (i, m) in g.members.iter().enumerate() {
                add.execute(params![g.group_id, m, i as i64])?;
            }
            Ok(g.members.len())
        })
        .await?;
        let mut dir = self.directory_mut();
        let members = group.members.clone();
        dir.groups.insert(
            group.group_id.clone(),
            GroupRecord {
                members: Vec::new(),
                ..group.clone()
            },
        );
        for m in &members {
            dir.join_group(&group.group_id, m);
        }
        Ok(())
    }

    async fn group(&self, group_id: &str) -> StoreResult<Option<GroupRecord>> {
        Ok(self.directory().groups.get(group_id).cloned())
    }

    async fn add_members(
        &self,
        group_id: &str,
        members: &[String],
    ) -> StoreResult<Option<GroupRecord>> {
        let new: Vec<String> = match self.directory().groups.get(group_id) {
            None => return Ok(None),
            Some(g) => members
                .iter()
                .filter(|m| !g.has_member(m))
                .cloned()
                .collect(),
        };
        let gid = group_id.to_owned();
        self.directory_write(move |conn| {
            let mut add = conn.prepare_cached(
                "INSERT OR IGNORE INTO group_members (group_id, user_id, seq) VALUES \
                 (?1, ?2, (SELECT coalesce(max(seq), 0) + 1 FROM group_members WHERE group_id = ?1))",
            )?;
            let mut n = 0;
            for m in &new {
                n += add.execute(params![gid, m])?;
            }
            Ok(n)
        })
        .await?;
        let mut dir = self.directory_mut();
        for m in members {
            dir.join_group(group_id, m);
        }
        Ok(dir.groups.get(group_id).cloned())
    }

    async fn remove_member(
        &self,
        group_id: &str,
        user_id: &str,
    ) -> StoreResult<Option<GroupRecord>> {
        if !self.directory().groups.contains_key(group_id) {
            return Ok(None);
        }
        let (gid, uid) = (group_id.to_owned(), user_id.to_owned());
        self.directory_write(move |conn| {
            conn.prepare_cached("DELETE FROM group_members WHERE group_id = ?1 AND user_id = ?2")?
                .execute(params![gid, uid])
        })
        .await?;
        let mut dir = self.directory_mut();
        dir.leave_group(group_id, user_id);
        Ok(dir.groups.get(group_id).cloned())
    }

    async fn groups_of(&self, user_id: &str) -> StoreResult<Vec<GroupRecord>> {
        let dir = self.directory();
        Ok(dir
            .groups_of(user_id)
            .iter()
            .filter_map(|g| dir.groups.get(g).cloned())
            .collect())
    }

    async fn recent_in_groups(
        &self,
        user_id: &str,
        group_ids: &[String],
        per_group: u32,
    ) -> StoreResult<Vec<RecentGroup>> {
        let wanted: Vec<(String, u64)> = {
            let dir = self.directory();
            group_ids
                .iter()
                .map(|g| (g.clone(), dir.read_marker(user_id, g)))
                .collect()
        };
        let user_id = user_id.to_owned();
        let conversations: Vec<ConversationColumns> = wanted
            .iter()
            .map(|(g, _)| ConversationColumns::of(Conversation::Group(g)))
            .collect();
        self.read_conversations(conversations.clone(), move |reader| {
            let mut mentions = reader.conn().prepare_cached(
                "SELECT count(*) FROM (SELECT 1 FROM mentions \
                 WHERE user_id = ?1 AND group_id = ?2 AND message_id > ?3 LIMIT ?4)",
            )?;
            let mut out = Vec::with_capacity(wanted.len());
            for ((g, marker), c) in wanted.into_iter().zip(&conversations) {
                let messages = reader.newest(c, i64::MAX, per_group as usize)?;
                let after = i64::try_from(marker).unwrap_or(i64::MAX);
                let unread = reader.count_after(
                    c,
                    after,
                    Sender::IsNot(&user_id),
                    MAX_UNREAD_COUNTED as i64,
                )?;
                let mentioned: i64 = mentions
                    .query_row(params![user_id, g, after, MAX_UNREAD_COUNTED as i64], |r| {
                        r.get(0)
                    })?;
                out.push(RecentGroup {
                    group_id: g,
                    messages,
                    unread: unread.max(0) as u64,
                    mentions: mentioned.max(0) as u64,
                });
            }
            Ok(out)
        })
        .await
    }
}
