//! The `clientId` index written in bulk: a retry is acked again whether its entry is pending
//! in memory, merged, or was left unmerged by a crash; an expired message frees its `clientId`.

use natter_protocol::Message;
use rusqlite::{Connection, params};

use super::msg;
use crate::store::sqlite::SqliteStore;
use crate::store::sqlite::client_ids::PENDING_TARGET;
use crate::store::{Inserted, Messages, Upkeep};

const SENDERS: [&str; 3] = ["ua", "ub", "uc"];

/// Sends `n` messages, each with a `clientId` of its own, one commit each (so the writer
/// merges under load as it goes); the stored messages.
async fn send(store: &SqliteStore, n: usize, tag: &str) -> Vec<Message> {
    let mut sent = Vec::with_capacity(n);
    for i in 0..n {
        let inserted = store
            .insert_message(msg(
                SENDERS[i % 3],
                "ud",
                &format!("{tag}{i}"),
                Some(&format!("{tag}-c{i}")),
            ))
            .await
            .unwrap();
        let Inserted::New(m) = inserted else {
            panic!("a first send must be new: {inserted:?}")
        };
        sent.push(m);
    }
    sent
}

async fn retry(store: &SqliteStore, m: &Message) -> Inserted {
    store
        .insert_message(msg(&m.from, &m.to, &m.content, m.client_id.as_deref()))
        .await
        .unwrap()
}

/// Messages in the database, read beside the store.
fn stored(dir: &std::path::Path) -> u64 {
    Connection::open(dir.join("natter.db"))
        .unwrap()
        .query_row("SELECT count(*) FROM messages", [], |r| r.get::<_, i64>(0))
        .unwrap() as u64
}

#[tokio::test]
async fn a_retry_is_acked_again_wherever_its_entry_is() {
    let dir = tempfile::tempdir().unwrap();
    let n = 3 * PENDING_TARGET + 5;
    let sent = {
        let store = SqliteStore::open(dir.path()).unwrap();
        let sent = send(&store, n, "m").await;
        // Some entries are merged by now, the newest still in memory.
        for m in &sent {
            assert_eq!(retry(&store, m).await, Inserted::Duplicate(m.clone()));
        }
        assert_eq!(stored(dir.path()), n as u64);
        sent
    };
    let path = dir.path().join("natter.db");
    let merged: i64 = Connection::open(&path)
        .unwrap()
        .query_row("SELECT count(*) FROM client_ids", [], |r| r.get(0))
        .unwrap();
    assert!(merged > 0, "the writer merged under load");
    // A crash: the newer half of the entries never reached the table.
    let half = sent[n / 2].id as i64;
    Connection::open(&path)
        .unwrap()
        .execute_batch(&format!(
            "DELETE FROM client_ids WHERE id >= {half}; \
             UPDATE client_ids_merged SET up_to = {};",
            half - 1
        ))
        .unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    for m in &sent {
        assert_eq!(retry(&store, m).await, Inserted::Duplicate(m.clone()));
    }
    assert_eq!(stored(dir.path()), n as u64, "no retry stored twice");
    let (entries, up_to): (i64, i64) = Connection::open(&path)
        .unwrap()
        .query_row(
            "SELECT (SELECT count(*) FROM client_ids), (SELECT up_to FROM client_ids_merged)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(
        entries, n as i64,
        "recovered at start: every clientId in the table"
    );
    assert_eq!(up_to, sent[n - 1].id as i64);
}

#[tokio::test]
async fn an_expired_message_frees_its_client_id_merged_or_not() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let n = 2 * PENDING_TARGET + 3;
    let sent = send(&store, n, "old").await;
    let expired = store
        .expire(natter_protocol::now_ms() + 1000)
        .await
        .unwrap();
    assert_eq!(expired.messages, n as u64);
    for m in &sent {
        match retry(&store, m).await {
            Inserted::New(again) => assert!(again.id > m.id, "stored anew"),
            other => panic!("the expired message was acked again: {other:?}"),
        }
    }
    assert_eq!(stored(dir.path()), n as u64);
    // And the new ones are found again.
    for m in &sent {
        assert!(matches!(retry(&store, m).await, Inserted::Duplicate(_)));
    }
    drop(store);
    let conn = Connection::open(dir.path().join("natter.db")).unwrap();
    let stale: i64 = conn
        .query_row(
            "SELECT count(*) FROM client_ids c LEFT JOIN messages m ON m.id = c.id \
             WHERE m.id IS NULL OR m.sender != c.sender OR m.client_id != c.client_id",
            params![],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(stale, 0, "no entry names a message that is gone");
}
