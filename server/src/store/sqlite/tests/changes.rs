//! Edits, deletions, replies, reactions, mentions and status: what each leaves in history,
//! search, unread counts and files, and that it all outlasts a reopening.

use natter_protocol::{Attachment, FileInfo, React, Status, StatusState};

use super::{create, indexed, msg, search};
use crate::store::sqlite::SqliteStore;
use crate::store::{
    Awareness, ChangeRefused, Changes, Conversation, FileRecord, Files, GroupRecord, Groups,
    Identities, Inserted, Messages, NewMessage, Presence,
};

async fn send(store: &SqliteStore, m: NewMessage) -> natter_protocol::Message {
    match store.insert_message(m).await.unwrap() {
        Inserted::New(m) => m,
        other => panic!("not stored anew: {other:?}"),
    }
}

fn react(id: u64, emoji: &str, on: bool) -> React {
    React {
        id,
        emoji: emoji.into(),
        on,
    }
}

#[tokio::test]
async fn an_edit_replaces_the_text_everywhere_it_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let typo = send(&store, msg("ua", "ub", "teh pineapple meeting", None)).await;
    let reply = send(
        &store,
        NewMessage {
            reply_to: Some(typo.id),
            ..msg("ub", "ua", "which one?", None)
        },
    )
    .await;
    assert_eq!(
        reply.reply_to.as_ref().and_then(|q| q.excerpt.as_deref()),
        Some("teh pineapple meeting")
    );
    indexed(&store).await;
    assert_eq!(
        store.edit_message("ub", typo.id, "x").await.unwrap(),
        Err(ChangeRefused::NotAuthor)
    );
    assert_eq!(
        store.edit_message("ua", 9999, "x").await.unwrap(),
        Err(ChangeRefused::UnknownMessage)
    );
    let edited = store
        .edit_message("ua", typo.id, "the mango meeting")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(edited.content, "the mango meeting");
    assert!(edited.edited_ts.is_some_and(|t| t >= typo.ts));
    // Search finds the new text and no longer the old (the old one was indexed already).
    assert_eq!(
        search(&store, "ua", "mango", 10).await,
        ["the mango meeting"]
    );
    assert!(search(&store, "ua", "pineapple", 10).await.is_empty());
    drop(store);
    let store = SqliteStore::open(dir.path()).unwrap();
    let (page, _) = store
        .page(Conversation::Private("ua", "ub"), None, 10)
        .await
        .unwrap();
    assert_eq!(page[0].content, "the mango meeting");
    assert_eq!(page[0].edited_ts, edited.edited_ts);
    assert_eq!(
        page[1].reply_to.as_ref().and_then(|q| q.excerpt.as_deref()),
        Some("the mango meeting"),
        "the reply quotes the text as it is now"
    );
    indexed(&store).await;
    fts5_consistent(&store).await;
}

