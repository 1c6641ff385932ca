//! What people do to messages after sending them: edit, delete, answer (reply), react.
//!
//! Each change goes to every socket of the message's conversation but the one that made it;
//! its ack says what changed. Only the author edits or deletes; anyone in the conversation
//! replies and reacts.

use serde::{Deserialize, Serialize};

use crate::Message;

/// The most characters of the original a reply quotes.
pub const REPLY_EXCERPT_CHARS: usize = 100;
/// The most different emoji on one message.
pub const MAX_REACTIONS: usize = 20;
/// The longest emoji accepted as a reaction, in bytes (the longest family and flag sequences
/// are 25–28).
pub const EMOJI_MAX_BYTES: usize = 32;
/// The most members one group message may mention.
pub const MENTIONS_MAX: usize = 50;

/// `edit message`: the author replaces a message's content (the same rules as a new one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EditMessage {
    pub id: u64,
    pub content: String,
}

/// The ack of `edit message`: the stored message with its new content and `editedTs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Edited {
    pub ok: bool,
    pub message: Message,
}

/// `message edited`, to the conversation's other sockets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageEdited {
    pub id: u64,
    pub from: String,
    pub to: String,
    pub content: String,
    #[serde(rename = "editedTs")]
    pub edited_ts: i64,
}

impl MessageEdited {
    pub fn of(m: &Message) -> Self {
        Self {
            id: m.id,
            from: m.from.clone(),
            to: m.to.clone(),
            content: m.content.clone(),
            edited_ts: m.edited_ts.unwrap_or(m.ts),
        }
    }
}

/// `delete message`: the author takes a message back; ack `{ok: true}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteMessage {
    pub id: u64,
}

/// `message deleted`, to the conversation's other sockets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageDeleted {
    pub id: u64,
    pub from: String,
    pub to: String,
}

/// `react`: add (`on`) or take back one's reaction with `emoji` (one emoji) to a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct React {
    pub id: u64,
    pub emoji: String,
    pub on: bool,
}

/// The ack of `react`: the message's reactions now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reacted {
    pub ok: bool,
    pub reactions: Vec<Reaction>,
}

/// `reaction`, to the conversation's other sockets; `from`/`to` are the message's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReactionChange {
    pub id: u64,
    pub from: String,
    pub to: String,
    pub emoji: String,
    #[serde(rename = "userID")]
    pub user_id: String,
    pub on: bool,
}

/// One emoji on a message and who gave it, in the order they did.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Reaction {
    pub emoji: String,
    pub users: Vec<String>,
}

/// What a reply carries of the message it answers: its start (the original's current text,
/// at most [`REPLY_EXCERPT_CHARS`]), or that it was deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ReplyQuote {
    pub id: u64,
    pub from: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub excerpt: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
}

impl ReplyQuote {
    /// The quote of `original` as it is now.
    pub fn of(original: &Message) -> Self {
        Self {
            id: original.id,
            from: original.from.clone(),
            excerpt: (!original.deleted).then(|| excerpt(&original.content)),
            deleted: original.deleted,
        }
    }
}

/// The start of a message's text, as a reply quotes it.
pub fn excerpt(content: &str) -> String {
    content.chars().take(REPLY_EXCERPT_CHARS).collect()
}

/// Whether `s` is one emoji (a single extended grapheme cluster that is an emoji, with or
/// without its variation selector or a skin tone), at most [`EMOJI_MAX_BYTES`].
pub fn is_one_emoji(s: &str) -> bool {
    s.len() <= EMOJI_MAX_BYTES && emojis::get(s).is_some()
}

