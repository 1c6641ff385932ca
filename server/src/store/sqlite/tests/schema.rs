//! Migrations: older databases upgraded, newer ones refused.

use rusqlite::Connection;

use crate::store::Messages;
use crate::store::sqlite::SqliteStore;
use crate::store::sqlite::schema::MIGRATIONS;

#[tokio::test]
async fn a_database_of_the_first_schema_is_upgraded() {
    let dir = tempfile::tempdir().unwrap();
    {
        let conn = Connection::open(dir.path().join("natter.db")).unwrap();
        conn.execute_batch(MIGRATIONS[0]).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.execute_batch(
            "INSERT INTO messages (sender, recipient, user_lo, user_hi, content, ts) \
             VALUES ('ub', 'ua', 'ua', 'ub', 'old', 1); \
             INSERT INTO conversations VALUES ('ua', 'ub'), ('ub', 'ua');",
        )
        .unwrap();
    }
    let store = SqliteStore::open(dir.path()).unwrap();
    let conv = store.recent_conversations("ua", 10).await.unwrap();
    assert_eq!(conv.len(), 1);
    assert_eq!(conv[0].0, "ub");
    assert_eq!(conv[0].1[0].content, "old");
    drop(store);
    let conn = Connection::open(dir.path().join("natter.db")).unwrap();
    let version: usize = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, MIGRATIONS.len());
}

#[tokio::test]
async fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(SqliteStore::open(dir.path()).unwrap());
    let conn = Connection::open(dir.path().join("natter.db")).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let err = SqliteStore::open(dir.path()).err().unwrap();
    assert!(err.to_string().contains("newer"), "{err}");
}
