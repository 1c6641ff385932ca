//! Read markers (unread counts that follow a person across devices, read receipts) and the
//! choice to keep them private.

use std::collections::HashMap;

use async_trait::async_trait;

use super::StoreResult;

/// `read`'s `upTo` is not a message of that conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a message of that conversation")]
pub struct NotInConversation;

/// What moving a read marker did: the new marker when it moved (`None` when it was already
/// there or further), or the message is not of that conversation.
pub type Marked = Result<Option<u64>, NotInConversation>;

/// Unread messages are counted up to this many per conversation (a badge says "999+" well
/// before), so a login never walks a long unread history.
pub const MAX_UNREAD_COUNTED: u64 = 9_999;

/// One conversation's read state, seen from one of its two people.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadState {
    /// Messages from the other person after this person's read marker.
    pub unread: u64,
    /// How far the other person has read (0 when unknown or kept private).
    pub read_up_to: u64,
}

/// How far each person has read each conversation.
#[async_trait]
pub trait Awareness: Send + Sync {
    /// Moves `reader`'s marker in its conversation with `peer` to `up_to`, a message of that
    /// conversation; markers never move back. The new marker when it moved, `None` when it
    /// was already there or further.
    async fn mark_read(&self, reader: &str, peer: &str, up_to: u64) -> StoreResult<Marked>;

    /// For each conversation of `user_id`, keyed by the other person: its unread count and how
    /// far the other person has read (if they share that).
    async fn read_states(&self, user_id: &str) -> StoreResult<HashMap<String, ReadState>>;

    /// Whether others see `user_id`'s read markers.
    async fn set_receipts(&self, user_id: &str, send: bool) -> StoreResult<()>;

    /// See [`Awareness::set_receipts`]; on by default.
    async fn sends_receipts(&self, user_id: &str) -> StoreResult<bool>;
}
