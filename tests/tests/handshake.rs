//! The guide's auth middleware: new sessions, resumed sessions, refusals.

use natter_protocol::INVALID_USERNAME;
use natter_tests::{SioClient, fresh_server};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_username_starts_a_session_with_distinct_secret_and_public_ids() {
    let (_dir, server) = fresh_server(&[]).await;
    let login = SioClient::login(&server.url, "  alice  ").await;
    let s = &login.session;
    assert_eq!(s.username, "alice", "username is trimmed");
    assert_eq!(s.session_id.len(), 32, "128-bit sessionID");
    assert!(s.session_id.chars().all(|c| c.is_ascii_hexdigit()));
    assert!(!s.session_id.contains(&s.user_id) && !s.user_id.contains(&s.session_id));

    // The user list holds the user itself, connected.
    assert_eq!(login.users.len(), 1);
    assert_eq!(login.users[0].user_id, s.user_id);
    assert!(login.users[0].connected);

    // Nobody else can take the name, in any spelling that looks the same.
    for taken in ["alice", "ALICE", "ａｌｉｃｅ"] {
        let refused = SioClient::connect(&server.url, json!({ "username": taken })).await;
        assert_eq!(refused.err().as_deref(), Some("name taken"), "{taken}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_id_resumes_the_same_user() {
    let (_dir, server) = fresh_server(&[]).await;
    let first = SioClient::login(&server.url, "bob").await;
    first.client.close().await;

    let again = SioClient::resume(&server.url, &first.session.session_id).await;
    assert_eq!(again.session.user_id, first.session.user_id);
    assert_eq!(again.session.session_id, first.session.session_id);
    assert_eq!(again.session.username, "bob");
    assert_eq!(again.users.len(), 1, "no second user was created");

    // A sessionID wins over a username, as in the guide.
    let both = SioClient::login_with(
        &server.url,
        json!({"sessionID": first.session.session_id, "username": "mallory"}),
    )
    .await;
    assert_eq!(both.session.user_id, first.session.user_id);
    assert_eq!(both.session.username, "bob");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_session_id_falls_back_to_the_username() {
    let (_dir, server) = fresh_server(&[]).await;
    let login = SioClient::login_with(
        &server.url,
        json!({"sessionID": "0123456789abcdef0123456789abcdef", "username": "carol"}),
    )
    .await;
    assert_eq!(login.session.username, "carol");
    assert_ne!(login.session.session_id, "0123456789abcdef0123456789abcdef");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_handshakes_are_refused_with_invalid_username() {
    let (_dir, server) = fresh_server(&[]).await;
    let cases = [
        json!({}),
        json!({"username": ""}),
        json!({"username": "   "}),
        json!({"username": "x".repeat(33)}),
        json!({"username": "tab\there"}),
        json!({"username": "new\nline"}),
        json!({"username": 42}),
        json!({"username": ["alice"]}),
        json!({"username": null}),
        json!({"sessionID": "no-such-session"}),
        json!({"sessionID": 7, "username": "dave"}),
        json!("just a string"),
        json!(null),
    ];
    for auth in cases {
        match SioClient::connect(&server.url, auth.clone()).await {
            Err(msg) => assert_eq!(msg, INVALID_USERNAME, "auth {auth}"),
            Ok((_, session)) => panic!("auth {auth} was accepted as {session:?}"),
        }
    }
    // Exactly 32 characters is fine, and nobody refused above was stored.
    let ok = SioClient::login(&server.url, &"é".repeat(32)).await;
    assert_eq!(ok.users.len(), 1, "refused handshakes created users");
}
