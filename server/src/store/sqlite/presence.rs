//! Presence in the SQLite store: in the directory only (one node; everyone starts offline).

use async_trait::async_trait;

use super::SqliteStore;
use crate::store::{Presence, StoreResult};

#[async_trait]
impl Presence for SqliteStore {
    async fn set_connected(&self, user_id: &str, connected: bool) -> StoreResult<()> {
        let mut dir = self.directory_mut();
        if let Some(e) = dir.entry_mut(user_id)
            && e.listed.connected != connected
        {
            e.relist(None, connected);
        }
        Ok(())
    }

    async fn is_connected(&self, user_id: &str) -> StoreResult<bool> {
        Ok(self
            .directory()
            .entry(user_id)
            .is_some_and(|e| e.listed.connected))
    }
}
