//! The official socket.io JavaScript client, running the guide's flow unchanged.
//! Needs `npm ci` in tests/js (the test setup does it).

use natter_tests::{fresh_server, js};

async fn run_guide_client(mode: &str, server_args: &[&str]) {
    let (_dir, server) = fresh_server(server_args).await;
    let stdout = js::run("guide_client.mjs", &[server.url.as_str(), mode], &server).await;
    js::assert_steps(&stdout, &["refused", "login", "message", "resume"]);
    assert!(stdout.contains(r#""upgraded":"websocket""#), "{stdout}");
    if mode == "websocket" {
        assert!(stdout.contains(r#""transport":"websocket""#), "{stdout}");
    } else {
        assert!(stdout.contains(r#""transport":"polling""#), "{stdout}");
    }
}

/// The guide's flow exactly: plain HTTP, no join password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guide_client_works_with_default_transports() {
    run_guide_client("default", &["--no-tls"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guide_client_works_websocket_only() {
    run_guide_client("websocket", &["--no-tls"]).await;
}

/// The default server (TLS with its self-signed certificate), polling then upgrade.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guide_client_works_over_https() {
    run_guide_client("default", &[]).await;
}
