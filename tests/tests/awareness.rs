//! Read markers, read receipts and typing, from outside: real servers (one node on SQLite, two
//! nodes on a real Redis), real socket.io clients.

use std::time::Duration;

use natter_protocol::event;
use natter_tests::redis::RedisServer;
use natter_tests::{Login, SioClient, TestServer, fresh_server};
use serde_json::{Value, json};

async fn read(who: &Login, with: &str, up_to: u64) -> Value {
    who.client
        .ack(event::READ, json!({ "with": with, "upTo": up_to }))
        .await
}

fn entry<'a>(login: &'a Login, user_id: &str) -> &'a natter_protocol::User {
    login
        .users
        .iter()
        .find(|u| u.user_id == user_id)
        .expect("listed")
}

/// Alice and Bob with three messages from Bob to Alice; their ids.
async fn three_from_bob(alice: &Login, bob: &Login) -> Vec<u64> {
    let mut ids = Vec::new();
    for i in 0..3 {
        let ack = bob
            .client
            .send(&alice.session.user_id, &format!("m{i}"))
            .await;
        ids.push(ack["id"].as_u64().expect("stored"));
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_markers_follow_a_person_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = TestServer::start(dir.path(), &[]).await;
    let mut alice = SioClient::login(&server.url, "alice").await;
    let mut bob = SioClient::login(&server.url, "bob").await;
    let ids = three_from_bob(&alice, &bob).await;
    let (a, b) = (alice.session.user_id.clone(), bob.session.user_id.clone());

    // Alice's second window, and a bystander.
    let mut alice2 = SioClient::resume(&server.url, &alice.session.session_id).await;
    assert_eq!(entry(&alice2, &b).unread, 3, "all three unread at login");
    let mut carol = SioClient::login(&server.url, "carol").await;

    assert_eq!(read(&alice, &b, ids[1]).await, json!({"ok": true}));
    let to_alice2 = alice2.client.next(event::READ).await;
    assert_eq!(to_alice2, json!({"from": a, "to": b, "upTo": ids[1]}));
    let to_bob = bob.client.next(event::READ).await;
    assert_eq!(to_bob, to_alice2, "the sender sees the receipt");
    alice.client.assert_no(event::READ).await;
    carol.client.assert_no(event::READ).await;

    // A marker never moves back, and an older one tells nobody.
    assert_eq!(read(&alice, &b, ids[0]).await, json!({"ok": true}));
    alice2.client.assert_no(event::READ).await;

    server.stop().await;
    let server = TestServer::start(dir.path(), &[]).await;
    let alice = SioClient::resume(&server.url, &alice.session.session_id).await;
    assert_eq!(entry(&alice, &b).unread, 1, "one left after the marker");
    let bob = SioClient::resume(&server.url, &bob.session.session_id).await;
    assert_eq!(
        entry(&bob, &a).read_up_to,
        ids[1],
        "bob sees how far alice read"
    );
    assert_eq!(entry(&bob, &a).unread, 0, "bob sent them all");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_read_markers_are_refused_and_change_nothing() {
    let (_dir, server) = fresh_server(&[]).await;
    let alice = SioClient::login(&server.url, "alice").await;
    let bob = SioClient::login(&server.url, "bob").await;
    let carol = SioClient::login(&server.url, "carol").await;
    let ids = three_from_bob(&alice, &bob).await;
    let other = carol
        .client
        .send(&bob.session.user_id, "not for alice")
        .await["id"]
        .as_u64()
        .unwrap();
    let b = bob.session.user_id.clone();

    let cases = [
        (json!({"with": "nobody", "upTo": ids[0]}), "unknown_user"),
        (json!({"with": b, "upTo": other}), "unknown_message"),
        (json!({"with": b, "upTo": u64::MAX}), "unknown_message"),
        (json!({"with": b, "upTo": -1}), "invalid_payload"),
        (json!({"with": b}), "invalid_payload"),
    ];
    for (payload, code) in cases {
        let ack = alice.client.ack(event::READ, payload.clone()).await;
        assert_eq!(ack["code"], code, "{payload} → {ack}");
    }
    let again = SioClient::resume(&server.url, &alice.session.session_id).await;
    assert_eq!(entry(&again, &b).unread, 3, "nothing was marked read");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_off_keeps_markers_to_ones_own_devices() {
    let (_dir, server) = fresh_server(&[]).await;
    let alice = SioClient::login(&server.url, "alice").await;
    let mut bob = SioClient::login(&server.url, "bob").await;
    let ids = three_from_bob(&alice, &bob).await;
    let (a, b) = (alice.session.user_id.clone(), bob.session.user_id.clone());
    let mut alice2 = SioClient::resume(&server.url, &alice.session.session_id).await;

    let off = alice
        .client
        .ack(event::SET_RECEIPTS, json!({"send": false}))
        .await;
    assert_eq!(off, json!({"ok": true}));
    assert_eq!(read(&alice, &b, ids[2]).await, json!({"ok": true}));
    assert_eq!(alice2.client.next(event::READ).await["upTo"], ids[2]);
    bob.client.assert_no(event::READ).await;
    let bob_again = SioClient::resume(&server.url, &bob.session.session_id).await;
    assert_eq!(
        entry(&bob_again, &a).read_up_to,
        0,
        "not disclosed at login either"
    );
    let alice_again = SioClient::resume(&server.url, &alice.session.session_id).await;
    assert_eq!(
        entry(&alice_again, &b).unread,
        0,
        "her own devices still sync"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typing_reaches_the_recipient_only() {
    let (_dir, server) = fresh_server(&[]).await;
    let alice = SioClient::login(&server.url, "alice").await;
    let mut alice2 = SioClient::resume(&server.url, &alice.session.session_id).await;
    let mut bob = SioClient::login(&server.url, "bob").await;
    let mut bob2 = SioClient::resume(&server.url, &bob.session.session_id).await;
    let mut carol = SioClient::login(&server.url, "carol").await;
    let (a, b) = (alice.session.user_id.clone(), bob.session.user_id.clone());

    alice.client.emit(event::TYPING, json!({"to": b})).await;
    assert_eq!(bob.client.next(event::TYPING).await, json!({"from": a}));
    assert_eq!(bob2.client.next(event::TYPING).await, json!({"from": a}));
    carol.client.assert_no(event::TYPING).await;
    alice2.client.assert_no(event::TYPING).await;

    // A script typing flat out is relayed a few times a second at most.
    for _ in 0..50 {
        alice.client.emit(event::TYPING, json!({"to": b})).await;
    }
    let relayed = bob
        .client
        .drain(event::TYPING, Duration::from_secs(1))
        .await;
    assert!(
        (1..=8).contains(&relayed.len()),
        "{} relayed",
        relayed.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_markers_work_across_cluster_nodes() {
    let redis = RedisServer::start().await;
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let n0 = TestServer::start_node(dirs[0].path(), &redis.url, None).await;
    let n1 = TestServer::start_node(dirs[1].path(), &redis.url, Some(&n0)).await;
    let alice = SioClient::login(&n0.url, "alice").await;
    let mut bob = SioClient::login(&n1.url, "bob").await;
    let ids = three_from_bob(&alice, &bob).await;
    let (a, b) = (alice.session.user_id.clone(), bob.session.user_id.clone());
    let mut alice_on_n1 = SioClient::resume(&n1.url, &alice.session.session_id).await;
    assert_eq!(entry(&alice_on_n1, &b).unread, 3);

    assert_eq!(read(&alice, &b, ids[1]).await, json!({"ok": true}));
    let marker = json!({"from": a, "to": b, "upTo": ids[1]});
    assert_eq!(bob.client.next(event::READ).await, marker);
    assert_eq!(alice_on_n1.client.next(event::READ).await, marker);

    alice.client.emit(event::TYPING, json!({"to": b})).await;
    assert_eq!(bob.client.next(event::TYPING).await, json!({"from": a}));

    let refused = read(&alice, &b, ids[2] + 1000).await;
    assert_eq!(refused["code"], "unknown_message", "{refused}");
    let again = SioClient::resume(&n1.url, &alice.session.session_id).await;
    assert_eq!(entry(&again, &b).unread, 1);
    let bob_again = SioClient::resume(&n0.url, &bob.session.session_id).await;
    assert_eq!(entry(&bob_again, &a).read_up_to, ids[1]);
}
