//! Presence: which users have a socket, on this node and on any live node (runtime state, not
//! history: every user starts offline when a node starts), and the status people set.

use async_trait::async_trait;
use natter_protocol::Status;

use super::StoreResult;

/// Who is online.
#[async_trait]
pub trait Presence: Send + Sync {
    /// Records whether the user has a socket on this node.
    async fn set_connected(&self, user_id: &str, connected: bool) -> StoreResult<()>;

    /// Whether the user has a socket on any live node.
    async fn is_connected(&self, user_id: &str) -> StoreResult<bool>;

    /// Records a person's status (kept across restarts; going offline keeps it). The user
    /// list carries it.
    async fn set_status(&self, user_id: &str, status: &Status) -> StoreResult<()>;
}
