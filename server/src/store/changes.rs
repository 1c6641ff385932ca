//! Changes to stored messages: edits and deletions by their author, reactions by anyone in
//! the conversation. Committed before the call returns, like a new message.

use async_trait::async_trait;
use natter_protocol::{Message, React};

use super::StoreResult;

/// Why a change was not made (nothing was changed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ChangeRefused {
    #[error("no such message")]
    UnknownMessage,
    #[error("only its author may change a message")]
    NotAuthor,
    #[error("the message was deleted")]
    Deleted,
    #[error("too many different reactions")]
    TooManyReactions,
}

/// A change made, or why not.
pub type Changed<T> = Result<T, ChangeRefused>;

/// A deleted message: as it was, and the file it carried when no other message carries it any
/// more (its record is gone; the caller removes its bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deletion {
    pub message: Message,
    pub unused_file: Option<String>,
}

/// A reaction applied: the message with its reactions now, and whether anything changed
/// (reacting twice with the same emoji changes nothing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reaction {
    pub message: Message,
    pub changed: bool,
}

#[async_trait]
pub trait Changes: Send + Sync {
    /// The stored message with this id, as it is now (a deleted one as its tombstone).
    async fn message(&self, id: u64) -> StoreResult<Option<Message>>;

    /// Replaces the content of `by`'s message `id`; the message after, with `editedTs`.
    /// Replies quoting it quote the new text.
    async fn edit_message(&self, by: &str, id: u64, content: &str)
    -> StoreResult<Changed<Message>>;

    /// Deletes `by`'s message `id`: it stays as a tombstone; its reactions, mentions and
    /// reply go, replies quoting it say it was deleted.
    async fn delete_message(&self, by: &str, id: u64) -> StoreResult<Changed<Deletion>>;

    /// Adds or takes back `by`'s reaction.
    async fn react(&self, by: &str, reaction: &React) -> StoreResult<Changed<Reaction>>;
}