/// FTS5's own check that the index holds what the messages say.
async fn fts5_consistent(store: &SqliteStore) {
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

#[tokio::test]
async fn a_deleted_message_keeps_its_place_and_loses_everything_else() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    create(&store, "sa", "ua", "alice").await;
    create(&store, "sb", "ub", "bob").await;
    let file = FileInfo {
        file: Attachment {
            file_id: "f1".into(),
            name: "a.png".into(),
            size: 3,
            media_type: "image/png".into(),
        },
        sha256: "00".into(),
    };
    store
        .insert_file(FileRecord {
            info: file.clone(),
            uploader: "ua".into(),
        })
        .await
        .unwrap();
    let first = send(&store, msg("ua", "ub", "one", None)).await;
    let secret = send(
        &store,
        NewMessage {
            attachment: Some(file.file.clone()),
            ..msg("ua", "ub", "secret plan", Some("c1"))
        },
    )
    .await;
    store
        .react("ub", &react(secret.id, "👍", true))
        .await
        .unwrap()
        .unwrap();
    let reply = send(
        &store,
        NewMessage {
            reply_to: Some(secret.id),
            ..msg("ub", "ua", "ok", None)
        },
    )
    .await;
    indexed(&store).await;
    assert_eq!(
        store.read_states("ub").await.unwrap()["ua"].unread,
        2,
        "both unread"
    );
    assert_eq!(
        store.delete_message("ub", secret.id).await.unwrap(),
        Err(ChangeRefused::NotAuthor)
    );
    let deletion = store
        .delete_message("ua", secret.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(deletion.message.content, "secret plan");
    assert_eq!(
        deletion.unused_file.as_deref(),
        Some("f1"),
        "no other message carries it"
    );
    assert!(store.file("f1").await.unwrap().is_none());
    assert!(!store.file_sent_to("f1", "ub").await.unwrap());
    assert_eq!(
        store.delete_message("ua", secret.id).await.unwrap(),
        Err(ChangeRefused::Deleted)
    );
    assert_eq!(
        store.edit_message("ua", secret.id, "again").await.unwrap(),
        Err(ChangeRefused::Deleted)
    );
    assert_eq!(
        store
            .react("ub", &react(secret.id, "🎉", true))
            .await
            .unwrap(),
        Err(ChangeRefused::Deleted)
    );
    assert!(search(&store, "ub", "secret", 10).await.is_empty());
    assert_eq!(store.read_states("ub").await.unwrap()["ua"].unread, 1);
    drop(store);
    let store = SqliteStore::open(dir.path()).unwrap();
    let (page, _) = store
        .page(Conversation::Private("ub", "ua"), None, 10)
        .await
        .unwrap();
    assert_eq!(page.len(), 3, "still in its place");
    assert_eq!(page[0], first);
    assert_eq!(page[1], secret.tombstone());
    let quote = page[2].reply_to.clone().unwrap();
    assert!(quote.deleted && quote.excerpt.is_none(), "{quote:?}");
    assert_eq!(page[2].id, reply.id);
    // A retry of the deleted message is not stored again.
    assert!(matches!(
        store
            .insert_message(msg("ua", "ub", "secret plan", Some("c1")))
            .await
            .unwrap(),
        Inserted::Duplicate(m) if m.deleted
    ));
}

#[tokio::test]
async fn reactions_are_kept_in_order_once_each() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let m = send(&store, msg("ua", "ub", "lunch?", None)).await;
    let r = store
        .react("ub", &react(m.id, "👍", true))
        .await
        .unwrap()
        .unwrap();
    assert!(r.changed);
    let again = store
        .react("ub", &react(m.id, "👍", true))
        .await
        .unwrap()
        .unwrap();
    assert!(!again.changed, "twice changes nothing");
    store
        .react("ua", &react(m.id, "🎉", true))
        .await
        .unwrap()
        .unwrap();
    store
        .react("ua", &react(m.id, "👍", true))
        .await
        .unwrap()
        .unwrap();
    drop(store);
    let store = SqliteStore::open(dir.path()).unwrap();
    let stored = store.message(m.id).await.unwrap().unwrap();
    let summary: Vec<(&str, Vec<&str>)> = stored
        .reactions
        .iter()
        .map(|r| {
            (
                r.emoji.as_str(),
                r.users.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(summary, [("👍", vec!["ub", "ua"]), ("🎉", vec!["ua"])]);
    let off = store
        .react("ua", &react(m.id, "🎉", false))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(off.message.reactions.len(), 1, "an emoji nobody gives goes");
}

#[tokio::test]
async fn mentions_count_while_unread_and_not_once_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    store
        .create_group(GroupRecord {
            group_id: "g-1".into(),
            name: "team".into(),
            members: vec!["ua".into(), "ub".into(), "uc".into()],
            created_by: "ua".into(),
        })
        .await
        .unwrap();
    let mentions = |who: &[&str]| who.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let one = send(
        &store,
        NewMessage {
            mentions: mentions(&["ub"]),
            ..msg("ua", "g-1", "@bob look", None)
        },
    )
    .await;
    send(&store, msg("uc", "g-1", "hello", None)).await;
    let two = send(
        &store,
        NewMessage {
            mentions: mentions(&["ub", "uc"]),
            ..msg("uc", "g-1", "@bob @carol", None)
        },
    )
    .await;
    assert_eq!(one.mentions, ["ub"]);
    let recent = |user| {
        let store = &store;
        async move {
            let r = store
                .recent_in_groups(user, &["g-1".to_owned()], 10)
                .await
                .unwrap()
                .remove(0);
            (r.unread, r.mentions)
        }
    };
    assert_eq!(recent("ub").await, (3, 2));
    assert_eq!(recent("uc").await, (1, 0), "own mentions are their own");
    store.mark_read("ub", "g-1", one.id).await.unwrap().unwrap();
    assert_eq!(recent("ub").await, (2, 1));
    store.delete_message("uc", two.id).await.unwrap().unwrap();
    assert_eq!(recent("ub").await, (1, 0));
}

#[tokio::test]
async fn a_status_outlasts_a_restart_and_is_in_the_user_list() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = SqliteStore::open(dir.path()).unwrap();
        create(&store, "sa", "ua", "alice").await;
        let away = Status {
            state: StatusState::Away,
            text: Some("lunch".into()),
        };
        store.set_status("ua", &away).await.unwrap();
        store.set_connected("ua", true).await.unwrap();
    }
    let store = SqliteStore::open(dir.path()).unwrap();
    let users = store.users().await.unwrap();
    assert_eq!(users[0].status.state, StatusState::Away);
    assert_eq!(
        serde_json::to_value(&*users[0].json).unwrap(),
        serde_json::json!({"userID": "ua", "username": "alice", "connected": false,
                           "messages": [], "status": "away", "statusText": "lunch"})
    );
    store.set_status("ua", &Status::default()).await.unwrap();
    assert!(store.users().await.unwrap()[0].status.state.is_available());
}
