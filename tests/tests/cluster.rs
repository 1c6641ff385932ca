//! Several natter-server nodes sharing one Redis act as one server.

use std::time::{Duration, Instant};

use natter_protocol::{Message, MessagePage, Reply, User, event};
use natter_tests::redis::RedisServer;
use natter_tests::{SioClient, TestServer};
use serde_json::{Value, json};

/// `n` nodes on one Redis, with TLS on: the first makes a certificate, the others serve it
/// too (`--tls-cert`), as an operator's nodes share one.
async fn nodes(redis: &RedisServer, n: usize) -> (Vec<tempfile::TempDir>, Vec<TestServer>) {
    let mut dirs = Vec::new();
    let mut servers: Vec<TestServer> = Vec::new();
    for _ in 0..n {
        let dir = tempfile::tempdir().unwrap();
        let server = TestServer::start_node(dir.path(), &redis.url, servers.first()).await;
        servers.push(server);
        dirs.push(dir);
    }
    let fp = servers[0].fingerprint.clone();
    assert!(fp.is_some());
    assert!(
        servers.iter().all(|s| s.fingerprint == fp),
        "one certificate"
    );
    (dirs, servers)
}

fn message(v: Value) -> Message {
    serde_json::from_value::<Reply<Message>>(v)
        .unwrap()
        .into_result()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_act_as_one_server() {
    let redis = RedisServer::start().await;
    let (_dirs, s) = nodes(&redis, 3).await;
    let alice = SioClient::login(&s[0].url, "alice").await;
    let mut bob = SioClient::login(&s[1].url, "bob").await;
    let mut carol = SioClient::login(&s[2].url, "carol").await;
    let (a, b) = (alice.session.user_id.clone(), bob.session.user_id.clone());

    // Every node reports Redis and the three live nodes.
    let (_, health) = s[2].healthz().await;
    assert_eq!(
        (health["redis"].as_str(), health["nodes"].as_u64()),
        (Some("ok"), Some(3)),
        "{health}"
    );

    // One user list, with presence, wherever you land.
    let seen: Vec<(String, bool)> = carol
        .users
        .iter()
        .map(|u| (u.username.clone(), u.connected))
        .collect();
    assert_eq!(
        seen,
        [
            ("alice".into(), true),
            ("bob".into(), true),
            ("carol".into(), true)
        ]
    );
    let up: User = serde_json::from_value(bob.client.next(event::USER_CONNECTED).await).unwrap();
    assert_eq!(up.username, "carol", "announcements cross nodes");

    // Alice's second window is on another node than her first and than bob.
    let mut alice2 = SioClient::resume(&s[2].url, &alice.session.session_id).await;
    let sent = message(alice.client.send(&b, "across nodes").await);
    let got: Message =
        serde_json::from_value(bob.client.next(event::PRIVATE_MESSAGE).await).unwrap();
    assert_eq!(got, sent);
    let copy: Message =
        serde_json::from_value(alice2.client.next(event::PRIVATE_MESSAGE).await).unwrap();
    assert_eq!(copy, sent);

    // History and paging come from the shared store, on any node.
    let page: MessagePage = carol.client.fetch(json!({"with": a})).await;
    assert!(
        page.messages.is_empty(),
        "carol sees only her own conversations"
    );
    let page: MessagePage = bob.client.fetch(json!({"with": a})).await;
    assert_eq!(page.messages, std::slice::from_ref(&sent));
    // Idempotent retries across nodes.
    let payload = json!({"to": b, "content": "once", "clientId": "k1"});
    let first = message(
        alice
            .client
            .ack(event::PRIVATE_MESSAGE, payload.clone())
            .await,
    );
    let again = message(alice2.client.ack(event::PRIVATE_MESSAGE, payload).await);
    assert_eq!(first, again);

    // One window of alice closes: she stays online; the other closes: everyone hears it.
    alice.client.close().await;
    carol.client.assert_no(event::USER_DISCONNECTED).await;
    alice2.client.close().await;
    assert_eq!(carol.client.next(event::USER_DISCONNECTED).await, json!(a));
    assert_eq!(bob.client.next(event::USER_DISCONNECTED).await, json!(a));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_node_loses_no_acked_message_and_its_users_go_offline() {
    let redis = RedisServer::start().await;
    let (dirs, mut s) = nodes(&redis, 3).await;
    let mut watcher = SioClient::login(&s[0].url, "watcher").await;
    let batched_auth = json!({ "username": "batched", "batchPresence": true });
    let mut batched = SioClient::login_with(&s[2].url, batched_auth).await;
    let dave = SioClient::login(&s[1].url, "dave").await;
    let d = dave.session.user_id.clone();
    while watcher.client.next(event::USER_CONNECTED).await["userID"] != json!(d) {}
    // Batched presence crosses nodes too.
    batched.client.presence_until(&d, true).await;

    let mut acked = Vec::new();
    for i in 0..50 {
        acked.push(message(
            dave.client
                .send(&watcher.session.user_id, &format!("m{i}"))
                .await,
        ));
    }
    let killed = Instant::now();
    s[1].kill().await;
    // Dave's only node is gone: within a few seconds everyone sees him offline.
    let gone = watcher
        .client
        .next_within(event::USER_DISCONNECTED, Duration::from_secs(8))
        .await
        .expect("dave never went offline");
    assert_eq!(gone, json!(d));
    eprintln!("offline announced {:?} after the kill", killed.elapsed());
    let changes = batched.client.presence_until(&d, false).await;
    assert!(
        changes.iter().all(|c| c.user_id != d || !c.connected),
        "{changes:?}"
    );

    // Dave comes back on another node with his session; nothing acked was lost.
    let back = SioClient::resume(&s[2].url, &dave.session.session_id).await;
    assert_eq!(back.session.user_id, d);
    let with_watcher = back.users.iter().find(|u| u.username == "watcher").unwrap();
    assert_eq!(
        with_watcher.messages, acked,
        "all 50 acked messages, in order, once"
    );

    // A node restarted on the same Redis picks up where it was.
    let restarted = TestServer::start_node(dirs[1].path(), &redis.url, Some(&s[0])).await;
    let again = SioClient::resume(&restarted.url, &dave.session.session_id).await;
    assert_eq!(again.session.user_id, d);
    assert!(
        again
            .users
            .iter()
            .any(|u| u.username == "watcher" && u.connected)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_node_is_declared_dead_then_restores_its_users() {
    let redis = RedisServer::start().await;
    let (_dirs, s) = nodes(&redis, 2).await;
    let mut watcher = SioClient::login(&s[0].url, "watcher").await;
    let erin = SioClient::login(&s[1].url, "erin").await;
    let e = erin.session.user_id.clone();
    watcher.client.next(event::USER_CONNECTED).await;

    let pid = s[1].pid().to_string();
    let signal = |sig: &str| {
        std::process::Command::new("kill")
            .args([sig, &pid])
            .status()
            .expect("kill");
    };
    signal("-STOP");
    // Silent past its heartbeat: erin is announced offline...
    let down = watcher
        .client
        .next_within(event::USER_DISCONNECTED, Duration::from_secs(10))
        .await;
    signal("-CONT");
    assert_eq!(
        down,
        Some(json!(e)),
        "a stalled node's users must not stay online forever"
    );
    // ...and once the node answers again, she is back, since her socket survived.
    let up = watcher
        .client
        .next_within(event::USER_CONNECTED, Duration::from_secs(10))
        .await
        .expect("erin never came back online");
    assert_eq!(up["userID"], json!(e));
    let again = SioClient::login(&s[0].url, "late").await;
    assert!(
        again.users.iter().any(|u| u.user_id == e && u.connected),
        "erin shown offline"
    );
    drop(erin);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_accounts_and_revocations_hold_across_nodes() {
    let redis = RedisServer::start().await;
    let (_dirs, s) = nodes(&redis, 2).await;
    let auth = json!({"username": "erin", "password": "correct horse"});
    let erin = SioClient::login_with(&s[0].url, auth.clone()).await;
    // The name is taken on every node, in any spelling.
    let taken = SioClient::connect(&s[1].url, json!({"username": "ERIN"})).await;
    assert_eq!(taken.err().as_deref(), Some("password required"));
    // Signing in on the other node reaches the same identity.
    let mut erin2 = SioClient::login_with(&s[1].url, auth).await;
    assert_eq!(erin2.session.user_id, erin.session.user_id);
    assert_ne!(erin2.session.session_id, erin.session.session_id);

    // A logout on node 0 is refused at once by node 1.
    let done = erin.client.ack(event::LOGOUT, json!({})).await;
    assert_eq!(done, json!({"ok": true}));
    let again = SioClient::connect(
        &s[1].url,
        json!({"sessionID": erin.session.session_id, "username": "erin"}),
    )
    .await;
    assert_eq!(again.err().as_deref(), Some("session revoked"));

    // The operator, on node 0, revokes the user: the socket on node 1 is closed.
    let (ok, out, err) = s[0].admin(&["revoke", "erin"], "").await;
    assert!(ok, "{out}{err}");
    assert!(
        erin2.client.closed_within(WAIT_CLOSE).await,
        "revoked socket on the other node still open"
    );
    let again = SioClient::connect(&s[0].url, json!({"sessionID": erin2.session.session_id})).await;
    assert_eq!(again.err().as_deref(), Some("invalid username"));
}

const WAIT_CLOSE: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_say_unavailable_during_a_redis_restart_and_serve_again_after() {
    let redis_dir = tempfile::tempdir().unwrap();
    let mut redis = RedisServer::start_persistent(redis_dir.path()).await;
    let (_dirs, s) = nodes(&redis, 2).await;
    let alice = SioClient::login(&s[0].url, "alice").await;
    let mut bob = SioClient::login(&s[1].url, "bob").await;
    let (a, b) = (alice.session.user_id.clone(), bob.session.user_id.clone());

    redis.stop().await;
    // Honest: the nodes cannot store anything, and say so.
    for node in &s {
        let (status, _) = node.healthz().await;
        assert!(status.contains(" 503"), "{status}");
    }
    let refused = SioClient::connect(&s[0].url, json!({"username": "carol"})).await;
    assert_eq!(
        refused.err().as_deref(),
        Some("server unavailable, try again"),
        "a refusal that keeps the person's session"
    );
    let ack = alice.client.send(&b, "during the outage").await;
    assert_eq!(ack["code"], "unavailable", "{ack}");

    // Redis is back: within seconds both nodes serve again, across nodes.
    redis.start_again().await;
    let back = Instant::now();
    for node in &s {
        loop {
            let (status, _) = node.healthz().await;
            if status.contains(" 200") {
                break;
            }
            assert!(
                back.elapsed() < Duration::from_secs(15),
                "a node did not recover: {status}\n{}",
                node.log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    eprintln!(
        "both nodes healthy {:?} after Redis came back",
        back.elapsed()
    );
    // A message from node 0 reaches bob on node 1 (the adapter subscribed again).
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let ack = alice.client.send(&b, "after the outage").await;
        if ack["id"].is_u64() {
            break;
        }
        assert!(Instant::now() < deadline, "no message stored after: {ack}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let got = bob.client.next(event::PRIVATE_MESSAGE).await;
    assert_eq!(got["content"], "after the outage");
    let carol = SioClient::login(&s[0].url, "carol").await;
    // Presence holds: alice and bob are still online for a newcomer.
    for u in &carol.users {
        if u.user_id == a || u.user_id == b {
            assert!(u.connected, "{} shown offline", u.username);
        }
    }
}
