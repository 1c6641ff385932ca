//! Persistence of the session and the outbox, through tauri-plugin-store.

use std::sync::Arc;

use natter_protocol::ipc::OutboxEntry;
use tauri::Runtime;
use tauri_plugin_store::Store;

use crate::models::SavedSession;

const SESSION_KEY: &str = "session";
const OUTBOX_KEY: &str = "outbox";

/// Where the connection manager keeps what must survive a restart of the app.
pub trait Persist: Send + 'static {
    fn load(&self) -> (Option<SavedSession>, Vec<OutboxEntry>);
    fn save_session(&self, session: Option<&SavedSession>);
    fn save_outbox(&self, outbox: &[OutboxEntry]);
}

/// A tauri-plugin-store file (`natter.json` in the app data dir).
pub struct StorePersist<R: Runtime>(pub Arc<Store<R>>);

impl<R: Runtime> StorePersist<R> {
    fn flush(&self) {
        if let Err(e) = self.0.save() {
            tracing::error!(error = %e, "could not save the app's state");
        }
    }
}

impl<R: Runtime> Persist for StorePersist<R> {
    fn load(&self) -> (Option<SavedSession>, Vec<OutboxEntry>) {
        let session = self
            .0
            .get(SESSION_KEY)
            .and_then(|v| serde_json::from_value(v).ok());
        let outbox = self
            .0
            .get(OUTBOX_KEY)
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default();
        (session, outbox)
    }

    fn save_session(&self, session: Option<&SavedSession>) {
        match session.map(serde_json::to_value) {
            Some(Ok(v)) => self.0.set(SESSION_KEY, v),
            Some(Err(e)) => tracing::error!(error = %e, "could not encode the session"),
            None => {
                self.0.delete(SESSION_KEY);
            }
        }
        self.flush();
    }

    fn save_outbox(&self, outbox: &[OutboxEntry]) {
        match serde_json::to_value(outbox) {
            Ok(v) => self.0.set(OUTBOX_KEY, v),
            Err(e) => tracing::error!(error = %e, "could not encode the outbox"),
        }
        self.flush();
    }
}
