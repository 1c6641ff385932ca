//! The writer: group commit, batches, a failing write alone, the WAL restarting under load
//! and truncated when quiet.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;

use tokio::sync::oneshot;

use super::{create, msg, new_user};
use crate::store::sqlite::SqliteStore;
use crate::store::sqlite::checkpoint::CHECKPOINT_QUIET;
use crate::store::sqlite::writer::{MAX_BATCH, WriteOp, gather};
use crate::store::{Conversation, Identities, Inserted, Messages};

#[tokio::test]
async fn concurrent_inserts_are_grouped_and_all_committed() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path()).unwrap());
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let s = store.clone();
            tokio::spawn(async move {
                s.insert_message(msg("ua", "ub", &format!("{i}"), Some(&format!("k{i}"))))
                    .await
            })
        })
        .collect();
    for t in tasks {
        assert!(matches!(t.await.unwrap().unwrap(), Inserted::New(_)));
    }
    let (page, more) = store
        .page(Conversation::Private("ub", "ua"), None, 500)
        .await
        .unwrap();
    assert_eq!(page.len(), 200);
    assert!(!more);
    assert!(page.windows(2).all(|w| w[0].id < w[1].id));
}

#[test]
fn a_batch_takes_what_is_queued_up_to_its_limit() {
    let (tx, rx) = mpsc::channel();
    let op = |i: usize| WriteOp::InsertMessage {
        message: msg("ua", "ub", &i.to_string(), None),
        reply: oneshot::channel().0,
    };
    for i in 0..MAX_BATCH + 10 {
        tx.send(op(i)).unwrap();
    }
    let mut batch = vec![op(0)];
    gather(&mut batch, &rx, false);
    assert_eq!(batch.len(), MAX_BATCH, "the queued writes join the first");
    batch.clear();
    batch.push(op(0));
    gather(&mut batch, &rx, true);
    assert_eq!(batch.len(), 12, "after the linger, the rest");
    assert!(rx.try_recv().is_err());
}

/// The WAL header's checkpoint sequence number; it goes up each time the WAL restarts.
/// `None` while the WAL file is empty (truncated when quiet, or not yet written).
fn wal_restarts(dir: &Path) -> Option<u32> {
    use std::io::Read;
    let mut header = [0u8; 16];
    let mut wal = std::fs::File::open(dir.join("natter.db-wal")).ok()?;
    wal.read_exact(&mut header).ok()?;
    Some(u32::from_be_bytes(header[12..16].try_into().unwrap()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wal_restarts_while_messages_keep_coming() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path()).unwrap());
    store
        .insert_message(msg("ua", "ub", "first", None))
        .await
        .unwrap();
    let before = wal_restarts(dir.path()).expect("a WAL after a write");
    // A steady stream from 16 senders: the writer is never idle long enough for the
    // checkpoint thread alone to catch up. It stops once the WAL has restarted.
    let stop = Arc::new(AtomicBool::new(false));
    let senders: Vec<_> = (0..16)
        .map(|i| {
            let (store, stop) = (store.clone(), stop.clone());
            tokio::spawn(async move {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    let to = format!("u{}", n % 97);
                    store
                        .insert_message(msg(&format!("s{i}"), &to, "x", None))
                        .await
                        .unwrap();
                    n += 1;
                }
                n
            })
        })
        .collect();
    // Looked at while the stream runs (once it stops, a quiet WAL is truncated instead).
    let deadline = std::time::Instant::now() + 40 * CHECKPOINT_QUIET;
    let restarted = loop {
        tokio::time::sleep(CHECKPOINT_QUIET / 10).await;
        if wal_restarts(dir.path()).is_some_and(|n| n > before) {
            break true;
        }
        if std::time::Instant::now() > deadline {
            break false;
        }
    };
    stop.store(true, Ordering::Relaxed);
    let mut sent = 0;
    for s in senders {
        sent += s.await.unwrap();
    }
    assert!(restarted, "the WAL never restarted during {sent} inserts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quiet_wal_is_truncated_and_writes_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    for i in 0..200 {
        store
            .insert_message(msg("ua", "ub", &format!("m{i}"), None))
            .await
            .unwrap();
    }
    let wal = dir.path().join("natter.db-wal");
    let deadline = std::time::Instant::now() + 40 * CHECKPOINT_QUIET;
    while std::fs::metadata(&wal).unwrap().len() > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the quiet WAL kept its size"
        );
        tokio::time::sleep(CHECKPOINT_QUIET / 5).await;
    }
    // Nothing was lost with it, and the next write starts a new WAL.
    store
        .insert_message(msg("ua", "ub", "after", None))
        .await
        .unwrap();
    let (page, _) = store
        .page(Conversation::Private("ua", "ub"), None, 500)
        .await
        .unwrap();
    assert_eq!(page.len(), 201);
    assert!(std::fs::metadata(&wal).unwrap().len() > 0);
}

#[tokio::test]
async fn a_failing_write_does_not_undo_the_others_in_its_batch() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path()).unwrap());
    create(&store, "s1", "ua", "alice").await;
    let mut tasks = Vec::new();
    for i in 0..50 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            s.insert_message(msg("ua", "ub", &format!("{i}"), None))
                .await
                .map(|_| ())
        }));
        if i == 25 {
            // Same userID again: the primary key refuses it.
            let s = store.clone();
            tasks.push(tokio::spawn(async move {
                s.create_user(new_user("s2", "ua", "mallory"))
                    .await
                    .map(|_| ())
            }));
        }
    }
    let results: Vec<_> = futures_util::future::join_all(tasks).await;
    let failed = results
        .iter()
        .filter(|r| r.as_ref().unwrap().is_err())
        .count();
    assert_eq!(failed, 1, "only the duplicate user fails");
    let (page, _) = store
        .page(Conversation::Private("ua", "ub"), None, 100)
        .await
        .unwrap();
    assert_eq!(page.len(), 50);
    assert!(store.find_session("s2").await.unwrap().is_none());
}
