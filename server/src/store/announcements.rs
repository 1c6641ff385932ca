//! The operator's announcements, kept so that whoever logs in later still gets them.

use async_trait::async_trait;
use natter_protocol::Announcement;

use super::StoreResult;

/// An announcement with what the operator did to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnouncementRecord {
    pub announcement: Announcement,
    pub withdrawn: bool,
}

#[async_trait]
pub trait Announcements: Send + Sync {
    /// Stores a new announcement (`until`: ms since the epoch).
    async fn announce(&self, text: &str, until: Option<i64>) -> StoreResult<Announcement>;

    /// The announcements standing at `now_ms` (not withdrawn, not expired), oldest first.
    async fn standing_announcements(&self, now_ms: i64) -> StoreResult<Vec<Announcement>>;

    /// Every announcement ever made, oldest first.
    async fn all_announcements(&self) -> StoreResult<Vec<AnnouncementRecord>>;

    /// Withdraws announcement `id`; whether it stood.
    async fn withdraw_announcement(&self, id: u64) -> StoreResult<bool>;
}
