//! Bad input gets a clear error to that client, and touches nothing else: the socket stays
//! connected, nothing is stored, nobody else sees anything.

use natter_protocol::{ErrorCode, Message, MessagePage, Reply, event};
use natter_tests::{SioClient, fresh_server};
use rust_socketio::Payload;
use serde_json::{Value, json};

fn error_code(v: &Value) -> ErrorCode {
    match serde_json::from_value::<Reply<Message>>(v.clone()) {
        Ok(Reply::Err(e)) => {
            assert!(!e.error.is_empty(), "error text is empty: {v}");
            e.code
        }
        _ => panic!("expected an error ack, got {v}"),
    }
}

fn bad_messages(to: &str) -> Vec<(Payload, ErrorCode)> {
    use ErrorCode::*;
    let text = |v: Value| Payload::Text(vec![v]);
    vec![
        (text(json!(null)), InvalidPayload),
        (text(json!("hello")), InvalidPayload),
        (text(json!(42)), InvalidPayload),
        (text(json!([to, "hi"])), InvalidPayload),
        (text(json!({})), InvalidPayload),
        (text(json!({"to": to})), InvalidPayload),
        (text(json!({"content": "hi"})), InvalidPayload),
        (text(json!({"content": 5, "to": to})), InvalidPayload),
        (text(json!({"content": "hi", "to": 5})), InvalidPayload),
        (
            text(json!({"content": "hi", "to": to, "clientId": 5})),
            InvalidPayload,
        ),
        (Payload::Text(vec![]), InvalidPayload),
        (text(json!({"content": "", "to": to})), EmptyMessage),
        (text(json!({"content": " \n\t ", "to": to})), EmptyMessage),
        (
            text(json!({"content": "x".repeat(16 * 1024 + 1), "to": to})),
            MessageTooLong,
        ),
        (
            text(json!({"content": "é".repeat(8 * 1024 + 1), "to": to})),
            MessageTooLong,
        ),
        (text(json!({"content": "hi", "to": "nobody"})), UnknownUser),
        (text(json!({"content": "hi", "to": ""})), UnknownUser),
        (
            text(json!({"content": "hi", "to": to, "clientId": ""})),
            InvalidClientId,
        ),
        (
            text(json!({"content": "hi", "to": to, "clientId": "k".repeat(65)})),
            InvalidClientId,
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_private_message_gets_its_error_in_the_ack() {
    let (_dir, server) = fresh_server(&[]).await;
    let alice = SioClient::login(&server.url, "alice").await;
    let mut bob = SioClient::login(&server.url, "bob").await;
    let b = bob.session.user_id.clone();

    for (payload, expected) in bad_messages(&b) {
        let shown = format!("{payload:?}");
        let ack = alice.client.ack(event::PRIVATE_MESSAGE, payload).await;
        assert_eq!(
            error_code(&ack),
            expected,
            "payload {}",
            &shown[..shown.len().min(120)]
        );
    }
    bob.client.assert_no(event::PRIVATE_MESSAGE).await;

    // Still connected, and the limit itself is fine.
    let ok = alice.client.send(&b, &"x".repeat(16 * 1024)).await;
    let ok: Message = serde_json::from_value(ok).unwrap();
    let page: MessagePage = alice.client.fetch(json!({"with": b})).await;
    assert_eq!(page.messages, [ok], "only the valid message was stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_events_without_ack_are_dropped_and_the_socket_stays() {
    let (_dir, server) = fresh_server(&[]).await;
    let alice = SioClient::login(&server.url, "alice").await;
    let mut bob = SioClient::login(&server.url, "bob").await;
    let b = bob.session.user_id.clone();

    for (payload, _) in bad_messages(&b) {
        alice.client.emit(event::PRIVATE_MESSAGE, payload).await;
    }
    alice.client.emit("no such event", json!({"x": 1})).await;
    alice.client.emit(event::FETCH_MESSAGES, json!(null)).await;
    bob.client.assert_no(event::PRIVATE_MESSAGE).await;

    let ok: Message = serde_json::from_value(alice.client.send(&b, "still here").await).unwrap();
    let got: Message =
        serde_json::from_value(bob.client.next(event::PRIVATE_MESSAGE).await).unwrap();
    assert_eq!(got, ok);
    let page: MessagePage = bob
        .client
        .fetch(json!({"with": alice.session.user_id}))
        .await;
    assert_eq!(page.messages, [ok]);
    bob.client.assert_no(event::USER_DISCONNECTED).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_fetch_requests_get_their_error() {
    let (_dir, server) = fresh_server(&[]).await;
    let alice = SioClient::login(&server.url, "alice").await;
    let bob = SioClient::login(&server.url, "bob").await;
    let b = bob.session.user_id.clone();
    use ErrorCode::*;
    for (payload, expected) in [
        (json!(null), InvalidPayload),
        (json!({}), InvalidPayload),
        (json!({"with": 5}), InvalidPayload),
        (json!({"with": b, "before": "yesterday"}), InvalidPayload),
        (json!({"with": b, "limit": -1}), InvalidPayload),
        (json!({"with": "nobody"}), UnknownUser),
    ] {
        let ack = alice
            .client
            .ack(event::FETCH_MESSAGES, payload.clone())
            .await;
        assert_eq!(error_code(&ack), expected, "payload {payload}");
    }
    // A huge limit is capped, not refused.
    let page = alice
        .client
        .ack(
            event::FETCH_MESSAGES,
            json!({"with": b, "limit": 1_000_000}),
        )
        .await;
    let page: MessagePage = serde_json::from_value(page).unwrap();
    assert!(page.messages.is_empty() && !page.has_more);
}
