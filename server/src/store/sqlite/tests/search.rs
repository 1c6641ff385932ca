//! Search: the same answers whatever the index holds yet.

use super::{create, indexed, msg, search};
use crate::store::sqlite::SqliteStore;
use crate::store::{Conversation, GroupRecord, Groups, Identities, Messages, SearchRequest};

#[tokio::test]
async fn search_answers_the_same_before_and_after_indexing() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    // Many matches in other people's conversations, a few in ua's, oldest first.
    store
        .insert_message(msg("ua", "ub", "Pizza on Friday", None))
        .await
        .unwrap();
    for i in 0..2500 {
        store
            .insert_message(msg("uc", "ud", &format!("pizza {i}"), None))
            .await
            .unwrap();
    }
    store
        .create_group(GroupRecord {
            group_id: "g-1".into(),
            name: "team".into(),
            members: vec!["ua".into(), "ue".into()],
            created_by: "ua".into(),
        })
        .await
        .unwrap();
    store
        .insert_message(msg("ue", "g-1", "PIZZA in the group", None))
        .await
        .unwrap();
    store
        .insert_message(msg("ua", "ub", "no match here", None))
        .await
        .unwrap();
    let expected = ["PIZZA in the group", "Pizza on Friday"];
    let within = |c| {
        let store = &store;
        async move {
            store
                .search(SearchRequest {
                    user_id: "ua",
                    text: "pizza",
                    within: Some(c),
                    limit: 10,
                })
                .await
                .unwrap()
                .unwrap()
                .len()
        }
    };
    assert_eq!(within(Conversation::Private("ua", "ub")).await, 1);
    assert_eq!(within(Conversation::Group("g-1")).await, 1);
    // Whatever the index holds yet.
    assert_eq!(search(&store, "ua", "pizza", 10).await, expected);
    indexed(&store).await;
    // From the index; the 2,500 others' matches are passed over.
    assert_eq!(search(&store, "ua", "pizza", 10).await, expected);
    assert_eq!(within(Conversation::Private("ua", "ub")).await, 1);
    assert_eq!(within(Conversation::Group("g-1")).await, 1);
    assert_eq!(search(&store, "ua", "izz", 1).await, ["PIZZA in the group"]);
    assert!(
        search(&store, "ub", "group", 10).await.is_empty(),
        "not ub's group"
    );
    assert_eq!(
        search(&store, "ud", "pizza", 3).await,
        ["pizza 2499", "pizza 2498", "pizza 2497"]
    );
    // Survives a restart, and removals leave the index consistent.
    drop(store);
    let store = SqliteStore::open(dir.path()).unwrap();
    assert_eq!(search(&store, "ua", "pizza", 10).await, expected);
    create(&store, "s-c", "uc", "carol").await;
    assert!(store.remove_user("uc").await.unwrap());
    assert!(search(&store, "ud", "pizza", 3).await.is_empty());
    store
        .insert_message(msg("ub", "ua", "more pizza", None))
        .await
        .unwrap();
    indexed(&store).await;
    assert_eq!(search(&store, "ua", "pizza", 10).await.len(), 3);
    // FTS5's own check: the index matches the messages it claims to hold.
    store
        .directory_write(|c| {
            c.execute(
                "INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 1)",
                [],
            )
        })
        .await
        .expect("the index is consistent");
}
