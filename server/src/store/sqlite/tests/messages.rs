//! Messages: durable, idempotent, paged, and found again after reopening.

use super::{create, msg};
use crate::store::sqlite::SqliteStore;
use crate::store::{Conversation, Identities, Inserted, Messages, Presence};

#[tokio::test]
async fn sessions_and_messages_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = SqliteStore::open(dir.path()).unwrap();
        create(&store, "secret-a", "ua", "alice").await;
        create(&store, "secret-b", "ub", "bob").await;
        store.set_connected("ua", true).await.unwrap();
        for i in 0..5 {
            store
                .insert_message(msg("ua", "ub", &format!("m{i}"), None))
                .await
                .unwrap();
        }
    }
    let store = SqliteStore::open(dir.path()).unwrap();
    let alice = store.find_session("secret-a").await.unwrap().unwrap();
    assert_eq!(alice.user_id, "ua");
    assert!(!alice.connected, "presence starts offline after a restart");
    assert!(store.find_session("ua").await.unwrap().is_none());
    let conv = store.recent_conversations("ub", 3).await.unwrap();
    assert_eq!(conv.len(), 1);
    let contents: Vec<_> = conv[0].1.iter().map(|m| m.content.as_str()).collect();
    assert_eq!(contents, ["m2", "m3", "m4"]);
}

#[tokio::test]
async fn client_id_makes_inserts_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let first = store
        .insert_message(msg("ua", "ub", "hello", Some("c1")))
        .await
        .unwrap();
    let Inserted::New(first) = first else {
        panic!("first insert must be new")
    };
    let again = store
        .insert_message(msg("ua", "ub", "hello", Some("c1")))
        .await
        .unwrap();
    assert_eq!(again, Inserted::Duplicate(first.clone()));
    // Another sender may use the same key.
    let other = store
        .insert_message(msg("ub", "ua", "hello", Some("c1")))
        .await
        .unwrap();
    assert!(matches!(other, Inserted::New(_)));
    let (page, _) = store
        .page(Conversation::Private("ua", "ub"), None, 10)
        .await
        .unwrap();
    assert_eq!(page.len(), 2);
}

#[tokio::test]
async fn every_conversation_is_found_after_reopening() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = SqliteStore::open(dir.path()).unwrap();
        for (from, to) in [("ua", "ub"), ("uc", "ua"), ("ud", "uc"), ("ud", "uc")] {
            store
                .insert_message(msg(from, to, "x", None))
                .await
                .unwrap();
        }
    }
    let store = SqliteStore::open(dir.path()).unwrap();
    let peers = |user: &'static str| {
        let store = &store;
        async move {
            let mut p: Vec<_> = store
                .recent_conversations(user, 10)
                .await
                .unwrap()
                .into_iter()
                .map(|(peer, messages)| (peer, messages.len()))
                .collect();
            p.sort();
            p
        }
    };
    assert_eq!(peers("ua").await, [("ub".into(), 1), ("uc".into(), 1)]);
    assert_eq!(peers("uc").await, [("ua".into(), 1), ("ud".into(), 2)]);
    assert_eq!(peers("ue").await, []);
}

#[tokio::test]
async fn paging_walks_back_without_gaps() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    for i in 0..25 {
        store
            .insert_message(msg("ua", "ub", &format!("{i}"), None))
            .await
            .unwrap();
        // noise in another conversation
        store
            .insert_message(msg("ua", "uc", "x", None))
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    let mut before = None;
    loop {
        let (page, more) = store
            .page(Conversation::Private("ub", "ua"), before, 10)
            .await
            .unwrap();
        before = page.first().map(|m| m.id);
        let mut contents: Vec<_> = page.into_iter().map(|m| m.content).collect();
        contents.extend(seen);
        seen = contents;
        if !more {
            break;
        }
    }
    let expected: Vec<_> = (0..25).map(|i| i.to_string()).collect();
    assert_eq!(seen, expected);
}
