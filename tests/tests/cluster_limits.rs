//! Limits across cluster nodes: a person or a client address spreading its connections over
//! the nodes meets the same limits as on one node (the buckets and the failed-password count
//! are held in Redis).

use std::time::Instant;

use natter_tests::redis::RedisServer;
use natter_tests::{SioClient, TestServer};
use serde_json::json;

const RATE: &[&str] = &["--messages-per-second", "1", "--message-burst", "10"];

async fn two_nodes(redis: &RedisServer) -> (Vec<tempfile::TempDir>, TestServer, TestServer) {
    let dirs = vec![tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let a = TestServer::start_node_with(dirs[0].path(), &redis.url, None, RATE).await;
    let b = TestServer::start_node_with(dirs[1].path(), &redis.url, Some(&a), RATE).await;
    (dirs, a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_spread_over_two_nodes_is_limited_as_on_one() {
    let redis = RedisServer::start().await;
    let (_dirs, a, b) = two_nodes(&redis).await;
    let on_a = SioClient::login(&a.url, "alice").await;
    let on_b = SioClient::resume(&b.url, &on_a.session.session_id).await;
    let bob = SioClient::login(&b.url, "bob").await;
    let to = bob.session.user_id.clone();

    // Alternating nodes, alice gets one burst, not one per node.
    let started = Instant::now();
    let mut stored = 0u64;
    let limited = loop {
        let via = if stored.is_multiple_of(2) {
            &on_a
        } else {
            &on_b
        };
        let ack = via.client.send(&to, &format!("m{stored}")).await;
        if ack["code"] == "rate_limited" {
            break ack;
        }
        assert_eq!(ack["content"], format!("m{stored}"), "{ack}");
        stored += 1;
        assert!(stored <= 40, "never limited");
    };
    // A token a second refills while these go out: at most one more per second taken.
    let refilled = started.elapsed().as_secs() + 1;
    assert!(
        (10..=10 + refilled).contains(&stored),
        "{stored} messages passed a burst of 10 over two nodes in {:?}",
        started.elapsed()
    );
    assert!(
        limited["retryAfterMs"].as_u64().is_some_and(|ms| ms >= 1),
        "{limited}"
    );
    // The other node says the same to her, and someone else is not slowed down.
    let other_node = on_b.client.send(&to, "again").await;
    let other_node2 = on_a.client.send(&to, "again").await;
    assert!(
        other_node["code"] == "rate_limited" || other_node2["code"] == "rate_limited",
        "{other_node} {other_node2}"
    );
    let reply = bob.client.send(&on_a.session.user_id, "hi").await;
    assert_eq!(reply["content"], "hi", "{reply}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_passwords_count_across_nodes() {
    let redis = RedisServer::start().await;
    let (_dirs, a, b) = two_nodes(&redis).await;
    SioClient::login_with(
        &a.url,
        json!({"username": "carol", "password": "carol's secret"}),
    )
    .await;
    // Five wrong on each node: ten from this address, the limit.
    for node in [&a, &b] {
        for _ in 0..5 {
            let refused =
                SioClient::connect(&node.url, json!({"username": "carol", "password": "guess"}))
                    .await;
            assert_eq!(refused.err().as_deref(), Some("wrong password"));
        }
    }
    // Even the right password now waits, on either node.
    for node in [&b, &a] {
        let refused = SioClient::connect(
            &node.url,
            json!({"username": "carol", "password": "carol's secret"}),
        )
        .await;
        assert_eq!(
            refused.err().as_deref(),
            Some("too many attempts, try again later")
        );
    }
}
