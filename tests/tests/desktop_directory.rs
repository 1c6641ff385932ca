//! Directory sign-in in the real window (Xvfb, tauri-driver + WebKitWebDriver), against a
//! real natter-server signing people in with a real OpenLDAP: the form asks for the network
//! account before any password is sent, the directory's password signs in, and people show
//! under the names the directory gives them.
//!
//! Needs a display, `tauri-driver` on PATH, `slapd` and the built app in `NATTER_APP_BIN`;
//! `scripts/test.sh` provides them and runs this test with `--ignored`.

use natter_tests::slapd::{Slapd, password};
use natter_tests::window::*;
use natter_tests::{SioClient, TestServer};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display, tauri-driver, slapd and the built app: scripts/test.sh runs it"]
async fn signing_in_with_the_network_account_in_the_window() {
    let app = app_bin();
    let slapd = Slapd::start().await;
    let args = slapd.server_args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (srv_dir, home) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let server = TestServer::start(srv_dir.path(), &args).await;
    let bob = SioClient::login_with(
        &server.url,
        json!({"username": "bob", "password": password("bob")}),
    )
    .await;
    let b = bob.session.user_id.clone();

    let driver = Driver::start(home.path()).await;
    let c = driver.launch(&app).await;
    ready(&c).await;
    // The form says what to type before anything is sent.
    type_into(&c, "[data-testid=server-url]", &server.addr.to_string()).await;
    eventually("the network account prompt", || {
        find(&c, "[data-testid=directory-sign-in]")
    })
    .await;
    // A wrong password is the directory's answer.
    fill_login(&c, &server.addr.to_string(), "alice", Some("not it")).await;
    click_when_enabled(&c, "[data-testid=login]").await;
    click_when_enabled(&c, "[data-testid=trust]").await;
    login_error_says(&c, "wrong password").await;
    fill_login(
        &c,
        &server.addr.to_string(),
        "alice",
        Some(&password("alice")),
    )
    .await;
    click_when_enabled(&c, "[data-testid=login]").await;
    status_contains(&c, "connected").await;

    // People show under the directory's names.
    let me = eventually("alice's name in the header", || async {
        inner_text(&c, ".me-name")
            .await
            .filter(|t| t == "Alice Liddell")
    })
    .await;
    assert_eq!(me, "Alice Liddell");
    let bob_row = format!("[data-testid=user][data-user-id='{b}']");
    let shown = eventually("bob's row", || async {
        find(&c, &bob_row)
            .await?
            .attr("data-display-name")
            .await
            .ok()?
    })
    .await;
    assert_eq!(shown, "Bob Builder");
    let login = find(&c, &bob_row)
        .await
        .expect("bob's row")
        .attr("data-username")
        .await
        .expect("attribute");
    assert_eq!(login.as_deref(), Some("bob"));
    click(&c, &bob_row).await;
    eventually("bob's name in the conversation header", || async {
        inner_text(&c, ".peer-name")
            .await
            .filter(|t| t.contains("Bob Builder"))
    })
    .await;
    close_app(c, &app).await;
    driver.stop().await;
}
