//! Presence in the SQLite store: in the directory only (one node; everyone starts offline);
//! the status people set in `users` too, so it outlasts a restart.

use async_trait::async_trait;
use natter_protocol::Status;
use rusqlite::params;

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

    async fn set_status(&self, user_id: &str, status: &Status) -> StoreResult<()> {
        let (uid, state, text) = (
            user_id.to_owned(),
            (!status.state.is_available()).then(|| status.state.as_str()),
            status.text.clone(),
        );
        self.directory_write(move |conn| {
            conn.prepare_cached(
                "UPDATE users SET status = ?2, status_text = ?3 WHERE user_id = ?1",
            )?
            .execute(params![uid, state, text])
        })
        .await?;
        if let Some(e) = self.directory_mut().entry_mut(user_id) {
            e.restatus(status.clone());
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
