//! The store: sessions, users, presence, messages, read markers, groups and files.
//!
//! Handlers only talk to [`Store`]; they never see SQL or Redis. It is one trait per concern
//! ([`Identities`], [`Presence`], [`Messages`], [`Changes`], [`Awareness`], [`Groups`],
//! [`Files`], [`Upkeep`]: snapshots and retention, [`Announcements`]) and `Store` is all of
//! them plus the health check: each backend implements each concern in a file of that name
//! (`sqlite/groups.rs`, `redis/groups.rs`), so a reader finds "groups" in a file named groups.
//! The embedded SQLite implementation ([`sqlite::SqliteStore`]) is the default; the shared one
//! for several nodes ([`redis::RedisStore`]) plugs in behind the same traits.
//!
//! Invariants every implementation keeps:
//! - a message is durably committed before `insert_message` returns (so before any ack or
//!   delivery);
//! - the same `(from, client_id)` is stored once; a retry returns the original message;
//! - only a hash of a sessionID is kept, never the secret itself;
//! - two identities never get names with the same [`crate::accounts::name_key`] (databases made
//!   before names were compared this way may hold such pairs: both keep working);
//! - a revoked session is refused by every node from the moment `revoke_*` returns.

mod announcements;
mod awareness;
mod changes;
mod files;
mod groups;
mod identities;
mod messages;
mod presence;
pub mod redis;
pub mod sqlite;
mod upkeep;

use async_trait::async_trait;

pub use announcements::{AnnouncementRecord, Announcements};
pub use awareness::{Awareness, MAX_UNREAD_COUNTED, Marked, NotInConversation, ReadState};
pub use changes::{ChangeRefused, Changed, Changes, Deletion, Reaction};
pub use files::{FileRecord, Files};
pub use groups::{GroupRecord, Groups, RecentGroup};
pub use identities::{Account, Identities, ListedUser, NameTaken, NewUser, Renamed, UserRecord};
pub use messages::{
    Conversation, Found, Inserted, Messages, NewMessage, SearchRequest, SearchUnsupported,
};
pub use presence::Presence;
pub use upkeep::{Counts, Expired, Upkeep};

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
    /// This store cannot do it (what to do instead is in the text).
    #[error("{0}")]
    Unsupported(&'static str),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Everything the handlers ask of a store.
#[async_trait]
pub trait Store:
    Identities
    + Presence
    + Messages
    + Changes
    + Awareness
    + Groups
    + Files
    + Upkeep
    + Announcements
    + Send
    + Sync
    + 'static
{
    /// Whether a write can be committed now (the writer runs, the disk has room, Redis
    /// answers): what `/healthz` reports.
    async fn check_writable(&self) -> StoreResult<()>;
}
