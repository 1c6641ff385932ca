//! Read markers and receipts in the SQLite store: the `read_markers` table, kept in the
//! directory; unread counts read from the conversation index.

use std::collections::HashMap;

use async_trait::async_trait;
use rusqlite::params;

use super::SqliteStore;
use super::conversation_index::Sender;
use super::rows::ConversationColumns;
use crate::store::{
    Awareness, Conversation, MAX_UNREAD_COUNTED, Marked, NotInConversation, ReadState, StoreResult,
};

#[async_trait]
impl Awareness for SqliteStore {
    async fn mark_read(&self, reader: &str, peer: &str, up_to: u64) -> StoreResult<Marked> {
        let ConversationColumns { lo, hi } =
            ConversationColumns::of(Conversation::between(reader, peer));
        let Ok(id) = i64::try_from(up_to) else {
            return Ok(Err(NotInConversation));
        };
        let found = self
            .read(move |conn| {
                Ok(conn
                    .prepare_cached(
                        "SELECT 1 FROM messages WHERE id = ?1 AND user_lo = ?2 AND user_hi = ?3",
                    )?
                    .exists(params![id, lo, hi])?)
            })
            .await?;
        if !found {
            return Ok(Err(NotInConversation));
        }
        if self.directory().read_marker(reader, peer) >= up_to {
            return Ok(Ok(None));
        }
        let (r, p) = (reader.to_owned(), peer.to_owned());
        self.directory_write(move |conn| {
            conn.prepare_cached(
                "INSERT INTO read_markers (reader, peer, up_to) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (reader, peer) DO UPDATE SET up_to = max(up_to, excluded.up_to)",
            )?
            .execute(params![r, p, id])
        })
        .await?;
        // Two reads racing: the higher one wins, here as in the table.
        let mut dir = self.directory_mut();
        let marker = dir
            .read_markers
            .entry(reader.to_owned())
            .or_default()
            .entry(peer.to_owned())
            .or_default();
        if *marker >= up_to {
            return Ok(Ok(None));
        }
        *marker = up_to;
        Ok(Ok(Some(up_to)))
    }

    async fn read_states(&self, user_id: &str) -> StoreResult<HashMap<String, ReadState>> {
        let mine: Vec<(String, u64, u64)> = {
            let dir = self.directory();
            let Some(peers) = dir.peers.get(user_id) else {
                return Ok(HashMap::new());
            };
            peers
                .iter()
                .map(|p| {
                    let theirs = if dir.receipts_off.contains(&**p) {
                        0
                    } else {
                        dir.read_marker(p, user_id)
                    };
                    (p.to_string(), dir.read_marker(user_id, p), theirs)
                })
                .collect()
        };
        let user_id = user_id.to_owned();
        let conversations: Vec<ConversationColumns> = mine
            .iter()
            .map(|(peer, ..)| ConversationColumns::of(Conversation::Private(&user_id, peer)))
            .collect();
        self.read_conversations(conversations.clone(), move |reader| {
            let mut out = HashMap::with_capacity(mine.len());
            for ((peer, my_marker, read_up_to), c) in mine.into_iter().zip(&conversations) {
                let after = i64::try_from(my_marker).unwrap_or(i64::MAX);
                let unread =
                    reader.count_after(c, after, Sender::Is(&peer), MAX_UNREAD_COUNTED as i64)?;
                out.insert(
                    peer,
                    ReadState {
                        unread: unread.max(0) as u64,
                        read_up_to,
                    },
                );
            }
            Ok(out)
        })
        .await
    }

    async fn set_receipts(&self, user_id: &str, send: bool) -> StoreResult<()> {
        let uid = user_id.to_owned();
        self.directory_write(move |conn| {
            conn.prepare_cached("UPDATE users SET receipts = ?2 WHERE user_id = ?1")?
                .execute(params![uid, send])
        })
        .await?;
        let mut dir = self.directory_mut();
        if send {
            dir.receipts_off.remove(user_id);
        } else {
            dir.receipts_off.insert(user_id.to_owned());
        }
        Ok(())
    }

    async fn sends_receipts(&self, user_id: &str) -> StoreResult<bool> {
        Ok(!self.directory().receipts_off.contains(user_id))
    }
}
