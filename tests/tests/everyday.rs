//! Everyday messaging from outside: edit, delete, reply, react, mentions and status with the
//! official socket.io client on one node and across two cluster nodes, and what a change
//! leaves behind — after a kill -9, in search, on disk — with real servers.

use natter_protocol::{Message, event};
use natter_tests::redis::RedisServer;
use natter_tests::{SioClient, TestServer, fresh_server, http, js};
use serde_json::{Value, json};

const STEPS: &[&str] = &[
    "edit", "reply", "react", "delete", "mentions", "status", "done",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everyday_messaging_with_the_official_client() {
    let (_dir, server) = fresh_server(&[]).await;
    let stdout = js::run("everyday_client.mjs", &[server.url.as_str()], &server).await;
    js::assert_steps(&stdout, STEPS);
}

/// The writers on one node, the readers on another: every change crosses through Redis.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everyday_messaging_across_cluster_nodes() {
    let redis = RedisServer::start().await;
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let first = TestServer::start_node(d1.path(), &redis.url, None).await;
    let second = TestServer::start_node(d2.path(), &redis.url, Some(&first)).await;
    let stdout = js::run(
        "everyday_client.mjs",
        &[first.url.as_str(), second.url.as_str()],
        &second,
    )
    .await;
    js::assert_steps(&stdout, STEPS);
}

fn stored(v: Value) -> Message {
    serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("not a message ({e}): {v}"))
}

/// A change acked is committed: killed right after, the server comes back with it, and the
/// next login sees the edit, the reply's quote, the reactions, the deletion and the status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_survive_a_kill_and_show_at_the_next_login() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = TestServer::start(dir.path(), &[]).await;
    let alice = SioClient::login(&server.url, "alice").await;
    let bob = SioClient::login(&server.url, "bob").await;
    let (a, b) = (alice.session.user_id.clone(), bob.session.user_id.clone());
    let first = stored(alice.client.send(&b, "teh plan").await);
    let gone = stored(alice.client.send(&b, "never mind").await);
    let reply = stored(
        bob.client
            .ack(
                event::PRIVATE_MESSAGE,
                json!({"to": a, "content": "which plan?", "replyTo": first.id}),
            )
            .await,
    );
    let react = json!({"id": first.id, "emoji": "👍", "on": true});
    let reacted = bob.client.ack(event::REACT, react).await;
    assert_eq!(reacted["ok"], true, "{reacted}");
    let deleted = alice
        .client
        .ack(event::DELETE_MESSAGE, json!({"id": gone.id}))
        .await;
    assert_eq!(deleted, json!({"ok": true}));
    let status = json!({"state": "busy", "text": "in a meeting"});
    assert_eq!(
        alice.client.ack(event::SET_STATUS, status).await,
        json!({"ok": true})
    );
    let edit = json!({"id": first.id, "content": "the plan"});
    let edited = alice.client.ack(event::EDIT_MESSAGE, edit).await;
    assert_eq!(edited["message"]["content"], "the plan", "{edited}");
    // Nothing runs between the ack and the end of the process.
    server.kill().await;

    let server = TestServer::start(dir.path(), &[]).await;
    let bob = SioClient::resume(&server.url, &bob.session.session_id).await;
    let alice_entry = bob
        .users
        .iter()
        .find(|u| u.user_id == a)
        .expect("alice listed");
    let history = &alice_entry.messages;
    let by_id = |id: u64| history.iter().find(|m| m.id == id).expect("in history");
    assert_eq!(by_id(first.id).content, "the plan");
    assert_eq!(
        by_id(first.id).edited_ts,
        edited["message"]["editedTs"].as_i64()
    );
    assert_eq!(by_id(first.id).reactions[0].users, std::slice::from_ref(&b));
    assert!(by_id(gone.id).deleted && by_id(gone.id).content.is_empty());
    let quote = by_id(reply.id).reply_to.clone().expect("a quote");
    assert_eq!(
        quote.excerpt.as_deref(),
        Some("the plan"),
        "quotes the edit"
    );
    assert_eq!(
        (
            alice_entry.status.as_str(),
            alice_entry.status_text.as_deref()
        ),
        ("busy", Some("in a meeting"))
    );
    assert_eq!(alice_entry.unread, 1, "the deleted one is not unread");
}

