//! What an export holds, the same from the server (`natter-server admin export`, one file per
//! conversation) and from the app ("Export…", the JSON beside the web page): a conversation
//! named as its reader sees it, with every message, oldest first.

use serde::{Deserialize, Serialize};

use crate::Message;

/// One exported conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportedConversation {
    /// The other person's userID, or the groupID.
    pub with: String,
    /// Their name as the reader sees it, or the group's.
    pub name: String,
    /// Oldest first.
    pub messages: Vec<Message>,
}
