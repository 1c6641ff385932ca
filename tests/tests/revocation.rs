//! Sessions end for real: `logout` revokes the session on the server, and the operator's
//! commands (list, revoke, reset password, rename, remove) act on the running server.

use std::time::Duration;

use natter_protocol::event;
use natter_tests::{SioClient, fresh_server};
use serde_json::json;

const CLOSE: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_revokes_exactly_the_session_that_sent_it() {
    let (_dir, server) = fresh_server(&[]).await;
    let url = server.url.as_str();
    let auth = json!({"username": "alice", "password": "correct horse"});
    let laptop = SioClient::login_with(url, auth.clone()).await;
    let mut laptop2 = SioClient::resume(url, &laptop.session.session_id).await;
    let desktop = SioClient::login_with(url, auth).await;
    let bob = SioClient::login(url, "bob").await;

    let mut laptop1 = laptop.client;
    assert_eq!(
        laptop1.ack(event::LOGOUT, json!({})).await,
        json!({"ok": true})
    );
    assert!(
        laptop1.closed_within(CLOSE).await,
        "the socket that logged out"
    );
    assert!(
        laptop2.client.closed_within(CLOSE).await,
        "its session's other socket"
    );

    // The other session of the same person is untouched.
    let sent = desktop
        .client
        .send(&bob.session.user_id, "still here")
        .await;
    assert_eq!(sent["content"], "still here", "{sent}");

    // The sessionID is dead: the guide's resume gets its refusal, and the name is not free.
    let sid = laptop.session.session_id;
    let guide = SioClient::connect(url, json!({"sessionID": sid})).await;
    assert_eq!(guide.err().as_deref(), Some("invalid username"));
    let app = SioClient::connect(url, json!({"sessionID": sid, "username": "alice"})).await;
    assert_eq!(app.err().as_deref(), Some("session revoked"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_commands_act_on_the_running_server() {
    let (_dir, server) = fresh_server(&[]).await;
    let url = server.url.as_str();
    let mut alice = SioClient::login(url, "alice").await;
    let mut bob = SioClient::login(url, "bob").await;
    let carol = SioClient::login(url, "carol").await;

    let (ok, out, err) = server.admin(&["list"], "").await;
    assert!(ok, "{err}");
    for name in ["alice", "bob", "carol"] {
        assert!(out.contains(name), "{out}");
    }

    // Revoke: bob's window is closed and his session refused.
    let (ok, out, err) = server.admin(&["revoke", "BOB"], "").await;
    assert!(ok && out.contains("revoked 1 session"), "{out}{err}");
    assert!(bob.client.closed_within(CLOSE).await);
    let again = SioClient::connect(url, json!({"sessionID": bob.session.session_id})).await;
    assert_eq!(again.err().as_deref(), Some("invalid username"));

    // Reset password: bob gets back in with the new one.
    let (ok, out, err) = server
        .admin(&["reset-password", "bob"], "a fresh start\n")
        .await;
    assert!(ok, "{out}{err}");
    let bob2 =
        SioClient::login_with(url, json!({"username": "bob", "password": "a fresh start"})).await;
    assert_eq!(bob2.session.user_id, bob.session.user_id);

    // Rename: everyone online hears it; new logins list the new name.
    let (ok, out, err) = server.admin(&["rename", "carol", "Caroline"], "").await;
    assert!(ok, "{out}{err}");
    let renamed = alice.client.next(event::USER_RENAMED).await;
    assert_eq!(
        renamed,
        json!({"userID": carol.session.user_id, "username": "Caroline"})
    );
    let (ok, _, err) = server.admin(&["rename", "Caroline", "ALICE"], "").await;
    assert!(!ok && err.contains("taken"), "{err}");

    // Remove: gone from the list, their windows closed.
    let (ok, out, err) = server.admin(&["remove", "Caroline"], "").await;
    assert!(ok, "{out}{err}");
    let removed = alice.client.next(event::USER_REMOVED).await;
    assert_eq!(removed, json!(carol.session.user_id));
    let fresh = SioClient::login(url, "dave").await;
    assert!(
        fresh
            .users
            .iter()
            .all(|u| u.user_id != carol.session.user_id)
    );

    // Unknown users are an error, not a silent success.
    let (ok, _, err) = server.admin(&["revoke", "nobody"], "").await;
    assert!(!ok && err.contains("nobody"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_without_a_running_server_says_so() {
    let (dir, mut server) = fresh_server(&[]).await;
    server.stop().await;
    let _ = dir;
    let (ok, _, err) = server.admin(&["list"], "").await;
    assert!(!ok);
    assert!(err.contains("cannot reach a natter-server"), "{err}");
}
