//! Names, sessions, passwords, renames and removals.

use rusqlite::{Connection, params};

use super::{create, msg, new_user};
use crate::ids::hash_session_id;
use crate::store::sqlite::SqliteStore;
use crate::store::sqlite::schema::MIGRATIONS;
use crate::store::{Identities, Messages, NameTaken, Presence};

/// Every user's name, in the order the user list gives them.
async fn names(store: &SqliteStore) -> Vec<String> {
    let users = store.users().await.unwrap();
    users.into_iter().map(|u| u.username.to_string()).collect()
}

#[tokio::test]
async fn names_are_unique_after_normalisation_and_sessions_revocable() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = SqliteStore::open(dir.path()).unwrap();
        create(&store, "s-alice", "ua", "Alice").await;
        assert_eq!(
            store
                .create_user(new_user("s2", "ux", "ＡＬＩＣＥ"))
                .await
                .unwrap(),
            Err(NameTaken)
        );
        store.add_session("s-alice-2", "ua").await.unwrap();
        store.set_password("ua", Some("hash".into())).await.unwrap();
        assert_eq!(store.session_counts().await.unwrap()["ua"], 2);
        assert!(store.revoke_session("s-alice").await.unwrap());
        assert!(store.find_session("s-alice").await.unwrap().is_none());
        assert!(store.find_session("s-alice-2").await.unwrap().is_some());
    }
    // All of it is durable.
    let store = SqliteStore::open(dir.path()).unwrap();
    assert!(store.find_session("s-alice").await.unwrap().is_none());
    assert!(store.find_session("s-alice-2").await.unwrap().is_some());
    let named = store.accounts_named("alice").await.unwrap();
    assert_eq!(named.len(), 1);
    assert_eq!(named[0].password_hash.as_deref(), Some("hash"));
    assert_eq!(store.revoke_user_sessions("ua").await.unwrap(), 1);
    assert!(store.find_session("s-alice-2").await.unwrap().is_none());

    create(&store, "s-bob", "ub", "bob").await;
    assert_eq!(
        store.rename_user("ub", "ALICE").await.unwrap(),
        Err(NameTaken)
    );
    store.rename_user("ub", "Robert").await.unwrap().unwrap();
    assert!(store.accounts_named("bob").await.unwrap().is_empty());
    create(&store, "s-bob2", "ub2", "Bob").await;
    store
        .insert_message(msg("ua", "ub", "hi", None))
        .await
        .unwrap();
    assert!(store.remove_user("ua").await.unwrap());
    assert!(store.accounts_named("alice").await.unwrap().is_empty());
    assert!(
        store
            .recent_conversations("ub", 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(names(&store).await, ["Robert", "Bob"]);
    drop(store);
    let store = SqliteStore::open(dir.path()).unwrap();
    assert_eq!(names(&store).await, ["Robert", "Bob"]);
}

#[tokio::test]
async fn identities_sharing_a_name_from_before_keep_working() {
    let dir = tempfile::tempdir().unwrap();
    {
        let conn = Connection::open(dir.path().join("natter.db")).unwrap();
        conn.execute_batch(MIGRATIONS[0]).unwrap();
        conn.execute_batch(MIGRATIONS[1]).unwrap();
        conn.pragma_update(None, "user_version", 2).unwrap();
        for (uid, name, sid) in [("u1", "alice", "s1"), ("u2", "Alice", "s2")] {
            conn.execute(
                "INSERT INTO users (user_id, session_hash, username, created_at) \
                 VALUES (?1, ?2, ?3, 1)",
                params![uid, hash_session_id(sid), name],
            )
            .unwrap();
        }
    }
    let store = SqliteStore::open(dir.path()).unwrap();
    assert_eq!(
        store.find_session("s1").await.unwrap().unwrap().user_id,
        "u1"
    );
    assert_eq!(
        store.find_session("s2").await.unwrap().unwrap().user_id,
        "u2"
    );
    assert_eq!(store.accounts_named("ALICE").await.unwrap().len(), 2);
    assert_eq!(
        store
            .create_user(new_user("s3", "u3", "alice"))
            .await
            .unwrap(),
        Err(NameTaken)
    );
    store.rename_user("u2", "alice2").await.unwrap().unwrap();
    assert_eq!(store.accounts_named("alice").await.unwrap().len(), 1);
}

#[tokio::test]
async fn session_ids_are_not_stored_in_clear() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    create(&store, "very-secret-session", "ua", "alice").await;
    drop(store);
    let bytes = std::fs::read(dir.path().join("natter.db")).unwrap();
    let wal = std::fs::read(dir.path().join("natter.db-wal")).unwrap_or_default();
    let needle = b"very-secret-session";
    let found = |hay: &[u8]| hay.windows(needle.len()).any(|w| w == needle);
    assert!(!found(&bytes) && !found(&wal));
}

#[tokio::test]
async fn directory_identities_keep_their_id_and_carry_the_directorys_name() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = SqliteStore::open(dir.path()).unwrap();
        // A name of the server's own, with a password, then taken over by the directory.
        create(&store, "s-bob", "ub", "bob").await;
        store.set_password("ub", Some("hash".into())).await.unwrap();
        store
            .set_directory_identity("ub", Some("Bob Builder"))
            .await
            .unwrap();
        store
            .create_user(crate::store::NewUser {
                session_id: "s-alice".into(),
                user_id: "ua".into(),
                username: "alice".into(),
                directory: true,
                display_name: Some("Alice Liddell".into()),
                ..Default::default()
            })
            .await
            .unwrap()
            .unwrap();
        create(&store, "s-carol", "uc", "carol").await;
    }
    // Durable, and what logins and lists read.
    let store = SqliteStore::open(dir.path()).unwrap();
    let bob = store.account("ub").await.unwrap().unwrap();
    assert!(bob.directory, "taken over");
    assert_eq!(bob.password_hash, None, "its own password is dropped");
    assert_eq!(bob.display_name.as_deref(), Some("Bob Builder"));
    let mut people: Vec<String> = store
        .directory_accounts()
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.username)
        .collect();
    people.sort();
    assert_eq!(people, ["alice", "bob"], "carol is the server's own");
    let session = store.find_session("s-alice").await.unwrap().unwrap();
    assert_eq!(session.display_name.as_deref(), Some("Alice Liddell"));
    let listed = store.users().await.unwrap();
    let alice = listed.iter().find(|u| &*u.user_id == "ua").unwrap();
    let json: serde_json::Value = serde_json::from_str(alice.json.get()).unwrap();
    assert_eq!(json["displayName"], "Alice Liddell");
    assert_eq!(json["username"], "alice");
    let carol = listed.iter().find(|u| &*u.user_id == "uc").unwrap();
    let json: serde_json::Value = serde_json::from_str(carol.json.get()).unwrap();
    assert!(json.get("displayName").is_none(), "{json}");
    // A presence change keeps the name.
    store.set_connected("ua", true).await.unwrap();
    let listed = store.users().await.unwrap();
    let alice = listed.iter().find(|u| &*u.user_id == "ua").unwrap();
    assert!(alice.connected);
    assert_eq!(alice.display_name.as_deref(), Some("Alice Liddell"));
}
