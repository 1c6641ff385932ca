//! Settings an organisation deploys (`desktop.json`, written by `natter-server admin
//! desktop-config`) in the real window (Xvfb, tauri-driver + WebKitWebDriver): the deployed
//! certificate is trusted without the first-contact prompt, the address is the organisation's
//! and cannot be changed, and start-at-login shows as set by the organisation.
//!
//! Needs a display, `tauri-driver` on PATH and the built app in `NATTER_APP_BIN`;
//! `scripts/test.sh` provides them and runs this test with `--ignored`.

use natter_tests::TestServer;
use natter_tests::window::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display, tauri-driver and the built app: scripts/test.sh runs it"]
async fn the_deployed_server_is_trusted_and_locked_in_the_window() {
    let app = app_bin();
    let (srv_dir, home) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let server = TestServer::start(srv_dir.path(), &[]).await;

    // The operator's file, as the server prints it, with start-at-login imposed.
    let (ok, out, err) = server
        .admin(&["desktop-config", "--address", "127.0.0.1"], "")
        .await;
    assert!(ok, "{out}{err}");
    let mut config: serde_json::Value = serde_json::from_str(&out).expect("JSON on stdout");
    let address = format!("https://{}", server.addr);
    assert_eq!(config["servers"], serde_json::json!([address]));
    assert_eq!(
        config["fingerprint"],
        server.fingerprint.clone().unwrap().as_str()
    );
    assert_eq!(config["lockServer"], true);
    config["autostart"] = false.into();
    std::fs::write(deployed_config(home.path()), config.to_string()).unwrap();

    let driver = Driver::start(home.path()).await;
    let c = driver.launch(&app).await;
    ready(&c).await;
    let field = eventually("the organisation's address", || async {
        let el = find(&c, "[data-testid=server-url]").await?;
        let value = el.prop("value").await.ok()??;
        (value == address).then_some(el)
    })
    .await;
    assert!(find(&c, "[data-testid=server-locked]").await.is_some());
    // Typing into it changes nothing.
    field.send_keys("evil.example:1").await.expect("keys");
    assert_eq!(
        field.prop("value").await.unwrap().as_deref(),
        Some(address.as_str())
    );
    type_into(&c, "[data-testid=username]", "alice").await;
    click_when_enabled(&c, "[data-testid=login]").await;
    // No prompt: connected to the deployed server at once.
    status_contains(&c, "connected").await;
    assert!(
        find(&c, "[data-testid=trust]").await.is_none(),
        "no trust prompt"
    );
    // The deployed server, not another one, holds alice's account.
    let (ok, out, err) = server.admin(&["list"], "").await;
    assert!(
        ok && out.contains("alice"),
        "signed in on the deployed server: {out}{err}"
    );

    click(&c, "[data-testid=settings]").await;
    let autostart = eventually("the start-at-login toggle", || {
        find(&c, "[data-testid=autostart]")
    })
    .await;
    assert!(
        !autostart.is_enabled().await.unwrap(),
        "set by the organisation"
    );
    assert!(!autostart.is_selected().await.unwrap(), "as deployed");
    let label = inner_text(&c, "label:has([data-testid=autostart])")
        .await
        .unwrap_or_default();
    assert!(label.contains("set by your organisation"), "{label}");
    save_screenshot().await;
    close_app(c, &app).await;
    driver.stop().await;
}
