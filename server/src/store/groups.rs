//! Groups and their members (a group's messages are [`super::Messages`]').

use async_trait::async_trait;
use natter_protocol::Message;

use super::StoreResult;

/// A group as the store knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRecord {
    pub group_id: String,
    pub name: String,
    /// In the order they joined.
    pub members: Vec<String>,
    pub created_by: String,
}

/// A group's recent messages and one person's unread count, for their login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecentGroup {
    pub group_id: String,
    /// Oldest first.
    pub messages: Vec<Message>,
    /// Messages from others after the person's read marker.
    pub unread: u64,
    /// Of those, the ones that mention the person.
    pub mentions: u64,
}

impl GroupRecord {
    pub fn has_member(&self, user_id: &str) -> bool {
        self.members.iter().any(|m| m == user_id)
    }

    /// The group as clients see it (`group`, and the entries of `groups` without their
    /// messages and counts).
    pub fn wire(&self) -> natter_protocol::Group {
        natter_protocol::Group {
            group_id: self.group_id.clone(),
            name: self.name.clone(),
            members: self.members.clone(),
            created_by: self.created_by.clone(),
            ..natter_protocol::Group::default()
        }
    }
}

/// Groups and who is in them.
#[async_trait]
pub trait Groups: Send + Sync {
    /// Stores a new group (its id is fresh).
    async fn create_group(&self, group: GroupRecord) -> StoreResult<()>;

    /// The group with this id.
    async fn group(&self, group_id: &str) -> StoreResult<Option<GroupRecord>>;

    /// Adds members (those already in stay where they are); the group after, `None` if it does
    /// not exist.
    async fn add_members(
        &self,
        group_id: &str,
        members: &[String],
    ) -> StoreResult<Option<GroupRecord>>;

    /// Removes one member; the group after, `None` if it does not exist. Its messages stay.
    async fn remove_member(
        &self,
        group_id: &str,
        user_id: &str,
    ) -> StoreResult<Option<GroupRecord>>;

    /// The groups `user_id` is a member of, oldest first.
    async fn groups_of(&self, user_id: &str) -> StoreResult<Vec<GroupRecord>>;

    /// For each group: its most recent `per_group` messages (oldest first) and, for
    /// `user_id`, how many messages from others follow their read marker.
    async fn recent_in_groups(
        &self,
        user_id: &str,
        group_ids: &[String],
        per_group: u32,
    ) -> StoreResult<Vec<RecentGroup>>;
}
