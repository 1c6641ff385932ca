//! Edits, deletions and reactions in Redis. A message is found by id through `msgconv` (id →
//! its conversation's key); the change is computed here from the JSON read, then swapped in by
//! `replace_message.lua` only if the message is still what was read (otherwise read again),
//! with what the change does besides (unread and mention sets, the file's messages, the
//! idempotency copy) in the same script. Replies quoting a changed message are quoted anew
//! afterwards from the original as it is then, so the last change wins.

use async_trait::async_trait;
use natter_protocol::{Message, React, ReplyQuote, apply_reaction, now_ms};

use super::{RedisStore, keys, parse, to_json};
use crate::store::{ChangeRefused, Changed, Changes, Deletion, Reaction, StoreError, StoreResult};

/// How often a change is tried against a message that keeps changing under it.
const TRIES: usize = 16;

/// A message as stored: its conversation's key, its JSON, and what that says.
struct Stored {
    conversation: String,
    json: String,
    message: Message,
}

/// What a replacement does besides swapping the JSON.
#[derive(Default)]
struct Besides {
    /// Sorted sets the id leaves (the inbox or sent ids, mention sets).
    leave: Vec<String>,
    /// A deletion in this group: its id joins the group's deleted ids.
    deleted_in_group: Option<String>,
    /// The file the message carried (a deletion).
    file: Option<String>,
}

/// What `replace_message.lua` answered.
#[derive(PartialEq, Eq)]
enum Replaced {
    ChangedMeanwhile,
    Done,
    FileUnused,
}

impl RedisStore {
    async fn stored(&self, id: u64) -> StoreResult<Option<Stored>> {
        let mut conn = self.conn.clone();
        let conversation: Option<String> = redis::cmd("HGET")
            .arg(keys::MSG_CONVERSATIONS)
            .arg(id)
            .query_async(&mut conn)
            .await?;
        let Some(conversation) = conversation else {
            return Ok(None);
        };
        let found: Vec<String> = redis::cmd("ZRANGEBYSCORE")
            .arg(&conversation)
            .arg(id)
            .arg(id)
            .query_async(&mut conn)
            .await?;
        let Some(json) = found.into_iter().next() else {
            return Ok(None);
        };
        let message = parse(&json)?;
        Ok(Some(Stored {
            conversation,
            json,
            message,
        }))
    }

    async fn replace(
        &self,
        was: &Stored,
        now: &Message,
        besides: Besides,
    ) -> StoreResult<Replaced> {
        let mut conn = self.conn.clone();
        let mut script = self.replace_message.prepare_invoke();
        let file = besides.file.as_deref();
        script
            .key(&was.conversation)
            .key(keys::client(&now.from, now.client_id.as_deref()))
            .key(
                besides
                    .deleted_in_group
                    .as_deref()
                    .map_or_else(|| keys::UNUSED.to_owned(), keys::group_deleted),
            )
            .key(file.map_or_else(|| keys::UNUSED.to_owned(), keys::file_messages))
            .key(file.map_or_else(|| keys::UNUSED.to_owned(), keys::file))
            .key(file.map_or_else(|| keys::UNUSED.to_owned(), keys::file_conversations));
        for key in &besides.leave {
            script.key(key);
        }
        let answer: i64 = script
            .arg(now.id)
            .arg(&was.json)
            .arg(to_json(now)?)
            .arg(if now.client_id.is_some() { "1" } else { "0" })
            .arg(if besides.deleted_in_group.is_some() {
                "1"
            } else {
                "0"
            })
            .arg(if file.is_some() { "1" } else { "0" })
            .invoke_async(&mut conn)
            .await?;
        Ok(match answer {
            0 => Replaced::ChangedMeanwhile,
            2 => Replaced::FileUnused,
            _ => Replaced::Done,
        })
    }

    /// Applies `change` to message `id` until it holds against the message as stored.
    async fn change<T>(
        &self,
        id: u64,
        change: impl Fn(&Message) -> Changed<(Option<(Message, Besides)>, T)>,
    ) -> StoreResult<Changed<(Message, T, Replaced)>> {
        for _ in 0..TRIES {
            let Some(was) = self.stored(id).await? else {
                return Ok(Err(ChangeRefused::UnknownMessage));
            };
            let (now, extra) = match change(&was.message) {
                Ok(v) => v,
                Err(refused) => return Ok(Err(refused)),
            };
            let Some((now, besides)) = now else {
                // Nothing to change.
                return Ok(Ok((was.message, extra, Replaced::Done)));
            };
            match self.replace(&was, &now, besides).await? {
                Replaced::ChangedMeanwhile => continue,
                replaced => return Ok(Ok((now, extra, replaced))),
            }
        }
        Err(StoreError::Redis(format!("message {id} kept changing")))
    }

