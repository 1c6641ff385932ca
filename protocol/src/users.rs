//! People: the `users` list, presence changes, renames.

use serde::{Deserialize, Serialize};

use crate::{Message, StatusState, is_zero};

/// Extension `user renamed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRenamed {
    #[serde(rename = "userID")]
    pub user_id: String,
    pub username: String,
}

/// One entry of `users`, and the payload of `user connected`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    #[serde(rename = "userID")]
    pub user_id: String,
    pub username: String,
    pub connected: bool,
    /// The conversation between the receiving user and this user, oldest first (the most
    /// recent messages only; older pages come from `fetch messages`).
    #[serde(default)]
    pub messages: Vec<Message>,
    /// Extension, in `users`: messages from this user after the receiver's read marker.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unread: u64,
    /// Extension, in `users`: how far this user has read the receiver's messages (a message
    /// id; 0 when nothing is known, or this user keeps receipts to themselves).
    #[serde(rename = "readUpTo", default, skip_serializing_if = "is_zero")]
    pub read_up_to: u64,
    /// Extension: the person's status, when not available.
    #[serde(default, skip_serializing_if = "StatusState::is_available")]
    pub status: StatusState,
    /// Extension: what they wrote with it.
    #[serde(
        rename = "statusText",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub status_text: Option<String>,
    /// Extension: the name the office directory gives them (directory sign-in); `username`
    /// stays the login name.
    #[serde(
        rename = "displayName",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub display_name: Option<String>,
}

/// Extension: one entry of [`event::PRESENCE`]: a user's first socket connected
/// (`connected: true`, with the name, so a client can list someone it has not seen yet) or
/// their last socket left.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresenceChange {
    #[serde(rename = "userID")]
    pub user_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// With `username`, for a person the directory names.
    #[serde(
        rename = "displayName",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub display_name: Option<String>,
    pub connected: bool,
}

impl PresenceChange {
    /// `user_id`'s first socket connected, under this name.
    pub fn online(user_id: impl Into<String>, username: impl Into<String>) -> Self {
        Self {
            user_id: user_id.into(),
            username: Some(username.into()),
            display_name: None,
            connected: true,
        }
    }

    /// With the name the directory gives them.
    pub fn named(mut self, display_name: Option<String>) -> Self {
        self.display_name = display_name;
        self
    }

    /// `user_id`'s last socket left.
    pub fn offline(user_id: impl Into<String>) -> Self {
        Self {
            user_id: user_id.into(),
            username: None,
            display_name: None,
            connected: false,
        }
    }
}
