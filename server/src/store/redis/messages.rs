//! Messages in Redis: one sorted set per conversation, inserted by a Lua script (atomic:
//! idempotency key, id, conversation, peers, unread bookkeeping).

use async_trait::async_trait;
use natter_protocol::Message;

use natter_protocol::ReplyQuote;

use super::{RedisStore, keys, parse, to_json};
use crate::store::{
    Changes, Conversation, Found, Inserted, Messages, NewMessage, SearchRequest, SearchUnsupported,
    StoreResult,
};

impl RedisStore {
    /// Everyone `user_id` has a conversation with.
    pub(super) async fn peers(&self, user_id: &str) -> StoreResult<Vec<String>> {
        let mut conn = self.conn.clone();
        Ok(redis::cmd("SMEMBERS")
            .arg(keys::peers(user_id))
            .query_async(&mut conn)
            .await?)
    }
}

#[async_trait]
impl Messages for RedisStore {
    async fn insert_message(&self, m: NewMessage) -> StoreResult<Inserted> {
        let mut conn = self.conn.clone();
        let client_key = keys::client(&m.from, m.client_id.as_deref());
        let ts = natter_protocol::now_ms();
        let group = natter_protocol::is_group_id(&m.to);
        let attachment = match &m.attachment {
            Some(a) => to_json(a)?,
            None => String::new(),
        };
        let quote = match m.reply_to {
            Some(id) => match self.message(id).await? {
                Some(original) => ReplyQuote::of(&original),
                None => ReplyQuote {
                    id,
                    deleted: true,
                    ..ReplyQuote::default()
                },
            },
            None => ReplyQuote::default(),
        };
        let mut script = self.insert.prepare_invoke();
        script
            .key(client_key)
            .key(keys::MSG_SEQ)
            .key(keys::conversation(Conversation::between(&m.from, &m.to)))
            .key(keys::peers(&m.from))
            .key(keys::peers(&m.to))
            .key(if group {
                keys::group_sent(&m.to, &m.from)
            } else {
                keys::inbox(&m.to, &m.from)
            })
            .key(keys::file_conversations(
                m.attachment.as_ref().map_or("-", |a| a.file_id.as_str()),
            ))
            .key(keys::MSG_CONVERSATIONS)
            .key(keys::file_messages(
                m.attachment.as_ref().map_or("-", |a| a.file_id.as_str()),
            ))
            .key(
                m.reply_to
                    .map_or_else(|| keys::UNUSED.to_owned(), keys::replies),
            );
        // Counted for the members mentioned, but its sender.
        for member in m.mentions.iter().filter(|u| **u != m.from) {
            script.key(keys::mentions(&m.to, member));
        }
        let (new, json): (i64, String) = script
            .arg(&m.from)
            .arg(&m.to)
            .arg(&m.content)
            .arg(ts)
            .arg(m.client_id.as_deref().unwrap_or(""))
            .arg(attachment)
            .arg(if group { "group" } else { "private" })
            .arg(if m.reply_to.is_some() {
                to_json(&quote)?
            } else {
                String::new()
            })
            .arg(if m.mentions.is_empty() {
                String::new()
            } else {
                to_json(&m.mentions)?
            })
            .invoke_async(&mut conn)
            .await?;
        let message = parse(&json)?;
        Ok(if new == 1 {
            Inserted::New(message)
        } else {
            Inserted::Duplicate(message)
        })
    }

    async fn recent_conversations(
        &self,
        user_id: &str,
        per_peer: u32,
    ) -> StoreResult<Vec<(String, Vec<Message>)>> {
        let mut conn = self.conn.clone();
        let peers = self.peers(user_id).await?;
        if peers.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for p in &peers {
            pipe.cmd("ZREVRANGE")
                .arg(keys::conversation(Conversation::Private(user_id, p)))
                .arg(0)
                .arg(per_peer.saturating_sub(1) as i64);
        }
        let pages: Vec<Vec<String>> = pipe.query_async(&mut conn).await?;
        peers
            .into_iter()
            .zip(pages)
            .map(|(peer, page)| {
                let mut messages = page
                    .iter()
                    .map(|j| parse(j))
                    .collect::<StoreResult<Vec<_>>>()?;
                messages.reverse();
                Ok((peer, messages))
            })
            .collect()
    }

    async fn page(
        &self,
        conversation: Conversation<'_>,
        before: Option<u64>,
        limit: u32,
    ) -> StoreResult<(Vec<Message>, bool)> {
        let mut conn = self.conn.clone();
        let max = before.map_or("+inf".to_owned(), |b| format!("({b}"));
        let page: Vec<String> = redis::cmd("ZREVRANGEBYSCORE")
            .arg(keys::conversation(conversation))
            .arg(max)
            .arg("-inf")
            .arg("LIMIT")
            .arg(0)
            .arg(limit as i64 + 1)
            .query_async(&mut conn)
            .await?;
        let has_more = page.len() > limit as usize;
        let mut messages = page
            .iter()
            .take(limit as usize)
            .map(|j| parse(j))
            .collect::<StoreResult<Vec<_>>>()?;
        messages.reverse();
        Ok((messages, has_more))
    }

    async fn search(&self, _: SearchRequest<'_>) -> StoreResult<Found> {
        Ok(Err(SearchUnsupported))
    }
}
