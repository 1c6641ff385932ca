//! Crash safety: SIGKILL the server while messages flow, restart it on the same data dir.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use natter_protocol::{Message, Reply, event};
use natter_tests::{SioClient, TestServer, WAIT};
use serde_json::json;

/// Sends numbered messages with clientIds until the server stops answering.
/// Returns (acked messages, the clientId and content of the one left without an ack).
async fn send_until_dead(
    client: SioClient,
    to: String,
    tag: &'static str,
    acked_count: Arc<AtomicUsize>,
) -> (Vec<Message>, Option<(String, String)>) {
    let mut acked = Vec::new();
    for i in 0.. {
        let (client_id, content) = (format!("{tag}-{i}"), format!("{tag} {i}"));
        let payload = json!({"to": to, "content": content, "clientId": client_id});
        match client
            .try_ack(event::PRIVATE_MESSAGE, payload, Duration::from_secs(2))
            .await
        {
            Some(v) => {
                let m = serde_json::from_value::<Reply<Message>>(v)
                    .unwrap()
                    .into_result()
                    .unwrap();
                acked.push(m);
                acked_count.fetch_add(1, Ordering::Relaxed);
            }
            None => return (acked, Some((client_id, content))),
        }
    }
    unreachable!()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acked_messages_and_sessions_survive_a_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = TestServer::start(dir.path(), &[]).await;
    let alice = SioClient::login(&server.url, "alice").await;
    let bob = SioClient::login(&server.url, "bob").await;
    let (a, b) = (alice.session.user_id.clone(), bob.session.user_id.clone());

    let count = Arc::new(AtomicUsize::new(0));
    let ta = tokio::spawn(send_until_dead(alice.client, b.clone(), "a", count.clone()));
    let tb = tokio::spawn(send_until_dead(bob.client, a.clone(), "b", count.clone()));
    let deadline = tokio::time::Instant::now() + WAIT;
    while count.load(Ordering::Relaxed) < 300 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "messages are not flowing"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.kill().await;
    let (acked_a, pending_a) = ta.await.unwrap();
    let (acked_b, pending_b) = tb.await.unwrap();

    let server = TestServer::start(dir.path(), &[]).await;
    let alice = SioClient::resume(&server.url, &alice.session.session_id).await;
    assert_eq!(alice.session.user_id, a, "same identity after the crash");
    let bob_again = SioClient::resume(&server.url, &bob.session.session_id).await;
    assert_eq!(bob_again.session.user_id, b);

    // The sends cut off by the crash are retried, as the app's outbox does.
    for (client, to, pending) in [
        (&alice.client, &b, pending_a),
        (&bob_again.client, &a, pending_b),
    ] {
        let (client_id, content) = pending.expect("a send was cut off");
        let retry = json!({"to": to, "content": content, "clientId": client_id});
        let v = client.ack(event::PRIVATE_MESSAGE, retry).await;
        serde_json::from_value::<Reply<Message>>(v)
            .unwrap()
            .into_result()
            .expect("retry accepted");
    }

    let history = alice.client.history(&b).await;

    // Every acked message is there, unchanged.
    let stored: std::collections::HashMap<u64, &Message> =
        history.iter().map(|m| (m.id, m)).collect();
    for m in acked_a.iter().chain(&acked_b) {
        assert_eq!(
            stored.get(&m.id),
            Some(&m),
            "acked message {} lost or changed",
            m.id
        );
    }
    // In order, and no clientId stored twice (retries included).
    assert!(
        history.windows(2).all(|w| w[0].id < w[1].id),
        "history out of order"
    );
    let keys: HashSet<(&str, &str)> = history
        .iter()
        .map(|m| (m.from.as_str(), m.client_id.as_deref().unwrap_or("")))
        .collect();
    assert_eq!(keys.len(), history.len(), "a message was stored twice");
    // Each sender's messages keep their sending order.
    for (tag, from) in [("a", &a), ("b", &b)] {
        let seq: Vec<u64> = history
            .iter()
            .filter(|m| &m.from == from)
            .map(|m| m.content.trim_start_matches(tag).trim().parse().unwrap())
            .collect();
        assert_eq!(
            seq,
            (0..seq.len() as u64).collect::<Vec<_>>(),
            "{tag}'s messages"
        );
    }
    // Nothing else: the acked ones plus the two retried sends, each exactly once.
    assert_eq!(history.len(), acked_a.len() + acked_b.len() + 2);
}
