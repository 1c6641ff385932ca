//! Messages: storing them (committed, idempotent), the recent part of each conversation,
//! pages of history, and search.

use async_trait::async_trait;
use natter_protocol::{Attachment, Message};

use super::StoreResult;

/// A message to store; the store assigns `id` and `ts`.
#[derive(Debug, Clone, Default)]
pub struct NewMessage {
    pub from: String,
    pub to: String,
    pub content: String,
    pub client_id: Option<String>,
    pub attachment: Option<Attachment>,
    /// The message of the same conversation this one answers (checked by the caller; the
    /// store quotes it as it is when this one is committed).
    pub reply_to: Option<u64>,
    /// Group members it mentions (checked by the caller).
    pub mentions: Vec<String>,
}

/// One conversation: two people, or a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conversation<'a> {
    Private(&'a str, &'a str),
    Group(&'a str),
}

impl<'a> Conversation<'a> {
    /// The conversation `me` has with `other`, a userID or a groupID.
    pub fn between(me: &'a str, other: &'a str) -> Self {
        if natter_protocol::is_group_id(other) {
            Conversation::Group(other)
        } else {
            Conversation::Private(me, other)
        }
    }
}

/// A search: who asks (only their own conversations are searched), the text (case-insensitive),
/// one of their conversations or all, and how many results at most.
#[derive(Debug, Clone, Copy)]
pub struct SearchRequest<'a> {
    pub user_id: &'a str,
    pub text: &'a str,
    pub within: Option<Conversation<'a>>,
    pub limit: u32,
}

/// What a search found, newest first; or this store cannot search.
pub type Found = Result<Vec<Message>, SearchUnsupported>;

/// This store cannot search (Redis has no full-text index here).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("search is not supported by this store")]
pub struct SearchUnsupported;

/// What `insert_message` did. Serialises as the message: the ack carries it either way.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(untagged)]
pub enum Inserted {
    /// Stored now: deliver it.
    New(Message),
    /// The same `(from, client_id)` was stored before: ack it again, deliver nothing.
    Duplicate(Message),
}

/// The messages of every conversation, private and group alike.
#[async_trait]
pub trait Messages: Send + Sync {
    /// Stores a message, committed before it returns; idempotent on `(from, client_id)`.
    async fn insert_message(&self, message: NewMessage) -> StoreResult<Inserted>;

    /// For each user `user_id` has a conversation with: the most recent `per_peer` messages,
    /// oldest first. Cost depends on the user's conversations, not on the total stored.
    async fn recent_conversations(
        &self,
        user_id: &str,
        per_peer: u32,
    ) -> StoreResult<Vec<(String, Vec<Message>)>>;

    /// Up to `limit` messages of a conversation with an id below `before` (all when `None`),
    /// oldest first, and whether older ones exist.
    async fn page(
        &self,
        conversation: Conversation<'_>,
        before: Option<u64>,
        limit: u32,
    ) -> StoreResult<(Vec<Message>, bool)>;

    /// Messages of `user_id`'s own conversations (or of `within`, one of them) whose content
    /// holds `query` (case-insensitive), newest first.
    async fn search(&self, search: SearchRequest<'_>) -> StoreResult<Found>;
}
