//! Who may join and as whom: the join password (and its throttle per client address), honest
//! unique names, and accounts with passwords.

use natter_protocol::event;
use natter_tests::raw::{Options, RawSocket};
use natter_tests::{SioClient, TestServer, fresh_server};
use serde_json::{Value, json};

async fn refusal(url: &str, auth: Value) -> String {
    match SioClient::connect(url, auth.clone()).await {
        Ok(_) => panic!("{auth} was let in"),
        Err(message) => message,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_password_guards_new_sessions_and_failures_are_throttled_per_address() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("join-password");
    std::fs::write(&file, "open sesame\n").unwrap();
    let server = TestServer::start(
        &dir.path().join("data"),
        &["--join-password-file", file.to_str().unwrap()],
    )
    .await;
    let url = server.url.as_str();
    assert_eq!(
        refusal(url, json!({"username": "alice"})).await,
        "join password required"
    );
    assert_eq!(
        refusal(
            url,
            json!({"username": "alice", "joinPassword": "open sesame?"})
        )
        .await,
        "wrong join password"
    );
    let alice = SioClient::login_with(
        url,
        json!({"username": "alice", "joinPassword": "open sesame"}),
    )
    .await;
    // Resuming needs no join password.
    SioClient::resume(url, &alice.session.session_id).await;

    // Ten failures from this address, then even the right password waits.
    for _ in 0..9 {
        refusal(url, json!({"username": "x", "joinPassword": "guess"})).await;
    }
    assert_eq!(
        refusal(
            url,
            json!({"username": "bob", "joinPassword": "open sesame"})
        )
        .await,
        "too many attempts, try again later"
    );
    // Another machine is not held up by it.
    let mut raw = RawSocket::open_with(
        &server,
        Options {
            local: Some("127.0.0.2".parse().unwrap()),
            ..Options::default()
        },
    )
    .await
    .unwrap();
    raw.send(r#"40{"username":"bob","joinPassword":"open sesame"}"#)
        .await;
    let answer = raw.recv_starting("4").await.expect("an answer");
    assert!(answer.starts_with("40"), "{answer}");
    // Existing sessions still resume from the throttled address.
    SioClient::resume(url, &alice.session.session_id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_that_hide_or_reorder_characters_are_refused() {
    let (_dir, server) = fresh_server(&[]).await;
    SioClient::login(&server.url, "alice").await;
    for name in [
        "al\u{200B}ice",
        "ali\u{200D}ce",
        "\u{202E}ecila",
        "alice\u{2066}",
        "al\u{00AD}ice",
        "a\u{2028}b",
        "\u{FEFF}alice",
    ] {
        assert_eq!(
            refusal(&server.url, json!({ "username": name })).await,
            "invalid username",
            "{name:?}"
        );
    }
    for taken in ["Alice", "ＡＬＩＣＥ", " alice "] {
        assert_eq!(
            refusal(&server.url, json!({ "username": taken })).await,
            "name taken",
            "{taken:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_password_signs_in_from_another_computer() {
    let (_dir, server) = fresh_server(&[]).await;
    let url = server.url.as_str();
    let auth = json!({"username": "alice", "password": "correct horse"});
    let first = SioClient::login_with(url, auth.clone()).await;
    let second = SioClient::login_with(url, auth).await;
    assert_eq!(second.session.user_id, first.session.user_id);
    assert_ne!(second.session.session_id, first.session.session_id);
    assert_eq!(second.users.len(), 1, "no second identity");
    assert_eq!(
        refusal(
            url,
            json!({"username": "alice", "password": "battery staple"})
        )
        .await,
        "wrong password"
    );
    assert_eq!(
        refusal(url, json!({"username": "ALICE"})).await,
        "password required"
    );
    assert_eq!(
        refusal(url, json!({"username": "carol", "password": "short"})).await,
        "a password needs at least 8 characters"
    );

    // A name made without a password gets one later, from the app.
    let bob = SioClient::login(url, "bob").await;
    let set = |p: Value| bob.client.ack(event::SET_PASSWORD, p);
    assert_eq!(
        set(json!({"password": "bob's secret"})).await,
        json!({"ok": true})
    );
    let elsewhere =
        SioClient::login_with(url, json!({"username": "bob", "password": "bob's secret"})).await;
    assert_eq!(elsewhere.session.user_id, bob.session.user_id);
    // Changing it needs the current one.
    let wrong = set(json!({"password": "new secret!"})).await;
    assert_eq!(wrong["code"], "wrong_password", "{wrong}");
    let short = set(json!({"password": "tiny", "currentPassword": "bob's secret"})).await;
    assert_eq!(short["code"], "invalid_password", "{short}");
    let changed = set(json!({"password": "new secret!", "currentPassword": "bob's secret"})).await;
    assert_eq!(changed, json!({"ok": true}));
    assert_eq!(
        refusal(url, json!({"username": "bob", "password": "bob's secret"})).await,
        "wrong password"
    );
    SioClient::login_with(url, json!({"username": "bob", "password": "new secret!"})).await;
    // The password is stored hashed, never as typed.
    let db = std::fs::read(server.data_dir.join("natter.db")).unwrap();
    let wal = std::fs::read(server.data_dir.join("natter.db-wal")).unwrap_or_default();
    for hay in [&db, &wal] {
        assert!(!hay.windows(11).any(|w| w == b"new secret!"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn require_password_makes_one_mandatory_for_new_accounts() {
    let (_dir, server) = fresh_server(&["--require-password"]).await;
    assert_eq!(
        refusal(&server.url, json!({"username": "alice"})).await,
        "password required"
    );
    SioClient::login_with(
        &server.url,
        json!({"username": "alice", "password": "correct horse"}),
    )
    .await;
}
