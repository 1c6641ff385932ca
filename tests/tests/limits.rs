//! One client cannot hurt the others: transport limits before anything is parsed, a deadline
//! for the handshake, a cap on connections per address, a message rate per user, and content
//! rules.

use std::time::{Duration, Instant};

use natter_protocol::event;
use natter_tests::raw::{Options, RawSocket};
use natter_tests::{SioClient, fresh_server};

fn from(ip: &str) -> Options {
    Options {
        local: Some(ip.parse().unwrap()),
        ..Options::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_frame_closes_the_connection_before_it_is_parsed() {
    let (_dir, server) = fresh_server(&[]).await;
    let alice = SioClient::login(&server.url, "alice").await;
    let mut raw = RawSocket::open(&server).await;
    // 8 MiB before any authentication: refused by the websocket layer.
    // The server may close while the frame is still being written.
    let sent = raw
        .try_send(&format!("40{{\"username\":\"{}\"}}", "x".repeat(8 << 20)))
        .await;
    if sent.is_ok() {
        assert_eq!(raw.recv().await, None, "the connection stays open");
    }

    // Others are untouched.
    let sent = alice
        .client
        .send(&alice.session.user_id, "still fine")
        .await;
    assert_eq!(sent["content"], "still fine");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_completes_the_handshake_is_closed() {
    let (_dir, server) = fresh_server(&[]).await;
    let mut raw = RawSocket::open(&server).await;
    let started = Instant::now();
    // Engine.io is open; socket.io's CONNECT never comes.
    while raw.recv().await.is_some() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "a silent engine.io session was kept"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_per_address_are_capped() {
    let (_dir, server) = fresh_server(&["--max-connections-per-ip", "3"]).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(
            RawSocket::open_with(&server, from("127.0.0.3"))
                .await
                .unwrap(),
        );
    }
    assert!(
        RawSocket::open_with(&server, from("127.0.0.3"))
            .await
            .is_err(),
        "a fourth connection from one address"
    );
    RawSocket::open_with(&server, from("127.0.0.4"))
        .await
        .expect("another address is not affected");
    held.pop().unwrap().drop_connection();
    let deadline = Instant::now() + Duration::from_secs(10);
    while RawSocket::open_with(&server, from("127.0.0.3"))
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "the slot was not given back");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_sending_too_fast_is_told_when_to_try_again() {
    let (_dir, server) =
        fresh_server(&["--messages-per-second", "1", "--message-burst", "5"]).await;
    let alice = SioClient::login(&server.url, "alice").await;
    let bob = SioClient::login(&server.url, "bob").await;
    let b = bob.session.user_id.clone();
    // The burst passes; the rate then applies (a slow machine may refill a token or two while
    // these go out, hence "within 20", not "the 6th").
    let mut stored = 0;
    let limited = loop {
        let ack = alice.client.send(&b, &format!("m{stored}")).await;
        if ack["code"] == "rate_limited" {
            break ack;
        }
        assert_eq!(ack["content"], format!("m{stored}"), "{ack}");
        stored += 1;
        assert!(stored <= 20, "never limited");
    };
    assert!(stored >= 5, "limited within the burst, after {stored}");
    let wait = limited["retryAfterMs"].as_u64().expect("a retry hint");
    assert!((1..=1000).contains(&wait), "{wait}");
    // Someone else is not slowed down.
    let other = bob.client.send(&alice.session.user_id, "hi").await;
    assert_eq!(other["content"], "hi");
    tokio::time::sleep(Duration::from_millis(wait + 20)).await;
    let later = alice.client.send(&b, "after the hint").await;
    assert_eq!(later["content"], "after the hint", "{later}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_limits_lifts_the_rate_limit() {
    let (_dir, server) = fresh_server(&[
        "--messages-per-second",
        "1",
        "--message-burst",
        "1",
        "--no-limits",
    ])
    .await;
    let alice = SioClient::login(&server.url, "alice").await;
    for i in 0..20 {
        let ack = alice
            .client
            .send(&alice.session.user_id, &format!("{i}"))
            .await;
        assert_eq!(ack["content"], format!("{i}"), "{ack}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_characters_are_refused_and_bidi_controls_kept() {
    let (_dir, server) = fresh_server(&[]).await;
    let alice = SioClient::login(&server.url, "alice").await;
    let mut bob = SioClient::login(&server.url, "bob").await;
    let b = bob.session.user_id.clone();
    for bad in [
        "bell \u{7}",
        "esc \u{1b}[2J",
        "nul \u{0}",
        "c1 \u{85}",
        "\u{1}",
    ] {
        let ack = alice.client.send(&b, bad).await;
        assert_eq!(ack["code"], "invalid_content", "{bad:?}: {ack}");
    }
    for ok in ["two\nlines", "a\ttab", "\u{202E}reversed\u{202C} text"] {
        let ack = alice.client.send(&b, ok).await;
        assert_eq!(ack["content"], ok, "{ok:?}: {ack}");
    }
    // Only the accepted ones reached bob.
    let got = bob
        .client
        .drain(event::PRIVATE_MESSAGE, Duration::from_millis(500))
        .await;
    assert_eq!(got.len(), 3, "{got:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_are_bounded_in_bytes_whatever_is_stored() {
    let (_dir, server) =
        fresh_server(&["--history-per-chat", "500", "--max-message-bytes", "65536"]).await;
    let alice = SioClient::login(&server.url, "alice").await;
    let a = alice.session.user_id.clone();
    let big = "x".repeat(64 * 1024);
    // Two people send alice 5 MiB in all.
    for p in 0..2 {
        let sender = SioClient::login(&server.url, &format!("sender{p}")).await;
        for _ in 0..40 {
            let ack = sender.client.send(&a, &big).await;
            assert!(ack["id"].is_u64(), "{ack}");
        }
        sender.client.close().await;
    }
    let again = SioClient::resume(&server.url, &alice.session.session_id).await;
    let bytes: usize = again
        .users
        .iter()
        .flat_map(|u| &u.messages)
        .map(|m| m.content.len())
        .sum();
    assert!(
        (3 << 20..=4 << 20).contains(&bytes),
        "login history of {bytes} bytes"
    );
    // Each conversation kept its newest messages.
    let p0 = again
        .users
        .iter()
        .find(|u| u.username == "sender0")
        .unwrap();
    let page = again
        .client
        .ack(
            event::FETCH_MESSAGES,
            serde_json::json!({"with": p0.user_id, "limit": 500}),
        )
        .await;
    let page: natter_protocol::MessagePage = serde_json::from_value(page).unwrap();
    let page_bytes: usize = page.messages.iter().map(|m| m.content.len()).sum();
    assert!(page_bytes <= 1 << 20, "a page of {page_bytes} bytes");
    assert!(page.has_more, "older messages are still there to page to");
    assert_eq!(page.messages.len(), 16);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_answers_are_paid_for_in_bytes() {
    // 256 KiB at once, then 16 KiB a second: a client that keeps asking for large pages and
    // reads none of them cannot make answers pile up.
    let (_dir, server) = fresh_server(&[
        "--max-message-bytes",
        "65536",
        "--fetch-burst-bytes",
        "262144",
        "--fetch-bytes-per-second",
        "16384",
    ])
    .await;
    let alice = SioClient::login(&server.url, "alice").await;
    let bob = SioClient::login(&server.url, "bob").await;
    let carol = SioClient::login(&server.url, "carol").await;
    let big = "x".repeat(64 * 1024);
    for _ in 0..20 {
        let ack = bob.client.send(&alice.session.user_id, &big).await;
        assert!(ack["id"].is_u64(), "{ack}");
    }
    async fn fetch(login: &natter_tests::client::Login, with: &str) -> serde_json::Value {
        let page = serde_json::json!({"with": with, "limit": 500});
        login.client.ack(event::FETCH_MESSAGES, page).await
    }
    let first = fetch(&alice, &bob.session.user_id).await;
    let page: natter_protocol::MessagePage = serde_json::from_value(first).unwrap();
    assert_eq!(
        page.messages.len(),
        16,
        "a full 1 MiB page: the budget goes into debt"
    );
    let second = fetch(&alice, &bob.session.user_id).await;
    assert_eq!(
        second["code"],
        "rate_limited",
        "{:.200}",
        second.to_string()
    );
    // About 800 KiB of debt at 16 KiB a second.
    let wait = second["retryAfterMs"].as_u64().expect("a hint");
    assert!((40_000..=60_000).contains(&wait), "retry after {wait} ms");
    // Small answers of others are not held up.
    let theirs = fetch(&carol, &alice.session.user_id).await;
    assert_eq!(theirs["messages"], serde_json::json!([]), "{theirs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_names_are_limited_per_address() {
    let (_dir, server) = fresh_server(&[]).await;
    let login = |ip: &'static str, name: String| {
        let server = &server;
        async move {
            let mut raw = RawSocket::open_with(server, from(ip)).await.unwrap();
            raw.send(&format!(r#"40{{"username":"{name}"}}"#)).await;
            raw.recv_starting("4").await.expect("an answer")
        }
    };
    for i in 0..20 {
        let answer = login("127.0.0.5", format!("script{i}")).await;
        assert!(answer.starts_with("40"), "{i}: {answer}");
    }
    let refused = login("127.0.0.5", "script20".into()).await;
    assert!(refused.contains("too many attempts"), "{refused}");
    let other = login("127.0.0.6", "person".into()).await;
    assert!(other.starts_with("40"), "another address: {other}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sockets_per_user_are_capped() {
    let (_dir, server) = fresh_server(&[]).await;
    let alice = SioClient::login(&server.url, "alice").await;
    let sid = alice.session.session_id.clone();
    let mut held = vec![alice.client];
    for _ in 1..32 {
        held.push(SioClient::resume(&server.url, &sid).await.client);
    }
    let refused = SioClient::connect(&server.url, serde_json::json!({ "sessionID": sid })).await;
    assert_eq!(
        refused.err().as_deref(),
        Some("too many connections for this user")
    );
    held.pop().unwrap().close().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while SioClient::connect(&server.url, serde_json::json!({ "sessionID": sid }))
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "no room after one left");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_sending_malformed_events_is_disconnected() {
    let (_dir, server) = fresh_server(&[]).await;
    let alice = SioClient::login(&server.url, "alice").await;
    let mut raw = RawSocket::open(&server).await;
    raw.send(r#"40{"username":"noisy"}"#).await;
    raw.recv_starting("40").await.expect("connected");
    let mut acks = 0;
    'sending: for i in 0..25 {
        if raw
            .try_send(&format!(r#"42{i}["private message","not an object"]"#))
            .await
            .is_err()
        {
            break;
        }
        loop {
            match raw.recv().await {
                Some(p) if p.starts_with("43") => {
                    assert!(p.contains("invalid_payload"), "{p}");
                    acks += 1;
                    break;
                }
                // The server's DISCONNECT for this socket, or the connection's end.
                Some(p) if p.starts_with("41") => break 'sending,
                Some(_) => {}
                None => break 'sending,
            }
        }
    }
    // Each got its answer, then the socket was closed after the 20th.
    assert_eq!(acks, 20);
    assert!(
        server.log().contains("too many malformed events"),
        "{}",
        server.log()
    );
    // Others are untouched.
    let sent = alice.client.send(&alice.session.user_id, "fine").await;
    assert_eq!(sent["content"], "fine");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_disconnected_not_buffered_for() {
    let (_dir, server) = fresh_server(&["--no-limits", "--max-message-bytes", "65536"]).await;
    let mut observer = SioClient::login(&server.url, "observer").await;
    let sender = SioClient::login(&server.url, "sender").await;
    let mut sloth = RawSocket::open(&server).await;
    sloth.send(r#"40{"username":"sloth"}"#).await;
    let session = sloth
        .recv_starting(r#"42["session""#)
        .await
        .expect("session");
    let id = session
        .split("\"userID\":\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("userID")
        .to_owned();
    // From here the sloth reads nothing, and 64 KiB messages keep coming its way until the
    // server lets it go: however much the kernel buffers absorb, they fill at some point.
    let big = "z".repeat(64 * 1024);
    let flood = async {
        for sent in 1..=4096u32 {
            let ack = sender.client.send(&id, &big).await;
            assert!(ack["id"].is_u64(), "{ack}");
            if sent % 64 == 0 {
                tokio::task::yield_now().await;
            }
        }
        panic!("256 MiB sent to a client that reads nothing, and it is still connected");
    };
    let gone = tokio::select! {
        gone = observer.client.next_within(event::USER_DISCONNECTED, Duration::from_secs(120)) => gone,
        () = flood => unreachable!(),
    };
    assert_eq!(
        gone,
        Some(serde_json::json!(id)),
        "the sloth is still connected"
    );
    let log = server.log();
    assert!(log.contains("the client stopped reading"), "{log}");
    // The write stall ended it, not the heartbeat (which would also come, 45 s in).
    assert!(!log.contains("reason=HeartbeatTimeout"), "{log}");
    drop(sloth);
}
