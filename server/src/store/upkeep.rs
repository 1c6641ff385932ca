//! Keeping a store for years: a consistent snapshot for backups, and retention (messages
//! older than a cut-off removed for good).

use std::path::Path;

use async_trait::async_trait;

use super::StoreResult;

/// What a snapshot holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Counts {
    pub users: u64,
    pub sessions: u64,
    pub messages: u64,
    pub groups: u64,
    pub files: u64,
}

/// What a retention run removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expired {
    pub messages: u64,
    /// Files no message carries any more: their bytes are the caller's to remove.
    pub unused_files: Vec<String>,
}

#[async_trait]
pub trait Upkeep: Send + Sync {
    /// Writes a consistent copy of everything stored to `into` (a file that must not exist
    /// yet) while writes go on; what it holds.
    async fn snapshot(&self, into: &Path) -> StoreResult<Counts>;

    /// Removes every message stored before `before_ms` (ms since the epoch), with what points
    /// at it: search entries, unread mentions, the quotes of replies (which then say the
    /// original is gone).
    async fn expire(&self, before_ms: i64) -> StoreResult<Expired>;
}
