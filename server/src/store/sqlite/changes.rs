//! Edits, deletions and reactions in the SQLite store, each one closure run in the writer's
//! transaction (the checks and the change see the same rows); and what a reply quotes.
//!
//! A deleted message keeps its row (its place) with its content, attachment, reply, reactions
//! and mentions gone; the FTS trigger on content then drops it from the search index, and unread
//! counts skip it. Replies keep a copy of what they quote, updated here when the original
//! changes, so reading a message never joins another.

use async_trait::async_trait;
use natter_protocol::{Message, React, ReplyQuote, apply_reaction, excerpt, now_ms};
use rusqlite::{Connection, OptionalExtension, params};

use super::SqliteStore;
use super::rows::{MESSAGE_COLUMNS, message_from_row, to_json_column};
use crate::store::{ChangeRefused, Changed, Changes, Deletion, NewMessage, Reaction, StoreResult};

/// The message `id` as stored now.
fn load(conn: &Connection, id: u64) -> rusqlite::Result<Option<Message>> {
    let Ok(id) = i64::try_from(id) else {
        return Ok(None);
    };
    conn.prepare_cached(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = ?1"
    ))?
    .query_row(params![id], message_from_row)
    .optional()
}

/// The message `id` if `by` may change it (its author, and it is not deleted).
fn own_message(conn: &Connection, by: &str, id: u64) -> StoreResult<Changed<Message>> {
    Ok(match load(conn, id)? {
        None => Err(ChangeRefused::UnknownMessage),
        Some(m) if m.from != by => Err(ChangeRefused::NotAuthor),
        Some(m) if m.deleted => Err(ChangeRefused::Deleted),
        Some(m) => Ok(m),
    })
}

/// What a new reply to `id` quotes: the original as it is now (deleted when it is gone).
pub(super) fn quote(conn: &Connection, id: u64) -> rusqlite::Result<ReplyQuote> {
    Ok(match load(conn, id)? {
        Some(original) => ReplyQuote::of(&original),
        None => ReplyQuote {
            id,
            deleted: true,
            ..ReplyQuote::default()
        },
    })
}

/// A row per member a group message mentions (but its sender), for counting their unread
/// mentions.
pub(super) fn record_mentions(conn: &Connection, m: &NewMessage, id: u64) -> rusqlite::Result<()> {
    let mut add = conn.prepare_cached(
        "INSERT OR IGNORE INTO mentions (user_id, group_id, message_id) VALUES (?1, ?2, ?3)",
    )?;
    let (group_id, message_id) = (&m.to, id);
    for user in m.mentions.iter().filter(|u| **u != m.from) {
        add.execute(params![user, group_id, message_id as i64])?;
    }
    Ok(())
}

/// Replies to `id` quote `excerpt` from now on (`None`: the original was deleted).
fn requote(conn: &Connection, id: u64, excerpt: Option<&str>) -> rusqlite::Result<usize> {
    conn.prepare_cached("UPDATE messages SET reply_excerpt = ?2 WHERE reply_to = ?1")?
        .execute(params![id as i64, excerpt])
}

fn edit(conn: &Connection, by: &str, id: u64, content: &str) -> StoreResult<Changed<Message>> {
    let mut message = match own_message(conn, by, id)? {
        Ok(m) => m,
        Err(refused) => return Ok(Err(refused)),
    };
    let edited_ts = now_ms().max(message.ts);
    conn.prepare_cached("UPDATE messages SET content = ?2, edited_ts = ?3 WHERE id = ?1")?
        .execute(params![id as i64, content, edited_ts])?;
    requote(conn, id, Some(&excerpt(content)))?;
    message.content = content.to_owned();
    message.edited_ts = Some(edited_ts);
    Ok(Ok(message))
}

fn delete(conn: &Connection, by: &str, id: u64) -> StoreResult<Changed<Deletion>> {
    let message = match own_message(conn, by, id)? {
        Ok(m) => m,
        Err(refused) => return Ok(Err(refused)),
    };
    conn.prepare_cached(
        "UPDATE messages SET content = '', deleted = 1, attachment_id = NULL, attachment = NULL, \
         reply_to = NULL, reply_from = NULL, reply_excerpt = NULL, reactions = NULL, \
         mentions = NULL WHERE id = ?1",
    )?
    .execute(params![id as i64])?;
    let mut unmention = conn.prepare_cached(
        "DELETE FROM mentions WHERE user_id = ?1 AND group_id = ?2 AND message_id = ?3",
    )?;
    for user in &message.mentions {
        unmention.execute(params![user, message.to, id as i64])?;
    }
    requote(conn, id, None)?;
    let mut unused_file = None;
    if let Some(file) = &message.attachment {
        let still_sent = conn
            .prepare_cached("SELECT 1 FROM messages WHERE attachment_id = ?1 LIMIT 1")?
            .exists(params![file.file_id])?;
        if !still_sent {
            conn.prepare_cached("DELETE FROM files WHERE file_id = ?1")?
                .execute(params![file.file_id])?;
            unused_file = Some(file.file_id.clone());
        }
    }
    Ok(Ok(Deletion {
        message,
        unused_file,
    }))
}

fn react(conn: &Connection, by: &str, r: &React) -> StoreResult<Changed<Reaction>> {
    let mut message = match load(conn, r.id)? {
        None => return Ok(Err(ChangeRefused::UnknownMessage)),
        Some(m) if m.deleted => return Ok(Err(ChangeRefused::Deleted)),
        Some(m) => m,
    };
    let changed = match apply_reaction(&mut message.reactions, &r.emoji, by, r.on) {
        Ok(changed) => changed,
        Err(_) => return Ok(Err(ChangeRefused::TooManyReactions)),
    };
    if changed {
        conn.prepare_cached("UPDATE messages SET reactions = ?2 WHERE id = ?1")?
            .execute(params![r.id as i64, to_json_column(&message.reactions)])?;
    }
    Ok(Ok(Reaction { message, changed }))
}

#[async_trait]
impl Changes for SqliteStore {
    async fn message(&self, id: u64) -> StoreResult<Option<Message>> {
        self.read(move |conn| Ok(load(conn, id)?)).await
    }

    async fn edit_message(
        &self,
        by: &str,
        id: u64,
        content: &str,
    ) -> StoreResult<Changed<Message>> {
        let (by, content) = (by.to_owned(), content.to_owned());
        self.run(move |conn| edit(conn, &by, id, &content)).await
    }

    async fn delete_message(&self, by: &str, id: u64) -> StoreResult<Changed<Deletion>> {
        let by = by.to_owned();
        self.run(move |conn| delete(conn, &by, id)).await
    }

    async fn react(&self, by: &str, reaction: &React) -> StoreResult<Changed<Reaction>> {
        let (by, reaction) = (by.to_owned(), reaction.clone());
        self.run(move |conn| react(conn, &by, &reaction)).await
    }
}
