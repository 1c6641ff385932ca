//! Messages: as sent, as stored and delivered, pages of history, and search.

use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize};

use crate::{Attachment, AttachmentRef, Reaction, ReplyQuote};

/// A stored message (private, or to a group), as delivered and as acknowledged.
///
/// A deleted message stays in its place as `{id, from, to, ts, deleted: true}`: no content,
/// attachment, reply or reactions (serialised by hand for that; fields at their default are
/// left out, so a plain message has the guide's shape).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Deserialize)]
pub struct Message {
    /// Extension: server-assigned id, increasing in the order messages were stored.
    pub id: u64,
    #[serde(default)]
    pub content: String,
    pub from: String,
    pub to: String,
    /// Extension: when the server stored it, in milliseconds since the Unix epoch.
    pub ts: i64,
    /// Extension: the sender's idempotency key, echoed so the sender's windows can match
    /// a delivered message to the one they were waiting for.
    #[serde(rename = "clientId", default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Extension: a file sent with the message.
    #[serde(default)]
    pub attachment: Option<Attachment>,
    /// Extension: when its author last edited it, ms since the Unix epoch.
    #[serde(rename = "editedTs", default)]
    pub edited_ts: Option<i64>,
    /// Extension: its author deleted it.
    #[serde(default)]
    pub deleted: bool,
    /// Extension: the message this one answers.
    #[serde(rename = "replyTo", default)]
    pub reply_to: Option<ReplyQuote>,
    /// Extension: reactions, each emoji with who gave it, in the order each emoji first
    /// appeared.
    #[serde(default)]
    pub reactions: Vec<Reaction>,
    /// Extension, in groups: the members it calls (userIDs).
    #[serde(default)]
    pub mentions: Vec<String>,
}

impl Serialize for Message {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("id", &self.id)?;
        if !self.deleted {
            map.serialize_entry("content", &self.content)?;
        }
        map.serialize_entry("from", &self.from)?;
        map.serialize_entry("to", &self.to)?;
        map.serialize_entry("ts", &self.ts)?;
        if let Some(c) = &self.client_id {
            map.serialize_entry("clientId", c)?;
        }
        if self.deleted {
            map.serialize_entry("deleted", &true)?;
            return map.end();
        }
        if let Some(a) = &self.attachment {
            map.serialize_entry("attachment", a)?;
        }
        if let Some(t) = self.edited_ts {
            map.serialize_entry("editedTs", &t)?;
        }
        if let Some(r) = &self.reply_to {
            map.serialize_entry("replyTo", r)?;
        }
        if !self.reactions.is_empty() {
            map.serialize_entry("reactions", &self.reactions)?;
        }
        if !self.mentions.is_empty() {
            map.serialize_entry("mentions", &self.mentions)?;
        }
        map.end()
    }
}

impl Message {
    /// What is left of a deleted message: where it was, and that it was deleted.
    pub fn tombstone(&self) -> Message {
        Message {
            id: self.id,
            from: self.from.clone(),
            to: self.to.clone(),
            ts: self.ts,
            client_id: self.client_id.clone(),
            deleted: true,
            ..Message::default()
        }
    }
}

/// `private message` (and `group message`) as a client sends it. `from` is never taken from
/// the client.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendMessage {
    /// May be empty when an attachment is sent.
    pub content: String,
    pub to: String,
    /// Extension: a sender-chosen key that makes retries idempotent.
    #[serde(rename = "clientId", default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Extension: a file the sender uploaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment: Option<AttachmentRef>,
    /// Extension: the id of the message of the same conversation this one answers.
    #[serde(rename = "replyTo", default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<u64>,
    /// Extension, `group message` only: the members it calls (userIDs; the server keeps
    /// members only, once each, at most [`crate::MENTIONS_MAX`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mentions: Vec<String>,
}

/// Now, as `ts` counts time: milliseconds since the Unix epoch (0 if the clock is before it).
/// Not in the page: wasm has no system clock there, the UI reads the page's.
#[cfg(not(target_arch = "wasm32"))]
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The longest `clientId` the server accepts, in bytes.
pub const CLIENT_ID_MAX_BYTES: usize = 64;

/// Extension `fetch messages`: a page of one conversation, older than `before`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchMessages {
    /// The other user of the conversation, or a groupID.
    pub with: String,
    /// Only messages with an id lower than this; the newest page when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<u64>,
    /// At most this many messages (the server caps it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// The ack of `fetch messages`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessagePage {
    /// Oldest first.
    pub messages: Vec<Message>,
    /// Whether older messages than the first one here exist.
    #[serde(rename = "hasMore")]
    pub has_more: bool,
}

/// Extension `search messages`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchMessages {
    pub q: String,
    /// Only this conversation (a userID or a groupID).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub with: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// The ack of `search messages`: newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchResults {
    pub messages: Vec<Message>,
}

/// The shortest search, in characters (the index matches sequences of three).
pub const SEARCH_MIN_CHARS: usize = 3;
/// The longest search, in bytes.
pub const SEARCH_MAX_BYTES: usize = 256;
/// The most results one search returns.
pub const SEARCH_MAX_RESULTS: u32 = 100;
