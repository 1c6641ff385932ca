//! The store: sessions, users, presence and messages behind one interface.
//!
//! Handlers only talk to [`Store`]; they never see SQL or Redis. The embedded SQLite
//! implementation ([`sqlite::SqliteStore`]) is the default; a shared implementation for several
//! nodes plugs in behind the same trait.
//!
//! Invariants every implementation keeps:
//! - a message is durably committed before `insert_message` returns (so before any ack or
//!   delivery);
//! - the same `(from, client_id)` is stored once; a retry returns the original message;
//! - only a hash of a sessionID is kept, never the secret itself;
//! - two identities never get names with the same [`crate::accounts::name_key`] (databases made
//!   before names were compared this way may hold such pairs: both keep working);
//! - a revoked session is refused by every node from the moment `revoke_*` returns.

pub mod redis;
mod search;
pub mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;
use natter_protocol::{Attachment, FileInfo, Message, User};
use serde_json::value::RawValue;

/// One entry of the user list. Shared, and with its `users` JSON for a reader who has no
/// conversation with them made once per change of name or presence: a login storm lists
/// everyone to every newcomer, and copies these bytes instead of serialising each user again.
#[derive(Debug, Clone)]
pub struct ListedUser {
    pub user_id: Arc<str>,
    pub username: Arc<str>,
    pub connected: bool,
    /// What serialising `User {userID, username, connected, messages: []}` gives.
    pub json: Arc<RawValue>,
}

impl ListedUser {
    pub fn new(user_id: Arc<str>, username: Arc<str>, connected: bool) -> Self {
        let json = ListedUser::entry_json(&user_id, &username, connected);
        Self {
            user_id,
            username,
            connected,
            json,
        }
    }

    fn entry_json(user_id: &str, username: &str, connected: bool) -> Arc<RawValue> {
        let user = User {
            user_id: user_id.to_owned(),
            username: username.to_owned(),
            connected,
            ..User::default()
        };
        // Strings and booleans always serialise; `null` would only mark a bug.
        serde_json::value::to_raw_value(&user)
            .unwrap_or_else(|_| RawValue::NULL.to_owned())
            .into()
    }
}

/// A user as the store knows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub user_id: String,
    pub username: String,
    pub connected: bool,
}

/// An identity with what signing in by name needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub user_id: String,
    pub username: String,
    /// argon2id PHC string; `None` for a name without a password.
    pub password_hash: Option<String>,
}

/// A new identity and its first session.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// The secret; the store keeps only its hash.
    pub session_id: String,
    pub user_id: String,
    pub username: String,
    pub password_hash: Option<String>,
}

/// A name another identity holds (compared with [`crate::accounts::name_key`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("name taken")]
pub struct NameTaken;

/// A message to store; the store assigns `id` and `ts`.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub from: String,
    pub to: String,
    pub content: String,
    pub client_id: Option<String>,
    pub attachment: Option<Attachment>,
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

/// A group as the store knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRecord {
    pub group_id: String,
    pub name: String,
    /// In the order they joined.
    pub members: Vec<String>,
    pub created_by: String,
}

impl GroupRecord {
    pub fn has_member(&self, user_id: &str) -> bool {
        self.members.iter().any(|m| m == user_id)
    }
}

/// An uploaded file's record (its bytes are in the files dir).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRecord {
    pub info: FileInfo,
    pub uploader: String,
}

/// This store cannot search (Redis has no full-text index here).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("search is not supported by this store")]
pub struct SearchUnsupported;

/// `read`'s `upTo` is not a message of that conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a message of that conversation")]
pub struct NotInConversation;

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

