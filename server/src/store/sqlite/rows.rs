//! Row mapping: a stored message out of its columns, and a conversation as its two
//! conversation columns.

use natter_protocol::{Message, ReplyQuote};

use crate::store::Conversation;

/// A conversation as its `(user_lo, user_hi)` columns: the two userIDs in sorted order, or the
/// groupID twice. What the conversation index is keyed by.
/// Ordered as SQLite orders the index's key (bytewise, `lo` then `hi`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) struct ConversationColumns {
    pub lo: String,
    pub hi: String,
}

impl ConversationColumns {
    pub fn of(c: Conversation<'_>) -> Self {
        let (lo, hi) = match c {
            Conversation::Private(a, b) => sorted(a, b),
            Conversation::Group(g) => (g, g),
        };
        Self {
            lo: lo.to_owned(),
            hi: hi.to_owned(),
        }
    }
}

/// Two userIDs in the order the conversation columns hold them (no allocation, for loops
/// over many conversations).
pub(super) fn sorted<'a>(a: &'a str, b: &'a str) -> (&'a str, &'a str) {
    if a <= b { (a, b) } else { (b, a) }
}

/// The columns a stored message is read from, in the order [`message_from_row`] reads them.
pub(super) const MESSAGE_COLUMNS: &str = "id, content, sender, recipient, ts, client_id, attachment, \
     edited_ts, deleted, reply_to, reply_from, reply_excerpt, reactions, mentions";

/// [`MESSAGE_COLUMNS`] of the table named `table` in a join.
pub(super) fn message_columns_of(table: &str) -> String {
    MESSAGE_COLUMNS
        .split(", ")
        .map(|c| format!("{table}.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn message_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Message> {
    message_from_row_offset(r, 0)
}

/// A JSON column (NULL: the type's default).
fn json_column<T: serde::de::DeserializeOwned + Default>(
    r: &rusqlite::Row<'_>,
    i: usize,
) -> rusqlite::Result<T> {
    match r.get_ref(i)?.as_str_or_null()? {
        Some(json) => serde_json::from_str(json).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e.into())
        }),
        None => Ok(T::default()),
    }
}

/// A message whose [`MESSAGE_COLUMNS`] start at column `at`.
pub(super) fn message_from_row_offset(
    r: &rusqlite::Row<'_>,
    at: usize,
) -> rusqlite::Result<Message> {
    let reply_to = match r.get::<_, Option<i64>>(at + 9)? {
        Some(id) => {
            let excerpt: Option<String> = r.get(at + 11)?;
            Some(ReplyQuote {
                id: id as u64,
                from: r.get::<_, Option<String>>(at + 10)?.unwrap_or_default(),
                deleted: excerpt.is_none(),
                excerpt,
            })
        }
        None => None,
    };
    Ok(Message {
        id: r.get::<_, i64>(at)? as u64,
        content: r.get(at + 1)?,
        from: r.get(at + 2)?,
        to: r.get(at + 3)?,
        ts: r.get(at + 4)?,
        client_id: r.get(at + 5)?,
        attachment: json_column(r, at + 6)?,
        edited_ts: r.get(at + 7)?,
        deleted: r.get(at + 8)?,
        reply_to,
        reactions: json_column(r, at + 12)?,
        mentions: json_column(r, at + 13)?,
    })
}

/// A value as a JSON column: NULL when it is the default (nothing to store).
pub(super) fn to_json_column<T: serde::Serialize + Default + PartialEq>(
    value: &T,
) -> Option<String> {
    (*value != T::default()).then(|| serde_json::to_string(value).unwrap_or_default())
}
