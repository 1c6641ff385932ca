//! The SQLite store's tests, one file per concern, sharing these helpers. Real files in
//! temporary directories.

mod changes;
mod client_ids;
mod conversation_index;
mod identities;
mod message_ids;
mod messages;
mod schema;
mod search;
mod writer;

use super::SqliteStore;
use crate::store::{Identities, Messages, NewMessage, NewUser, SearchRequest};

pub(super) fn new_user(session_id: &str, user_id: &str, username: &str) -> NewUser {
    NewUser {
        session_id: session_id.into(),
        user_id: user_id.into(),
        username: username.into(),
        ..Default::default()
    }
}

pub(super) async fn create(store: &SqliteStore, session_id: &str, user_id: &str, username: &str) {
    store
        .create_user(new_user(session_id, user_id, username))
        .await
        .unwrap()
        .unwrap();
}

pub(super) fn msg(from: &str, to: &str, content: &str, client_id: Option<&str>) -> NewMessage {
    NewMessage {
        from: from.into(),
        to: to.into(),
        content: content.into(),
        client_id: client_id.map(Into::into),
        attachment: None,
        ..NewMessage::default()
    }
}

/// Waits until the writer has indexed every message (it does when idle).
pub(super) async fn indexed(store: &SqliteStore) {
    for _ in 0..500 {
        if store.unindexed() == 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("the index did not catch up");
}

pub(super) async fn search(store: &SqliteStore, who: &str, q: &str, limit: u32) -> Vec<String> {
    store
        .search(SearchRequest {
            user_id: who,
            text: q,
            within: None,
            limit,
        })
        .await
        .unwrap()
        .unwrap()
        .into_iter()
        .map(|m| m.content)
        .collect()
}