/// Adds (`on`) or takes back `user_id`'s reaction `emoji` in `reactions`; whether anything
/// changed. An emoji nobody gives any more goes; a new one goes last. Refuses a new emoji past
/// [`MAX_REACTIONS`].
pub fn apply_reaction(
    reactions: &mut Vec<Reaction>,
    emoji: &str,
    user_id: &str,
    on: bool,
) -> Result<bool, TooManyReactions> {
    let pos = reactions.iter().position(|r| r.emoji == emoji);
    match (pos, on) {
        (Some(i), true) => {
            let users = &mut reactions[i].users;
            if users.iter().any(|u| u == user_id) {
                return Ok(false);
            }
            users.push(user_id.to_owned());
        }
        (None, true) => {
            if reactions.len() >= MAX_REACTIONS {
                return Err(TooManyReactions);
            }
            reactions.push(Reaction {
                emoji: emoji.to_owned(),
                users: vec![user_id.to_owned()],
            });
        }
        (Some(i), false) => {
            let users = &mut reactions[i].users;
            let before = users.len();
            users.retain(|u| u != user_id);
            if users.len() == before {
                return Ok(false);
            }
            if users.is_empty() {
                reactions.remove(i);
            }
        }
        (None, false) => return Ok(false),
    }
    Ok(true)
}

/// A message already has [`MAX_REACTIONS`] different emoji.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManyReactions;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn one_emoji_is_one_emoji() {
        for ok in ["👍", "👍🏽", "❤️", "❤", "🇫🇷", "👨‍👩‍👧‍👦", "🏳️‍🌈"]
        {
            assert!(is_one_emoji(ok), "{ok}");
        }
        for bad in ["", "a", "👍👍", "👍 ", ":thumbsup:", "1", "<script>"] {
            assert!(!is_one_emoji(bad), "{bad:?}");
        }
    }

    #[test]
    fn reactions_keep_their_order_and_are_idempotent() {
        let mut r = Vec::new();
        assert_eq!(apply_reaction(&mut r, "👍", "a", true), Ok(true));
        assert_eq!(apply_reaction(&mut r, "🎉", "b", true), Ok(true));
        assert_eq!(apply_reaction(&mut r, "👍", "b", true), Ok(true));
        assert_eq!(
            apply_reaction(&mut r, "👍", "b", true),
            Ok(false),
            "twice: nothing"
        );
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            json!([{"emoji": "👍", "users": ["a", "b"]}, {"emoji": "🎉", "users": ["b"]}])
        );
        assert_eq!(apply_reaction(&mut r, "👍", "a", false), Ok(true));
        assert_eq!(apply_reaction(&mut r, "🎉", "b", false), Ok(true));
        assert_eq!(apply_reaction(&mut r, "🎉", "b", false), Ok(false));
        assert_eq!(r.len(), 1, "an emoji nobody gives goes");
        for i in 0..MAX_REACTIONS - 1 {
            let e = emojis::iter().nth(i + 10).unwrap().as_str();
            assert_eq!(apply_reaction(&mut r, e, "a", true), Ok(true));
        }
        assert_eq!(
            apply_reaction(&mut r, "🦀", "a", true),
            Err(TooManyReactions)
        );
        assert_eq!(
            apply_reaction(&mut r, "👍", "c", true),
            Ok(true),
            "an emoji already there"
        );
    }

    #[test]
    fn a_deleted_message_keeps_only_its_place() {
        let m = Message {
            id: 3,
            content: "secret".into(),
            from: "a".into(),
            to: "b".into(),
            ts: 9,
            reactions: vec![Reaction {
                emoji: "👍".into(),
                users: vec!["b".into()],
            }],
            ..Message::default()
        };
        assert_eq!(
            serde_json::to_value(m.tombstone()).unwrap(),
            json!({"id": 3, "from": "a", "to": "b", "ts": 9, "deleted": true})
        );
        let back: Message = serde_json::from_value(json!({"id": 3, "from": "a", "to": "b",
            "ts": 9, "deleted": true}))
        .unwrap();
        assert_eq!(back, m.tombstone());
        assert_eq!(
            ReplyQuote::of(&m.tombstone()),
            ReplyQuote {
                id: 3,
                from: "a".into(),
                excerpt: None,
                deleted: true
            }
        );
        assert_eq!(ReplyQuote::of(&m).excerpt.as_deref(), Some("secret"));
        assert_eq!(
            excerpt(&"é".repeat(150)).chars().count(),
            REPLY_EXCERPT_CHARS
        );
    }
}
