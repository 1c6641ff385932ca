//! Messages: as sent, as stored and delivered, pages of history, and search.

use serde::{Deserialize, Serialize};

use crate::{Attachment, AttachmentRef};

/// A stored message (private, or to a group), as delivered and as acknowledged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Extension: server-assigned id, increasing in the order messages were stored.
    pub id: u64,
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment: Option<Attachment>,
}

/// `private message` (and `group message`) as a client sends it. `from` is never taken from
/// the client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
