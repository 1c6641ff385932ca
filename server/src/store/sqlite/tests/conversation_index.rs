//! The conversation index written in bulk: readers see the same messages whether their
//! entries are in the tail, in the index, or half-way through a merge; what a crash left
//! unmerged is merged at start.

use rusqlite::{Connection, params};

use super::{create, msg};
use crate::store::sqlite::SqliteStore;
use crate::store::sqlite::conversation_index::{
    self, Reader, STEP, Sender, Tail, merge_step, read_with,
};
use crate::store::sqlite::rows::ConversationColumns;
use crate::store::sqlite::schema;
use crate::store::{Conversation, Messages};

fn columns(a: &str, b: &str) -> ConversationColumns {
    ConversationColumns::of(Conversation::between(a, b))
}

/// A message row as the writer stores it; its id.
fn insert(conn: &Connection, from: &str, to: &str, deleted: bool) -> i64 {
    let c = columns(from, to);
    conn.execute(
        "INSERT INTO messages (sender, recipient, user_lo, user_hi, content, ts, deleted) \
         VALUES (?1, ?2, ?3, ?4, 'text', 1, ?5)",
        params![from, to, c.lo, c.hi, deleted],
    )
    .unwrap();
    conn.last_insert_rowid()
}

/// What a reader must see: every message of `c`, newest first, straight from `messages`.
fn expected(conn: &Connection, c: &ConversationColumns) -> Vec<(i64, String, bool)> {
    conn.prepare(
        "SELECT id, sender, deleted FROM messages WHERE user_lo = ?1 AND user_hi = ?2 \
         ORDER BY id DESC",
    )
    .unwrap()
    .query_map(params![c.lo, c.hi], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

/// Every kind of read a store makes, checked against [`expected`].
fn check(reader: &Reader<'_>, c: &ConversationColumns, want: &[(i64, String, bool)]) {
    let ids =
        |ms: Vec<natter_protocol::Message>| ms.iter().map(|m| m.id as i64).collect::<Vec<_>>();
    let all: Vec<i64> = want.iter().map(|(id, ..)| *id).collect();
    // The newest few, oldest first; paged back from any id.
    for limit in [1, 5, 1000] {
        let mut newest: Vec<i64> = all.iter().take(limit).copied().collect();
        newest.reverse();
        assert_eq!(ids(reader.newest(c, i64::MAX, limit).unwrap()), newest);
    }
    for (i, below) in all.iter().enumerate() {
        let mut page: Vec<i64> = all[i + 1..].iter().take(7).copied().collect();
        page.reverse();
        assert_eq!(
            ids(reader.newest(c, *below, 7).unwrap()),
            page,
            "below {below}"
        );
    }
    // A range, newest first.
    if let (Some(&top), Some(&bottom)) = (all.first(), all.last()) {
        let mut seen = Vec::new();
        reader
            .visit(c, bottom, top, |row| {
                seen.push(row.get::<_, i64>(0)?);
                Ok(true)
            })
            .unwrap();
        assert_eq!(seen, all[1..all.len() - 1]);
    }
    // Unread counts, from every marker, capped.
    for after in [0, all.len() as i64 / 2, i64::MAX] {
        for who in ["ua", "ub"] {
            let by = |sender: Sender<'_>| {
                want.iter()
                    .filter(|(id, from, deleted)| {
                        *id > after
                            && !deleted
                            && match sender {
                                Sender::Is(s) => from == s,
                                Sender::IsNot(s) => from != s,
                            }
                    })
                    .count() as i64
            };
            for sender in [Sender::Is(who), Sender::IsNot(who)] {
                assert_eq!(
                    reader.count_after(c, after, sender, 10_000).unwrap(),
                    by(sender)
                );
                assert_eq!(
                    reader.count_after(c, after, sender, 3).unwrap(),
                    by(sender).min(3)
                );
            }
        }
    }
}

#[test]
fn reads_are_the_same_in_the_tail_in_the_index_and_during_a_merge() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = Connection::open(dir.path().join("natter.db")).unwrap();
    schema::migrate(&mut conn).unwrap();
    let people = ["ua", "ub", "uc", "ud"];
    let conversations: Vec<ConversationColumns> = [("ua", "ub"), ("ua", "uc"), ("ub", "uc")]
        .iter()
        .map(|(a, b)| columns(a, b))
        .chain([ConversationColumns::of(Conversation::Group("g-team"))])
        .collect();
    // Half the messages merged at start, half in the tail, interleaved across conversations.
    let mut tail_entries = Vec::new();
    for i in 0..(8 * STEP) {
        let from = people[i % 3];
        let to = if i % 5 == 0 {
            "g-team"
        } else {
            people[(i + 1 + i / 7) % 3]
        };
        let id = insert(&conn, from, to, i % 11 == 0);
        if i == 4 * STEP - 1 {
            conversation_index::recover(&conn).unwrap();
        }
        if i >= 4 * STEP {
            tail_entries.push((columns(from, to), id));
        }
    }
    let mut tail = Tail::new(tail_entries[0].1 - 1);
    for (c, id) in tail_entries {
        tail.append(c, id);
    }
    // Deleted: one merged message and one in the tail.
    conn.execute(
        "DELETE FROM messages WHERE id IN (3, ?1)",
        params![(6 * STEP) as i64],
    )
    .unwrap();
    let tail = std::sync::Mutex::new(tail);
    let newest: i64 = conn
        .query_row("SELECT max(id) FROM messages", [], |r| r.get(0))
        .unwrap();
    let mut steps = 0;
    loop {
        for c in &conversations {
            let want = expected(&conn, c);
            assert!(!want.is_empty());
            read_with(&conn, &tail, &conversations, |reader| {
                check(reader, c, &want);
                Ok(())
            })
            .unwrap();
        }
        if conversation_index::lock(&tail).is_empty() {
            break;
        }
        merge_step(&conn, &tail).unwrap();
        steps += 1;
    }
    assert!(steps > 1, "merged in steps, not all at once ({steps})");
    let (entries, up_to): (i64, i64) = conn
        .query_row(
            "SELECT (SELECT count(*) FROM conversation_index), \
             (SELECT up_to FROM conversation_index_merged)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let messages: i64 = conn
        .query_row("SELECT count(*) FROM messages", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        entries, messages,
        "every message has its entry, the deleted none"
    );
    assert_eq!(
        up_to, newest,
        "a merged tail says the index reaches its newest id"
    );
}

#[tokio::test]
async fn what_a_crash_left_unmerged_is_merged_at_start() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = SqliteStore::open(dir.path()).unwrap();
        create(&store, "secret-a", "ua", "alice").await;
        create(&store, "secret-b", "ub", "bob").await;
        create(&store, "secret-c", "uc", "carol").await;
        for i in 0..3 {
            store
                .insert_message(msg("ua", "ub", &format!("ab{i}"), None))
                .await
                .unwrap();
        }
        for i in 0..3 {
            store
                .insert_message(msg("uc", "ua", &format!("ca{i}"), None))
                .await
                .unwrap();
        }
        merged(&store).await;
    }
    // As if the process died with the last four entries in memory only.
    let conn = Connection::open(dir.path().join("natter.db")).unwrap();
    conn.execute_batch(
        "DELETE FROM conversation_index WHERE id > 2; \
         UPDATE conversation_index_merged SET up_to = 2;",
    )
    .unwrap();
    drop(conn);
    let store = SqliteStore::open(dir.path()).unwrap();
    let mut conv = store.recent_conversations("ua", 10).await.unwrap();
    conv.sort_by(|a, b| a.0.cmp(&b.0));
    let contents: Vec<(String, Vec<String>)> = conv
        .into_iter()
        .map(|(peer, ms)| (peer, ms.into_iter().map(|m| m.content).collect()))
        .collect();
    assert_eq!(
        contents,
        [
            (
                "ub".to_owned(),
                vec!["ab0".to_owned(), "ab1".into(), "ab2".into()]
            ),
            (
                "uc".to_owned(),
                vec!["ca0".to_owned(), "ca1".into(), "ca2".into()]
            ),
        ],
        "the conversation known only from unmerged messages is found too"
    );
}

