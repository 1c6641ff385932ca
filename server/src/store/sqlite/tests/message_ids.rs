//! Message ids are never given twice, even once retention took the newest messages: before,
//! SQLite handed their ids out again and every "up to id" cursor (search index, read markers)
//! skipped the new messages.

use super::{indexed, msg, search};
use crate::store::sqlite::SqliteStore;
use crate::store::{Inserted, Messages, Upkeep};

async fn send(store: &SqliteStore, content: &str) -> u64 {
    match store
        .insert_message(msg("ua", "ub", content, None))
        .await
        .unwrap()
    {
        Inserted::New(m) => m.id,
        other => panic!("a send without clientId is new: {other:?}"),
    }
}

#[tokio::test]
async fn after_retention_took_everything_ids_go_on_and_new_messages_are_found() {
    let dir = tempfile::tempdir().unwrap();
    let last = {
        let store = SqliteStore::open(dir.path()).unwrap();
        let mut last = 0;
        for i in 0..50 {
            last = send(&store, &format!("pizza {i}")).await;
        }
        indexed(&store).await;
        let expired = store
            .expire(natter_protocol::now_ms() + 1000)
            .await
            .unwrap();
        assert_eq!(expired.messages, 50);
        // While running, and after a restart.
        let next = send(&store, "pizza while running").await;
        assert!(next > last, "id {next} given again (last was {last})");
        next
    };
    let store = SqliteStore::open(dir.path()).unwrap();
    let next = send(&store, "pizza after a restart").await;
    assert!(next > last, "id {next} given again (last was {last})");
    indexed(&store).await;
    assert_eq!(
        search(&store, "ua", "pizza", 10).await,
        ["pizza after a restart", "pizza while running"]
    );
}
