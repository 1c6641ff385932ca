//! Messages in the SQLite store: inserted by the writer, read by conversation index.

use std::sync::Arc;

use async_trait::async_trait;
use natter_protocol::Message;
use rusqlite::params;

use super::SqliteStore;
use std::sync::atomic::Ordering;

use super::rows::{self, ConversationColumns, MESSAGE_COLUMNS, message_from_row};
use super::search;
use super::writer::WriteOp;
use crate::store::{
    Conversation, Found, Inserted, Messages, NewMessage, SearchRequest, StoreResult,
};

#[async_trait]
impl Messages for SqliteStore {
    async fn insert_message(&self, message: NewMessage) -> StoreResult<Inserted> {
        let inserted = self
            .write(|reply| WriteOp::InsertMessage { message, reply })
            .await??;
        // Before the message is delivered: a login that misses the new conversation here has
        // already joined its room and receives the message as an event.
        if let Inserted::New(m) = &inserted
            && !natter_protocol::is_group_id(&m.to)
            && !self.directory().has_conversation(&m.from, &m.to)
        {
            self.directory_mut().add_conversation(&m.from, &m.to);
        }
        Ok(inserted)
    }

    async fn recent_conversations(
        &self,
        user_id: &str,
        per_peer: u32,
    ) -> StoreResult<Vec<(String, Vec<Message>)>> {
        let user_id = user_id.to_owned();
        let peers: Vec<Arc<str>> = match self.directory().peers.get(user_id.as_str()) {
            Some(peers) => peers.iter().cloned().collect(),
            None => return Ok(Vec::new()),
        };
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages \
                 WHERE user_lo = ?1 AND user_hi = ?2 ORDER BY id DESC LIMIT ?3"
            ))?;
            let mut out = Vec::with_capacity(peers.len());
            for peer in peers {
                let (lo, hi) = rows::sorted(&user_id, &peer);
                let mut messages: Vec<Message> = stmt
                    .query_map(params![lo, hi, per_peer], message_from_row)?
                    .collect::<Result<_, _>>()?;
                messages.reverse();
                out.push((peer.to_string(), messages));
            }
            Ok(out)
        })
        .await
    }

    async fn page(
        &self,
        conversation: Conversation<'_>,
        before: Option<u64>,
        limit: u32,
    ) -> StoreResult<(Vec<Message>, bool)> {
        let ConversationColumns { lo, hi } = ConversationColumns::of(conversation);
        let before = before.map_or(i64::MAX, |b| b.min(i64::MAX as u64) as i64);
        self.read(move |conn| {
            let mut messages: Vec<Message> = conn
                .prepare_cached(&format!(
                    "SELECT {MESSAGE_COLUMNS} FROM messages \
                     WHERE user_lo = ?1 AND user_hi = ?2 AND id < ?3 ORDER BY id DESC LIMIT ?4"
                ))?
                .query_map(params![lo, hi, before, limit as i64 + 1], message_from_row)?
                .collect::<Result<_, _>>()?;
            let has_more = messages.len() > limit as usize;
            messages.truncate(limit as usize);
            messages.reverse();
            Ok((messages, has_more))
        })
        .await
    }

    async fn search(&self, search: SearchRequest<'_>) -> StoreResult<Found> {
        let SearchRequest {
            user_id,
            text: query,
            within,
            limit,
        } = search;
        let conversations: Vec<ConversationColumns> = match within {
            Some(c) => vec![ConversationColumns::of(c)],
            None => {
                let dir = self.directory();
                let peers = dir.peers.get(user_id).into_iter().flatten();
                peers
                    .map(|p| ConversationColumns::of(Conversation::Private(user_id, p)))
                    .chain(
                        dir.groups_of(user_id)
                            .iter()
                            .map(|g| ConversationColumns::of(Conversation::Group(g))),
                    )
                    .collect()
            }
        };
        let text = query.to_owned();
        let indexed_up_to = self.indexed.load(Ordering::Relaxed);
        self.read(move |conn| {
            Ok(Ok(search::find(
                conn,
                &search::Query {
                    text: &text,
                    conversations: &conversations,
                    limit: limit as usize,
                    indexed_up_to,
                },
            )?))
        })
        .await
    }
}
