//! Presence: `user connected` / `user disconnected`, several windows per user, and clients
//! that misbehave during the handshake.

use std::time::Duration;

use natter_protocol::{PresenceChange, User, event};
use natter_tests::raw::RawSocket;
use natter_tests::{SioClient, WAIT, fresh_server};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn others_see_a_user_come_and_go() {
    let (_dir, server) = fresh_server(&[]).await;
    let mut bob = SioClient::login(&server.url, "bob").await;
    let alice = SioClient::login(&server.url, "alice").await;
    let a = alice.session.user_id.clone();

    let announced: User =
        serde_json::from_value(bob.client.next(event::USER_CONNECTED).await).unwrap();
    assert_eq!(
        announced,
        User {
            user_id: a.clone(),
            username: "alice".into(),
            connected: true,
            ..User::default()
        }
    );
    // Alice's list: both users, both online; she is not told about herself.
    assert_eq!(alice.users.len(), 2);
    assert!(alice.users.iter().all(|u| u.connected));

    alice.client.close().await;
    let gone = bob.client.next(event::USER_DISCONNECTED).await;
    assert_eq!(gone, json!(a), "the guide's payload: the bare userID");

    let carol = SioClient::login(&server.url, "carol").await;
    let seen = carol.users.iter().find(|u| u.user_id == a).unwrap();
    assert!(!seen.connected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_stays_online_while_any_window_is_open() {
    let (_dir, server) = fresh_server(&[]).await;
    let mut bob = SioClient::login(&server.url, "bob").await;
    let first = SioClient::login(&server.url, "alice").await;
    let second = SioClient::resume(&server.url, &first.session.session_id).await;
    let a = first.session.user_id.clone();

    first.client.close().await;
    bob.client.assert_no(event::USER_DISCONNECTED).await;
    let carol = SioClient::login(&server.url, "carol").await;
    assert!(
        carol
            .users
            .iter()
            .find(|u| u.user_id == a)
            .unwrap()
            .connected
    );

    second.client.close().await;
    assert_eq!(bob.client.next(event::USER_DISCONNECTED).await, json!(a));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_ask_get_presence_batched_and_the_guides_clients_their_events() {
    let (_dir, server) = fresh_server(&[]).await;
    let batched_auth = |name: &str| json!({ "username": name, "batchPresence": true });
    let mut bob = SioClient::login_with(&server.url, batched_auth("bob")).await;
    let mut carol = SioClient::login(&server.url, "carol").await;
    let c = carol.session.user_id.clone();
    let seen = bob.client.presence_until(&c, true).await;
    let carols: Vec<_> = seen.iter().filter(|x| x.user_id == c).collect();
    assert_eq!(
        carols,
        [&PresenceChange {
            user_id: c.clone(),
            username: Some("carol".into()),
            display_name: None,
            connected: true,
        }],
        "a newcomer's entry carries the name: {seen:?}"
    );

    // Ten people come and go at once: the batched client sees every change, each person's
    // in order; the guide's client gets the guide's events, one each.
    let mut people = Vec::new();
    for i in 0..10 {
        people.push(SioClient::login(&server.url, &format!("p{i}")).await);
    }
    let ids: Vec<String> = people.iter().map(|p| p.session.user_id.clone()).collect();
    for p in people {
        p.client.close().await;
    }
    let mut changes = Vec::new();
    for id in &ids {
        if !changes
            .iter()
            .any(|x: &PresenceChange| &x.user_id == id && !x.connected)
        {
            changes.extend(bob.client.presence_until(id, false).await);
        }
    }
    for id in &ids {
        let mine: Vec<bool> = changes
            .iter()
            .filter(|x| &x.user_id == id)
            .map(|x| x.connected)
            .collect();
        assert_eq!(mine, [true, false], "{id}: {changes:?}");
    }
    let mut announced = Vec::new();
    for _ in &ids {
        let user: User =
            serde_json::from_value(carol.client.next(event::USER_CONNECTED).await).unwrap();
        announced.push(user.user_id);
    }
    let mut gone = Vec::new();
    for _ in &ids {
        gone.push(carol.client.next(event::USER_DISCONNECTED).await);
    }
    announced.sort();
    gone.sort_by_key(|v| v.as_str().map(str::to_owned));
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(announced, expected);
    assert_eq!(
        gone,
        expected.iter().map(|id| json!(id)).collect::<Vec<_>>()
    );

    // Each audience only gets its own form.
    bob.client.assert_no(event::USER_CONNECTED).await;
    bob.client.assert_no(event::USER_DISCONNECTED).await;
    carol.client.assert_no(event::PRESENCE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batched_client_knows_a_newcomer_before_their_first_message() {
    let (_dir, server) = fresh_server(&[]).await;
    let mut bob = SioClient::login_with(
        &server.url,
        json!({ "username": "bob", "batchPresence": true }),
    )
    .await;
    let b = bob.session.user_id.clone();
    for round in 0..5 {
        // Writes the moment it is in, well inside the presence window.
        let dave = SioClient::login(&server.url, &format!("dave{round}")).await;
        let d = dave.session.user_id.clone();
        dave.client.send(&b, "hello").await;
        loop {
            let (name, payload) = bob
                .client
                .next_of(&[event::PRESENCE, event::PRIVATE_MESSAGE])
                .await;
            assert_eq!(
                name,
                event::PRESENCE,
                "a message before its sender: {payload}"
            );
            let batch: Vec<PresenceChange> = serde_json::from_value(payload).unwrap();
            if batch.iter().any(|c| c.user_id == d && c.connected) {
                break;
            }
        }
        let message = bob.client.next(event::PRIVATE_MESSAGE).await;
        assert_eq!(message["from"], json!(d));
        dave.client.close().await;
        bob.client.presence_until(&d, false).await;
    }
}

/// Logs in (again) as the observer and returns the `connected` flag of every user named so.
async fn connected_flags(url: &str, observer: &str, prefix: &str) -> Vec<bool> {
    let login = SioClient::resume(url, observer).await;
    let flags = login
        .users
        .iter()
        .filter(|u| u.username.starts_with(prefix))
        .map(|u| u.connected)
        .collect();
    login.client.close().await;
    flags
}

async fn eventually_all_offline(url: &str, observer: &str, prefix: &str, expected: usize) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let flags = connected_flags(url, observer, prefix).await;
        if flags.len() >= expected && flags.iter().all(|c| !c) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "users still shown online: {flags:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_drop_during_the_handshake_are_not_left_online() {
    let (_dir, server) = fresh_server(&["--no-limits"]).await;
    let observer = SioClient::login(&server.url, "observer").await;
    let observer_sid = observer.session.session_id.clone();
    observer.client.close().await;

    for i in 0..30 {
        let mut raw = RawSocket::open(&server).await;
        raw.send(&format!(r#"40{{"username":"ghost{i}"}}"#)).await;
        if i % 2 == 1 {
            // Half of them wait for the CONNECT answer before vanishing.
            raw.recv_starting("40").await;
        }
        raw.drop_connection();
    }
    // Every ghost that got a session must end offline.
    eventually_all_offline(&server.url, &observer_sid, "ghost", 15).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_sent_before_the_connect_answer_leaves_presence_right() {
    let (_dir, server) = fresh_server(&["--no-limits"]).await;
    let mut bob = SioClient::login(&server.url, "bob").await;
    let b = bob.session.user_id.clone();
    let observer = SioClient::login(&server.url, "observer").await;
    let observer_sid = observer.session.session_id.clone();
    observer.client.close().await;

    let mut acked = Vec::new();
    for i in 0..20 {
        let mut raw = RawSocket::open(&server).await;
        // CONNECT and an event in one burst, without waiting for the server's answer.
        raw.send(&format!(r#"40{{"username":"eager{i}"}}"#)).await;
        raw.send(&format!(
            r#"421["private message",{{"to":"{b}","content":"early {i}"}}]"#
        ))
        .await;
        // Read whatever comes until the server answers the event or closes the connection.
        while let Some(p) = raw.recv().await {
            if p.starts_with("431") {
                acked.push(format!("early {i}"));
                break;
            }
        }
        raw.drop_connection();
    }
    eventually_all_offline(&server.url, &observer_sid, "eager", 1).await;

    // Every early message that was stored reached bob once, and bob's view agrees.
    let delivered = bob
        .client
        .drain(event::PRIVATE_MESSAGE, Duration::from_millis(300))
        .await;
    let mut contents: Vec<&str> = delivered
        .iter()
        .filter_map(|m| m.get("content").and_then(Value::as_str))
        .collect();
    contents.sort();
    let before = contents.len();
    contents.dedup();
    eprintln!(
        "early messages acked: {}, delivered: {}",
        acked.len(),
        contents.len()
    );
    for a in &acked {
        assert!(
            contents.contains(&a.as_str()),
            "acked `{a}` never reached bob"
        );
    }
    assert_eq!(before, contents.len(), "a message was delivered twice");

    // bob's own view: every `user connected` he saw was followed by its `user disconnected`.
    let ups = bob
        .client
        .drain(event::USER_CONNECTED, Duration::from_millis(100))
        .await;
    let downs = bob
        .client
        .drain(event::USER_DISCONNECTED, Duration::from_millis(100))
        .await;
    for up in ups.iter().filter(|u| {
        u["username"]
            .as_str()
            .is_some_and(|n| n.starts_with("eager"))
    }) {
        assert!(
            downs.contains(&up["userID"]),
            "{up} came online and never left"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_restart_everyone_starts_offline() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = natter_tests::TestServer::start(dir.path(), &[]).await;
    let alice = SioClient::login(&server.url, "alice").await;
    let bob = SioClient::login(&server.url, "bob").await;
    server.kill().await;
    drop(alice);
    let server = natter_tests::TestServer::start(dir.path(), &[]).await;
    let again = SioClient::resume(&server.url, &bob.session.session_id).await;
    let flags: Vec<(String, bool)> = again
        .users
        .iter()
        .map(|u| (u.username.clone(), u.connected))
        .collect();
    assert_eq!(flags, [("alice".into(), false), ("bob".into(), true)]);
}
