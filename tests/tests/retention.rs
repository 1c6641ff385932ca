//! Removal for good: retention removes old messages with their files and search entries (the
//! test ages messages in the database file, as if written 40 days ago), `admin remove` takes
//! the files the person uploaded, and a per-user file quota refuses what would pass it.

use std::path::Path;
use std::time::Duration;

use natter_protocol::event;
use natter_tests::{SioClient, TestServer, fresh_server, http};
use serde_json::json;

const DAY_MS: i64 = 24 * 3600 * 1000;

/// Makes messages `ids` look as if stored `days` ago (the server is stopped).
fn age(data_dir: &Path, ids: &[u64], days: i64) {
    let conn = rusqlite::Connection::open(data_dir.join("natter.db")).expect("the database");
    for id in ids {
        let n = conn
            .execute(
                "UPDATE messages SET ts = ts - ?2 WHERE id = ?1",
                rusqlite::params![*id as i64, days * DAY_MS],
            )
            .expect("age a message");
        assert_eq!(n, 1, "message {id}");
    }
}

fn files_on_disk(data_dir: &Path) -> Vec<String> {
    std::fs::read_dir(data_dir.join("files"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

async fn search(c: &SioClient, q: &str) -> Vec<u64> {
    let r = c.ack(event::SEARCH_MESSAGES, json!({"q": q})).await;
    r["messages"]
        .as_array()
        .unwrap_or_else(|| panic!("{r}"))
        .iter()
        .filter_map(|m| m["id"].as_u64())
        .collect()
}

async fn upload(
    server: &TestServer,
    session: &str,
    name: &str,
    size: usize,
) -> (u16, serde_json::Value) {
    let r = http::upload(
        server,
        session,
        name,
        "application/octet-stream",
        vec![7u8; size],
    )
    .await;
    (r.status, r.json())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_removes_old_messages_their_files_and_search_hits() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = TestServer::start(dir.path(), &[]).await;
    let alice = SioClient::login(&server.url, "alice").await;
    let bob = SioClient::login(&server.url, "bob").await;
    let (a, b) = (alice.session.user_id.clone(), bob.session.user_id.clone());
    let (_, old_file) = upload(&server, &alice.session.session_id, "old.bin", 1000).await;
    let (_, new_file) = upload(&server, &alice.session.session_id, "new.bin", 1000).await;
    let (old_file, new_file) = (
        old_file["fileID"].as_str().unwrap().to_owned(),
        new_file["fileID"].as_str().unwrap().to_owned(),
    );
    let send = |content: &str, file: Option<&str>| {
        let mut m = json!({"to": b, "content": content});
        if let Some(f) = file {
            m["attachment"] = json!({"fileID": f});
        }
        m
    };
    let old = alice
        .client
        .ack(
            event::PRIVATE_MESSAGE,
            send("ancient pineapple plans", Some(&old_file)),
        )
        .await["id"]
        .as_u64()
        .unwrap();
    let group = alice
        .client
        .ack(
            event::CREATE_GROUP,
            json!({"name": "Archive", "members": [b]}),
        )
        .await;
    let g = group["groupID"].as_str().unwrap().to_owned();
    let old_in_group = alice
        .client
        .ack(
            event::GROUP_MESSAGE,
            json!({"to": g, "content": "old group pineapple"}),
        )
        .await["id"]
        .as_u64()
        .unwrap();
    let reply = bob
        .client
        .ack(
            event::PRIVATE_MESSAGE,
            json!({"to": a, "content": "still relevant", "replyTo": old}),
        )
        .await["id"]
        .as_u64()
        .unwrap();
    let recent = alice
        .client
        .ack(
            event::PRIVATE_MESSAGE,
            send("fresh pineapple", Some(&new_file)),
        )
        .await["id"]
        .as_u64()
        .unwrap();
    // Indexed for search, then aged.
    for _ in 0..200 {
        if search(&bob.client, "pineapple").await.len() == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(search(&bob.client, "pineapple").await.len(), 3);
    server.stop().await;
    age(dir.path(), &[old, old_in_group], 40);

    let server = TestServer::start(dir.path(), &["--retention-days", "30"]).await;
    // The first run is at start; the audit log says when it is done.
    let mut done = false;
    for _ in 0..200 {
        let (_, log, _) = server.admin(&["audit"], "").await;
        if log.contains("\"action\":\"retention\"") {
            assert!(log.contains("\"messages\":2"), "{log}");
            done = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(done, "retention ran");
    let mut bob = SioClient::resume(&server.url, &bob.session.session_id).await;
    let groups = bob.client.next(event::GROUPS).await;
    let history = bob.client.history(&a).await;
    let ids: Vec<u64> = history.iter().map(|m| m.id).collect();
    assert_eq!(ids, [reply, recent], "only the recent ones");
    let quote = history[0].reply_to.as_ref().expect("still a reply");
    assert!(
        quote.deleted && quote.excerpt.is_none(),
        "the quote says it is gone: {quote:?}"
    );
    assert_eq!(search(&bob.client, "pineapple").await, [recent]);
    assert!(bob.client.history(&g).await.is_empty());
    assert_eq!(
        groups[0]["groupID"],
        g.as_str(),
        "the group stays: {groups}"
    );
    let gone = http::file(&server, &old_file, false, &bob.session.session_id).await;
    assert_eq!(gone.status, 404);
    let on_disk = files_on_disk(dir.path());
    assert!(
        !on_disk.iter().any(|f| f.contains(&old_file)),
        "{on_disk:?}"
    );
    let kept = http::file(&server, &new_file, false, &bob.session.session_id).await;
    assert_eq!(kept.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quota_bounds_uploads_and_removal_takes_the_files() {
    let (dir, server) = fresh_server(&["--files-quota-bytes", "5000"]).await;
    let alice = SioClient::login(&server.url, "alice").await;
    let bob = SioClient::login(&server.url, "bob").await;
    let s = alice.session.session_id.clone();
    let (status, first) = upload(&server, &s, "a.bin", 3000).await;
    assert_eq!(status, 201, "{first}");
    let (status, refused) = upload(&server, &s, "b.bin", 3000).await;
    assert_eq!(status, 413, "{refused}");
    let says = refused["error"].as_str().unwrap();
    assert!(
        says.contains("quota") && says.contains("3000") && says.contains("5000"),
        "{says}"
    );
    assert_eq!(
        files_on_disk(dir.path()).len(),
        1,
        "nothing left of the refused upload"
    );
    // Someone else's uploads do not count.
    let (status, _) = upload(&server, &bob.session.session_id, "c.bin", 3000).await;
    assert_eq!(status, 201);
    let (status, _) = upload(&server, &s, "d.bin", 2000).await;
    assert_eq!(status, 201, "exactly up to the quota");

    let file = first["fileID"].as_str().unwrap().to_owned();
    alice
        .client
        .ack(
            event::PRIVATE_MESSAGE,
            json!({"to": bob.session.user_id, "content": "", "attachment": {"fileID": file}}),
        )
        .await;
    let (ok, out, err) = server.admin(&["remove", "alice"], "").await;
    assert!(ok, "{err}");
    assert!(out.contains("2 file(s)"), "{out}");
    let left = files_on_disk(dir.path());
    assert_eq!(left.len(), 1, "only bob's file is left: {left:?}");
    let gone = http::file(&server, &file, false, &bob.session.session_id).await;
    assert_eq!(gone.status, 404);
}