/// What `insert_message` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inserted {
    /// Stored now: deliver it.
    New(Message),
    /// The same `(from, client_id)` was stored before: ack it again, deliver nothing.
    Duplicate(Message),
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the store's writer has stopped")]
    WriterGone,
    #[error("a blocking store task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
    #[error("opening the database: {0}")]
    Open(String),
    #[error("the database schema: {0}")]
    Schema(String),
    #[error("commit failed: {0}")]
    Commit(String),
    #[error("redis: {0}")]
    Redis(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// The user owning this sessionID, if any.
    async fn find_session(&self, session_id: &str) -> StoreResult<Option<UserRecord>>;

    /// Every identity whose name is the same as `username` (after normalisation): one at
    /// most, except in databases made before names were compared this way.
    async fn accounts_named(&self, username: &str) -> StoreResult<Vec<Account>>;

    /// The identity with this userID.
    async fn account(&self, user_id: &str) -> StoreResult<Option<Account>>;

    /// Stores a new identity with its first session, unless another identity holds the name.
    async fn create_user(&self, user: NewUser) -> StoreResult<Result<UserRecord, NameTaken>>;

    /// Adds a session (a second device, a reinstall) to an existing identity.
    async fn add_session(&self, session_id: &str, user_id: &str) -> StoreResult<()>;

    /// Revokes one session; whether it existed.
    async fn revoke_session(&self, session_id: &str) -> StoreResult<bool>;

    /// Revokes every session of a user; how many there were.
    async fn revoke_user_sessions(&self, user_id: &str) -> StoreResult<usize>;

    /// How many sessions each user has (users without any are absent).
    async fn session_counts(&self) -> StoreResult<std::collections::HashMap<String, usize>>;

    /// Sets (or with `None` clears) the password hash of a user.
    async fn set_password(&self, user_id: &str, password_hash: Option<String>) -> StoreResult<()>;

    /// Gives a user a new name, unless another identity holds it.
    async fn rename_user(
        &self,
        user_id: &str,
        username: &str,
    ) -> StoreResult<Result<(), NameTaken>>;

    /// Removes a user, their sessions and every message of their conversations; whether the
    /// user existed.
    async fn remove_user(&self, user_id: &str) -> StoreResult<bool>;

    /// Whether a write can be committed now (the writer runs, the disk has room, Redis
    /// answers): what `/healthz` reports.
    async fn check_writable(&self) -> StoreResult<()>;

    /// Records whether the user has a socket on this node.
    async fn set_connected(&self, user_id: &str, connected: bool) -> StoreResult<()>;

    /// Whether the user has a socket on any live node.
    async fn is_connected(&self, user_id: &str) -> StoreResult<bool>;

    /// Whether this userID exists.
    async fn user_exists(&self, user_id: &str) -> StoreResult<bool>;

    /// Every known user.
    async fn users(&self) -> StoreResult<Vec<ListedUser>>;

    /// Stores a message, committed before it returns; idempotent on `(from, client_id)`.
    async fn insert_message(&self, message: NewMessage) -> StoreResult<Inserted>;

    /// For each user `user_id` has a conversation with: the most recent `per_peer` messages,
    /// oldest first. Cost depends on the user's conversations, not on the total stored.
    async fn recent_conversations(
        &self,
        user_id: &str,
        per_peer: u32,
    ) -> StoreResult<Vec<(String, Vec<Message>)>>;

    /// Moves `reader`'s marker in its conversation with `peer` to `up_to`, a message of that
    /// conversation; markers never move back. The new marker when it moved, `None` when it
    /// was already there or further.
    async fn mark_read(
        &self,
        reader: &str,
        peer: &str,
        up_to: u64,
    ) -> StoreResult<Result<Option<u64>, NotInConversation>>;

    /// For each conversation of `user_id`, keyed by the other person: its unread count and how
    /// far the other person has read (if they share that).
    async fn read_states(
        &self,
        user_id: &str,
    ) -> StoreResult<std::collections::HashMap<String, ReadState>>;

    /// Whether others see `user_id`'s read markers.
    async fn set_receipts(&self, user_id: &str, send: bool) -> StoreResult<()>;

    /// See [`Store::set_receipts`]; on by default.
    async fn sends_receipts(&self, user_id: &str) -> StoreResult<bool>;

    /// Up to `limit` messages of a conversation with an id below `before` (all when `None`),
    /// oldest first, and whether older ones exist.
    async fn page(
        &self,
        conversation: Conversation<'_>,
        before: Option<u64>,
        limit: u32,
    ) -> StoreResult<(Vec<Message>, bool)>;

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
    ) -> StoreResult<Vec<(String, Vec<Message>, u64)>>;

    /// Records an uploaded file (its bytes are already in place).
    async fn insert_file(&self, file: FileRecord) -> StoreResult<()>;

    /// The file with this id.
    async fn file(&self, file_id: &str) -> StoreResult<Option<FileRecord>>;

    /// Whether the file was sent to `user_id`: in a private message to them, or to a group they
    /// are a member of now. (Its uploader, the only one who can send it, has it anyway.)
    async fn file_sent_to(&self, file_id: &str, user_id: &str) -> StoreResult<bool>;

    /// Messages of `user_id`'s own conversations (or of `within`, one of them) whose content
    /// holds `query` (case-insensitive), newest first.
    async fn search(
        &self,
        user_id: &str,
        query: &str,
        within: Option<Conversation<'_>>,
        limit: u32,
    ) -> StoreResult<Result<Vec<Message>, SearchUnsupported>>;
}
