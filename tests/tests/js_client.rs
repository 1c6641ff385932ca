//! The official socket.io JavaScript client, running the guide's flow unchanged.
//! Needs `npm ci` in tests/js (the test setup does it).

use std::path::PathBuf;

use natter_tests::fresh_server;

async fn run_guide_client(mode: &str, server_args: &[&str]) {
    let (_dir, server) = fresh_server(server_args).await;
    let js = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("js");
    assert!(
        js.join("node_modules/socket.io-client").exists(),
        "socket.io-client is not installed: run `npm ci --prefix tests/js`"
    );
    let out = tokio::process::Command::new("node")
        .arg(js.join("guide_client.mjs"))
        .args([server.url.as_str(), mode])
        .kill_on_drop(true)
        .output()
        .await
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "guide client ({mode}) failed:\n{stdout}\n{}\nserver log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        server.log()
    );
    for step in ["refused", "login", "message", "resume"] {
        assert!(
            stdout.contains(&format!("\"step\":\"{step}\"")),
            "missing {step}: {stdout}"
        );
    }
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