    /// Replies to `id` quote it as it is now.
    async fn requote(&self, id: u64) -> StoreResult<()> {
        let mut conn = self.conn.clone();
        let replies: Vec<u64> = redis::cmd("SMEMBERS")
            .arg(keys::replies(id))
            .query_async(&mut conn)
            .await?;
        if replies.is_empty() {
            return Ok(());
        }
        let quote = match self.stored(id).await? {
            Some(original) => ReplyQuote::of(&original.message),
            None => return Ok(()),
        };
        for reply in replies {
            let quote = quote.clone();
            let requoted = self
                .change(reply, |m| {
                    let mut now = m.clone();
                    if m.deleted || m.reply_to.as_ref() == Some(&quote) {
                        return Ok((None, ()));
                    }
                    now.reply_to = Some(quote.clone());
                    Ok((Some((now, Besides::default())), ()))
                })
                .await?;
            if let Err(e) = requoted {
                tracing::debug!(reply, error = %e, "a reply could not be quoted anew");
            }
        }
        Ok(())
    }
}

/// `m`, if `by` may change it.
fn own(m: &Message, by: &str) -> Changed<()> {
    if m.from != by {
        Err(ChangeRefused::NotAuthor)
    } else if m.deleted {
        Err(ChangeRefused::Deleted)
    } else {
        Ok(())
    }
}

#[async_trait]
impl Changes for RedisStore {
    async fn message(&self, id: u64) -> StoreResult<Option<Message>> {
        Ok(self.stored(id).await?.map(|s| s.message))
    }

    async fn edit_message(
        &self,
        by: &str,
        id: u64,
        content: &str,
    ) -> StoreResult<Changed<Message>> {
        let edited = self
            .change(id, |m| {
                own(m, by)?;
                let mut now = m.clone();
                now.content = content.to_owned();
                now.edited_ts = Some(now_ms().max(m.ts));
                Ok((Some((now, Besides::default())), ()))
            })
            .await?;
        let Ok((message, (), _)) = edited else {
            return Ok(edited.map(|(m, ..)| m));
        };
        self.requote(id).await?;
        Ok(Ok(message))
    }

    async fn delete_message(&self, by: &str, id: u64) -> StoreResult<Changed<Deletion>> {
        let deleted = self
            .change(id, |m| {
                own(m, by)?;
                let group = natter_protocol::is_group_id(&m.to);
                let mut leave = vec![if group {
                    keys::group_sent(&m.to, &m.from)
                } else {
                    keys::inbox(&m.to, &m.from)
                }];
                leave.extend(
                    m.mentions
                        .iter()
                        .filter(|u| **u != m.from)
                        .map(|u| keys::mentions(&m.to, u)),
                );
                let besides = Besides {
                    leave,
                    deleted_in_group: group.then(|| m.to.clone()),
                    file: m.attachment.as_ref().map(|a| a.file_id.clone()),
                };
                Ok((Some((m.tombstone(), besides)), m.clone()))
            })
            .await?;
        let (_, before, replaced) = match deleted {
            Ok(d) => d,
            Err(refused) => return Ok(Err(refused)),
        };
        self.requote(id).await?;
        let unused_file = match (&before.attachment, replaced) {
            (Some(a), Replaced::FileUnused) => Some(a.file_id.clone()),
            _ => None,
        };
        Ok(Ok(Deletion {
            message: before,
            unused_file,
        }))
    }

    async fn react(&self, by: &str, reaction: &React) -> StoreResult<Changed<Reaction>> {
        let reacted = self
            .change(reaction.id, |m| {
                if m.deleted {
                    return Err(ChangeRefused::Deleted);
                }
                let mut now = m.clone();
                match apply_reaction(&mut now.reactions, &reaction.emoji, by, reaction.on) {
                    Ok(true) => Ok((Some((now, Besides::default())), true)),
                    Ok(false) => Ok((None, false)),
                    Err(_) => Err(ChangeRefused::TooManyReactions),
                }
            })
            .await?;
        Ok(reacted.map(|(message, changed, _)| Reaction { message, changed }))
    }
}