#[tokio::test]
async fn under_load_the_tail_is_merged_and_history_stays_whole() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let sends = (0..(10 * conversation_index::TAIL_TARGET)).map(|i| {
        let to = ["ub", "uc", "ud"][i % 3];
        store.insert_message(msg("ua", to, &format!("m{i}"), None))
    });
    for inserted in futures_util::future::join_all(sends).await {
        inserted.unwrap();
    }
    // Whatever is merged by now, paging back finds every message once.
    for peer in ["ub", "uc", "ud"] {
        let mut before = None;
        let mut seen = 0;
        loop {
            let (page, more) = store
                .page(Conversation::Private("ua", peer), before, 9)
                .await
                .unwrap();
            seen += page.len();
            let Some(oldest) = page.first() else { break };
            before = Some(oldest.id);
            if !more {
                break;
            }
        }
        assert_eq!(
            seen,
            10 * conversation_index::TAIL_TARGET / 3 + usize::from(peer == "ub")
        );
    }
    // And once the writer is idle, everything is in the index.
    merged(&store).await;
}

/// Waits until the writer, idle, has merged the whole tail.
async fn merged(store: &SqliteStore) {
    for _ in 0..500 {
        if store.unmerged() == 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!(
        "the tail was not merged when idle: {} entries",
        store.unmerged()
    );
}
