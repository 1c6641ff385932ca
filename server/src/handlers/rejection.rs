//! Why an event was refused: what the client is told (`{error, code}` in the ack) and what the
//! refusal summary counts.

use natter_protocol::{ErrorCode, ErrorReply};

use crate::store::{ChangeRefused, StoreError};

/// Why an event was refused; becomes `{error, code}` in the ack.
#[derive(Debug, thiserror::Error)]
pub(super) enum Rejection {
    #[error("invalid payload: expected {0}")]
    InvalidPayload(&'static str),
    #[error("empty message")]
    EmptyMessage,
    #[error("message too long: {len} bytes, the limit is {max}")]
    MessageTooLong { len: usize, max: usize },
    #[error(
        "invalid clientId: 1 to {} bytes",
        natter_protocol::CLIENT_ID_MAX_BYTES
    )]
    InvalidClientId,
    #[error("unknown user")]
    UnknownUser,
    #[error("the current password is missing or wrong")]
    WrongPassword,
    #[error(
        "a password needs {} to {} characters",
        natter_protocol::PASSWORD_MIN_CHARS,
        natter_protocol::PASSWORD_MAX_BYTES
    )]
    InvalidPassword,
    #[error("another identity has the same name: ask the operator to rename one of them first")]
    NameShared,
    #[error("too many messages: try again in {} ms", .0.as_millis())]
    RateLimited(std::time::Duration),
    #[error("the message holds control characters (only newline and tab are allowed)")]
    InvalidContent,
    #[error("no such message in that conversation")]
    UnknownMessage,
    #[error("not a member of that group")]
    NotMember,
    #[error("invalid group name: {0}")]
    InvalidName(natter_protocol::NameError),
    #[error("unknown file (or uploaded by someone else)")]
    UnknownFile,
    #[error(
        "a search needs {} characters to {} bytes",
        natter_protocol::SEARCH_MIN_CHARS,
        natter_protocol::SEARCH_MAX_BYTES
    )]
    InvalidQuery,
    #[error("this server cannot search (cluster mode has no full-text index)")]
    Unsupported,
    #[error("a group has at most {} members", natter_protocol::GROUP_MAX_MEMBERS)]
    TooManyMembers,
    #[error("only its author may edit or delete a message")]
    NotAuthor,
    #[error("the message was deleted")]
    Deleted,
    #[error("a reaction is one emoji")]
    InvalidEmoji,
    #[error(
        "a message has at most {} different reactions",
        natter_protocol::MAX_REACTIONS
    )]
    TooManyReactions,
    #[error("this server does not allow {0}")]
    NotAllowed(&'static str),
    #[error("invalid status text: {0}")]
    InvalidStatus(natter_protocol::NameError),
    #[error("server unavailable, try again")]
    Unavailable(#[from] StoreError),
}

impl From<ChangeRefused> for Rejection {
    fn from(refused: ChangeRefused) -> Self {
        match refused {
            ChangeRefused::UnknownMessage => Rejection::UnknownMessage,
            ChangeRefused::NotAuthor => Rejection::NotAuthor,
            ChangeRefused::Deleted => Rejection::Deleted,
            ChangeRefused::TooManyReactions => Rejection::TooManyReactions,
        }
    }
}

impl Rejection {
    /// The stable code the client sees; also what the refusal summary counts it as.
    pub(super) fn code(&self) -> ErrorCode {
        match self {
            Rejection::InvalidPayload(_) => ErrorCode::InvalidPayload,
            Rejection::EmptyMessage => ErrorCode::EmptyMessage,
            Rejection::MessageTooLong { .. } => ErrorCode::MessageTooLong,
            Rejection::InvalidClientId => ErrorCode::InvalidClientId,
            Rejection::UnknownUser => ErrorCode::UnknownUser,
            Rejection::WrongPassword => ErrorCode::WrongPassword,
            Rejection::InvalidPassword => ErrorCode::InvalidPassword,
            Rejection::NameShared => ErrorCode::NameShared,
            Rejection::RateLimited(_) => ErrorCode::RateLimited,
            Rejection::InvalidContent => ErrorCode::InvalidContent,
            Rejection::UnknownMessage => ErrorCode::UnknownMessage,
            Rejection::NotMember => ErrorCode::NotMember,
            Rejection::InvalidName(_) => ErrorCode::InvalidName,
            Rejection::UnknownFile => ErrorCode::UnknownFile,
            Rejection::InvalidQuery => ErrorCode::InvalidQuery,
            Rejection::Unsupported => ErrorCode::Unsupported,
            Rejection::TooManyMembers => ErrorCode::TooManyMembers,
            Rejection::NotAuthor => ErrorCode::NotAuthor,
            Rejection::Deleted => ErrorCode::Deleted,
            Rejection::InvalidEmoji => ErrorCode::InvalidEmoji,
            Rejection::TooManyReactions => ErrorCode::TooManyReactions,
            Rejection::NotAllowed(_) => ErrorCode::NotAllowed,
            Rejection::InvalidStatus(_) => ErrorCode::InvalidStatus,
            Rejection::Unavailable(_) => ErrorCode::Unavailable,
        }
    }

    pub(super) fn reply(&self) -> ErrorReply {
        ErrorReply {
            error: self.to_string(),
            code: self.code(),
            retry_after_ms: match self {
                Rejection::RateLimited(wait) => Some(wait.as_millis().max(1) as u64),
                _ => None,
            },
        }
    }
}
