//! Group conversations.

use serde::{Deserialize, Serialize};

use crate::{Message, NameError, is_zero};

/// Extension `create group`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateGroup {
    pub name: String,
    /// userIDs; the creator is a member whether listed or not.
    pub members: Vec<String>,
}

/// Extension `add members`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddMembers {
    #[serde(rename = "groupID")]
    pub group_id: String,
    pub members: Vec<String>,
}

/// Extension `leave group`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaveGroup {
    #[serde(rename = "groupID")]
    pub group_id: String,
}

/// A group conversation: the ack of `create group` and `add members`, the `group` event, and
/// one entry of `groups` (which also carries recent messages and read state).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    #[serde(rename = "groupID")]
    pub group_id: String,
    pub name: String,
    /// userIDs, in the order they joined.
    pub members: Vec<String>,
    #[serde(rename = "createdBy", default)]
    pub created_by: String,
    /// In `groups`: the most recent messages, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<Message>,
    /// In `groups`: messages from others after the receiver's read marker.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unread: u64,
    /// In `groups`: of those, how many mention the receiver.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub mentions: u64,
}

/// The longest group name, in characters, after trimming.
pub const GROUP_NAME_MAX_CHARS: usize = 64;
/// The most members a group may have.
pub const GROUP_MAX_MEMBERS: usize = 500;
/// The prefix of every groupID, so a client can tell a group from a user by its id.
pub const GROUP_ID_PREFIX: &str = "g-";

/// Whether an id names a group (rather than a user).
pub fn is_group_id(id: &str) -> bool {
    id.starts_with(GROUP_ID_PREFIX)
}

/// Trims a group name and checks it with the username rule, up to [`GROUP_NAME_MAX_CHARS`].
pub fn normalize_group_name(raw: &str) -> Result<&str, NameError> {
    crate::names::check_name(raw, GROUP_NAME_MAX_CHARS)
}
