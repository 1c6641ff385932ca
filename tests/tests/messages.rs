//! Private messages: delivery, acks, history at login, paging, idempotent retries.

use std::time::Duration;

use natter_protocol::{Message, MessagePage, Reply, event};
use natter_tests::{SioClient, fresh_server};
use serde_json::{Value, json};

fn message(v: Value) -> Message {
    serde_json::from_value::<Reply<Message>>(v.clone())
        .unwrap_or_else(|e| panic!("not a message reply: {v}: {e}"))
        .into_result()
        .unwrap_or_else(|e| panic!("refused: {e:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_reaches_the_recipient_and_the_senders_other_windows_only() {
    let (_dir, server) = fresh_server(&[]).await;
    let alice = SioClient::login(&server.url, "alice").await;
    let mut alice2 = SioClient::resume(&server.url, &alice.session.session_id).await;
    let mut bob = SioClient::login(&server.url, "bob").await;
    let mut carol = SioClient::login(&server.url, "carol").await;
    let mut alice1 = alice.client;
    let (a, b) = (alice.session.user_id.clone(), bob.session.user_id.clone());

    let acked = message(alice1.send(&b, "hello bob").await);
    assert_eq!(
        (acked.from.as_str(), acked.to.as_str()),
        (a.as_str(), b.as_str())
    );
    assert_eq!(acked.content, "hello bob");
    assert!(acked.ts > 1_700_000_000_000, "ts is in ms: {}", acked.ts);

    let got: Message =
        serde_json::from_value(bob.client.next(event::PRIVATE_MESSAGE).await).unwrap();
    assert_eq!(got, acked, "the recipient gets exactly what was acked");
    let copy: Message =
        serde_json::from_value(alice2.client.next(event::PRIVATE_MESSAGE).await).unwrap();
    assert_eq!(copy, acked, "the sender's other window gets a copy");

    alice1.assert_no(event::PRIVATE_MESSAGE).await;
    carol.client.assert_no(event::PRIVATE_MESSAGE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_is_always_the_authenticated_sender() {
    let (_dir, server) = fresh_server(&[]).await;
    let alice = SioClient::login(&server.url, "alice").await;
    let mut bob = SioClient::login(&server.url, "bob").await;
    let carol = SioClient::login(&server.url, "carol").await;
    let spoof =
        json!({"to": bob.session.user_id, "content": "I am carol", "from": carol.session.user_id});
    let acked = message(alice.client.ack(event::PRIVATE_MESSAGE, spoof).await);
    assert_eq!(acked.from, alice.session.user_id);
    let got: Message =
        serde_json::from_value(bob.client.next(event::PRIVATE_MESSAGE).await).unwrap();
    assert_eq!(got.from, alice.session.user_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guide_style_emit_without_ack_is_delivered() {
    let (_dir, server) = fresh_server(&[]).await;
    let alice = SioClient::login(&server.url, "alice").await;
    let mut bob = SioClient::login(&server.url, "bob").await;
    alice
        .client
        .emit(
            event::PRIVATE_MESSAGE,
            json!({"to": bob.session.user_id, "content": "no ack"}),
        )
        .await;
    let got: Message =
        serde_json::from_value(bob.client.next(event::PRIVATE_MESSAGE).await).unwrap();
    assert_eq!(got.content, "no ack");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_with_the_same_client_id_is_stored_and_delivered_once() {
    let (_dir, server) = fresh_server(&[]).await;
    let alice = SioClient::login(&server.url, "alice").await;
    let mut bob = SioClient::login(&server.url, "bob").await;
    let b = bob.session.user_id.clone();
    let payload = json!({"to": b, "content": "once", "clientId": "k-1"});
    let first = message(
        alice
            .client
            .ack(event::PRIVATE_MESSAGE, payload.clone())
            .await,
    );
    let second = message(
        alice
            .client
            .ack(event::PRIVATE_MESSAGE, payload.clone())
            .await,
    );
    assert_eq!(first, second, "the retry's ack is the original message");
    assert_eq!(first.client_id.as_deref(), Some("k-1"));

    let delivered = bob
        .client
        .drain(event::PRIVATE_MESSAGE, Duration::from_millis(600))
        .await;
    assert_eq!(delivered.len(), 1, "delivered {delivered:?}");

    // After reconnecting (as an app does after a network drop) the retry is still deduplicated.
    alice.client.close().await;
    let again = SioClient::resume(&server.url, &alice.session.session_id).await;
    let third = message(again.client.ack(event::PRIVATE_MESSAGE, payload).await);
    assert_eq!(third, first);
    let page: MessagePage = again.client.fetch(json!({"with": b})).await;
    assert_eq!(page.messages.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_carries_recent_history_and_older_pages_can_be_fetched() {
    let (_dir, server) = fresh_server(&["--history-per-chat", "5"]).await;
    let alice = SioClient::login(&server.url, "alice").await;
    let bob = SioClient::login(&server.url, "bob").await;
    let carol = SioClient::login(&server.url, "carol").await;
    let (a, b) = (alice.session.user_id.clone(), bob.session.user_id.clone());
    let mut sent = Vec::new();
    for i in 0..12 {
        let (from, to) = if i % 2 == 0 { (&alice, &b) } else { (&bob, &a) };
        sent.push(message(from.client.send(to, &format!("m{i}")).await));
    }
    // noise in other conversations must not leak into alice–bob
    message(carol.client.send(&a, "from carol").await);
    message(carol.client.send(&b, "carol to bob").await);

    alice.client.close().await;
    let again = SioClient::resume(&server.url, &alice.session.session_id).await;
    let with_bob = again.users.iter().find(|u| u.user_id == b).unwrap();
    assert_eq!(
        with_bob.messages,
        sent[7..],
        "the 5 most recent, oldest first"
    );
    let with_carol = again.users.iter().find(|u| u.username == "carol").unwrap();
    assert_eq!(with_carol.messages.len(), 1);
    assert!(
        again
            .users
            .iter()
            .find(|u| u.user_id == a)
            .unwrap()
            .messages
            .is_empty()
    );

    // Scroll back from the oldest message shown.
    let page: MessagePage = again
        .client
        .fetch(json!({"with": b, "before": sent[7].id, "limit": 4}))
        .await;
    assert_eq!(page.messages, sent[3..7]);
    assert!(page.has_more);
    let last: MessagePage = again
        .client
        .fetch(json!({"with": b, "before": sent[3].id, "limit": 4}))
        .await;
    assert_eq!(last.messages, sent[..3]);
    assert!(!last.has_more);
}
