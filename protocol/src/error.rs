//! Acks: `{ok: true}`, `{error, code}`, and the reply that is one or the other.

use serde::{Deserialize, Serialize};

/// The ack of requests that only succeed or fail (`logout`, `set password`): `{ok: true}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Done {
    pub ok: bool,
}

/// Why the server refused an event; sent in the ack as `{error, code}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The payload is not of the event's shape.
    InvalidPayload,
    /// The message content is empty (or only white space).
    EmptyMessage,
    /// The message content is over the server's size limit.
    MessageTooLong,
    /// The `to` / `with` user does not exist.
    UnknownUser,
    /// The `clientId` is over [`CLIENT_ID_MAX_BYTES`].
    InvalidClientId,
    /// The server could not store or read the data; the client may retry.
    Unavailable,
    /// `set password`: the current password is missing or wrong.
    WrongPassword,
    /// `set password`: the new password is too short or too long.
    InvalidPassword,
    /// `set password`: another identity holds the same name; an operator must rename first.
    NameShared,
    /// Too many messages too fast: send again after `retryAfterMs`.
    RateLimited,
    /// The content holds control characters (other than newline and tab).
    InvalidContent,
    /// `read`: `upTo` is not a message of that conversation.
    UnknownMessage,
    /// The groupID is unknown or the sender is not one of its members.
    NotMember,
    /// A group name is empty, too long or holds characters names may not.
    InvalidName,
    /// The attachment's fileID is unknown or was uploaded by someone else.
    UnknownFile,
    /// A search shorter than [`SEARCH_MIN_CHARS`] or longer than [`SEARCH_MAX_BYTES`].
    InvalidQuery,
    /// This server cannot do it (search in cluster mode).
    Unsupported,
    /// A group would have more than [`GROUP_MAX_MEMBERS`] members.
    TooManyMembers,
    /// Only a message's author may edit or delete it.
    NotAuthor,
    /// The message was deleted.
    Deleted,
    /// A reaction is one emoji.
    InvalidEmoji,
    /// A message has at most [`crate::MAX_REACTIONS`] different emoji.
    TooManyReactions,
    /// This server's operator does not allow it (edits or deletes turned off).
    NotAllowed,
    /// A status text is too long or holds characters names may not.
    InvalidStatus,
}

impl ErrorCode {
    /// The code as it travels (`"rate_limited"`).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidPayload => "invalid_payload",
            ErrorCode::EmptyMessage => "empty_message",
            ErrorCode::MessageTooLong => "message_too_long",
            ErrorCode::UnknownUser => "unknown_user",
            ErrorCode::InvalidClientId => "invalid_client_id",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::WrongPassword => "wrong_password",
            ErrorCode::InvalidPassword => "invalid_password",
            ErrorCode::NameShared => "name_shared",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::InvalidContent => "invalid_content",
            ErrorCode::UnknownMessage => "unknown_message",
            ErrorCode::NotMember => "not_member",
            ErrorCode::InvalidName => "invalid_name",
            ErrorCode::UnknownFile => "unknown_file",
            ErrorCode::InvalidQuery => "invalid_query",
            ErrorCode::Unsupported => "unsupported",
            ErrorCode::TooManyMembers => "too_many_members",
            ErrorCode::NotAuthor => "not_author",
            ErrorCode::Deleted => "deleted",
            ErrorCode::InvalidEmoji => "invalid_emoji",
            ErrorCode::TooManyReactions => "too_many_reactions",
            ErrorCode::NotAllowed => "not_allowed",
            ErrorCode::InvalidStatus => "invalid_status",
        }
    }
}

/// An error ack: `{error: "<reason>", code}`. `error` is the guide-style human text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorReply {
    pub error: String,
    pub code: ErrorCode,
    /// With `rate_limited`: when to try again, in milliseconds.
    #[serde(
        rename = "retryAfterMs",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub retry_after_ms: Option<u64>,
}

/// What an ack carries: the result, or `{error, code}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Reply<T> {
    Err(ErrorReply),
    Ok(T),
}

impl<T> Reply<T> {
    pub fn into_result(self) -> Result<T, ErrorReply> {
        match self {
            Reply::Ok(v) => Ok(v),
            Reply::Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Message, MessagePage};
    use serde_json::json;

    #[test]
    fn codes_read_as_they_travel() {
        for code in [
            ErrorCode::RateLimited,
            ErrorCode::InvalidPayload,
            ErrorCode::UnknownFile,
        ] {
            assert_eq!(serde_json::to_value(code).unwrap(), json!(code.as_str()));
        }
    }

    #[test]
    fn reply_tells_error_from_value() {
        let e: Reply<Message> =
            serde_json::from_value(json!({"error": "unknown user", "code": "unknown_user"}))
                .unwrap();
        assert_eq!(e.into_result().unwrap_err().code, ErrorCode::UnknownUser);
        let ok: Reply<MessagePage> =
            serde_json::from_value(json!({"messages": [], "hasMore": false})).unwrap();
        assert!(ok.into_result().is_ok());
    }
}