/// A deleted message's file is gone: its bytes and preview leave the files dir and it answers
/// 404, unless another message still carries it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_messages_file_is_gone_from_disk() {
    let (dir, server) = fresh_server(&[]).await;
    let alice = SioClient::login(&server.url, "alice").await;
    let bob = SioClient::login(&server.url, "bob").await;
    let b = bob.session.user_id.clone();
    let (a_sid, b_sid) = (&alice.session.session_id, &bob.session.session_id);
    let png = {
        let mut bytes = Vec::new();
        image::RgbImage::from_pixel(40, 20, image::Rgb([9, 99, 199]))
            .write_to(
                &mut std::io::Cursor::new(&mut bytes),
                image::ImageFormat::Png,
            )
            .unwrap();
        bytes
    };
    let up = http::upload(&server, a_sid, "dot.png", "image/png", png).await;
    let file_id = up.json()["fileID"].as_str().expect("uploaded").to_owned();
    let send =
        |content: &str| json!({"to": b, "content": content, "attachment": {"fileID": file_id}});
    let one = stored(alice.client.ack(event::PRIVATE_MESSAGE, send("here")).await);
    let two = stored(
        alice
            .client
            .ack(event::PRIVATE_MESSAGE, send("again"))
            .await,
    );
    assert_eq!(http::file(&server, &file_id, true, b_sid).await.status, 200);
    let files = dir.path().join("files");
    let on_disk = || {
        std::fs::read_dir(&files)
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.starts_with(&file_id))
            .count()
    };
    assert_eq!(on_disk(), 2, "the file and its preview");

    let del = |id: u64| alice.client.ack(event::DELETE_MESSAGE, json!({"id": id}));
    assert_eq!(del(one.id).await, json!({"ok": true}));
    assert_eq!(
        http::file(&server, &file_id, false, b_sid).await.status,
        200,
        "still carried by the second message"
    );
    assert_eq!(del(two.id).await, json!({"ok": true}));
    for session in [b_sid, a_sid] {
        assert_eq!(
            http::file(&server, &file_id, false, session).await.status,
            404
        );
    }
    assert_eq!(on_disk(), 0, "bytes and preview removed");
    let page = bob
        .client
        .fetch(json!({"with": alice.session.user_id}))
        .await;
    assert!(
        page.messages
            .iter()
            .all(|m| m.deleted && m.attachment.is_none())
    );
}

/// Search finds what messages say now: an edit's new text and not the old, nothing of a
/// deleted message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_follows_edits_and_deletions() {
    let (_dir, server) = fresh_server(&[]).await;
    let alice = SioClient::login(&server.url, "alice").await;
    let bob = SioClient::login(&server.url, "bob").await;
    let b = bob.session.user_id.clone();
    let m = stored(
        alice
            .client
            .send(&b, "budget for the pineapple party")
            .await,
    );
    let other = stored(alice.client.send(&b, "pineapple juice").await);
    let found = |q: &'static str| {
        let bob = &bob;
        async move {
            let r = bob
                .client
                .ack(event::SEARCH_MESSAGES, json!({"q": q}))
                .await;
            let mut ids: Vec<u64> = r["messages"]
                .as_array()
                .unwrap_or_else(|| panic!("results: {r}"))
                .iter()
                .filter_map(|m| m["id"].as_u64())
                .collect();
            ids.sort_unstable();
            ids
        }
    };
    assert_eq!(found("pineapple").await, [m.id, other.id]);
    // Long enough for the index to take both (it indexes after 20 ms without writes).
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let edit = json!({"id": m.id, "content": "budget for the mango party"});
    alice.client.ack(event::EDIT_MESSAGE, edit).await;
    assert_eq!(found("pineapple").await, [other.id]);
    assert_eq!(found("mango").await, [m.id]);
    alice
        .client
        .ack(event::DELETE_MESSAGE, json!({"id": other.id}))
        .await;
    assert!(found("pineapple").await.is_empty());
    assert!(found("juice").await.is_empty());
}

/// An operator who must keep records turns edits and deletions off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_can_turn_edits_and_deletions_off() {
    let (_dir, server) = fresh_server(&["--message-edits", "off"]).await;
    let alice = SioClient::login(&server.url, "alice").await;
    let bob = SioClient::login(&server.url, "bob").await;
    let m = stored(
        alice
            .client
            .send(&bob.session.user_id, "on the record")
            .await,
    );
    let edit = json!({"id": m.id, "content": "off the record"});
    assert_eq!(
        alice.client.ack(event::EDIT_MESSAGE, edit).await["code"],
        "not_allowed"
    );
    assert_eq!(
        alice
            .client
            .ack(event::DELETE_MESSAGE, json!({"id": m.id}))
            .await,
        json!({"ok": true}),
        "deletions stay on"
    );
    let (_dir, server) = fresh_server(&["--message-deletes", "off"]).await;
    let alice = SioClient::login(&server.url, "alice").await;
    let bob = SioClient::login(&server.url, "bob").await;
    let m = stored(alice.client.send(&bob.session.user_id, "kept").await);
    let del = alice
        .client
        .ack(event::DELETE_MESSAGE, json!({"id": m.id}))
        .await;
    assert_eq!(del["code"], "not_allowed", "{del}");
}

/// Edits, deletions and reactions are paid from the sender's message budget.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_count_against_the_message_rate() {
    let (_dir, server) =
        fresh_server(&["--messages-per-second", "1", "--message-burst", "3"]).await;
    let alice = SioClient::login(&server.url, "alice").await;
    let bob = SioClient::login(&server.url, "bob").await;
    let m = stored(alice.client.send(&bob.session.user_id, "one").await);
    let edit = json!({"id": m.id, "content": "two"});
    assert!(alice.client.ack(event::EDIT_MESSAGE, edit).await["ok"] == true);
    let react = json!({"id": m.id, "emoji": "👍", "on": true});
    assert!(alice.client.ack(event::REACT, react.clone()).await["ok"] == true);
    let limited = alice.client.ack(event::REACT, react).await;
    assert_eq!(limited["code"], "rate_limited", "{limited}");
    assert!(limited["retryAfterMs"].as_u64().is_some_and(|ms| ms > 0));
}
