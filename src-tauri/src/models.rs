//! What the app keeps on disk between runs (in the app data dir, per OS user).

use serde::{Deserialize, Serialize};

/// The identity to resume without asking: server, secret sessionID, public userID, name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SavedSession {
    pub server_url: String,
    #[serde(rename = "sessionID")]
    pub session_id: String,
    #[serde(rename = "userID")]
    pub user_id: String,
    pub username: String,
}

impl SavedSession {
    pub fn to_session(&self) -> natter_protocol::Session {
        natter_protocol::Session {
            session_id: self.session_id.clone(),
            user_id: self.user_id.clone(),
            username: self.username.clone(),
            // Until the server's `session` says otherwise.
            receipts: true,
        }
    }
}
