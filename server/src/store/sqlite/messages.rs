//! Messages in the SQLite store: inserted by the writer, read by conversation
//! ([`super::conversation_index`]).

use std::sync::Arc;

use async_trait::async_trait;
use natter_protocol::Message;
use std::sync::atomic::Ordering;

use super::SqliteStore;
use super::rows::ConversationColumns;
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
        let conversations: Vec<ConversationColumns> = peers
            .iter()
            .map(|p| ConversationColumns::of(Conversation::Private(&user_id, p)))
            .collect();
        self.read_conversations(conversations.clone(), move |reader| {
            let mut out = Vec::with_capacity(peers.len());
            for (peer, c) in peers.iter().zip(&conversations) {
                let messages = reader.newest(c, i64::MAX, per_peer as usize)?;
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
        let c = ConversationColumns::of(conversation);
        let before = before.map_or(i64::MAX, |b| b.min(i64::MAX as u64) as i64);
        self.read_conversations(vec![c.clone()], move |reader| {
            let mut messages = reader.newest(&c, before, limit as usize + 1)?;
            let has_more = messages.len() > limit as usize;
            if has_more {
                messages.remove(0);
            }
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
        self.read_conversations(conversations.clone(), move |reader| {
            Ok(Ok(search::find(
                reader,
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
