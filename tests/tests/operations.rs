//! Running the server: `--help` and the environment, `/healthz`, clean shutdown on SIGTERM.

use natter_tests::server::server_bin;
use natter_tests::{SioClient, fresh_server};

#[test]
fn help_names_every_flag_with_its_environment_variable() {
    let out = std::process::Command::new(server_bin())
        .arg("--help")
        .output()
        .expect("run --help");
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for (flag, env) in [
        ("--listen", "NATTER_LISTEN"),
        ("--data-dir", "NATTER_DATA_DIR"),
        ("--cors-origin", "NATTER_CORS_ORIGINS"),
        ("--max-message-bytes", "NATTER_MAX_MESSAGE_BYTES"),
        ("--history-per-chat", "NATTER_HISTORY_PER_CHAT"),
        ("--redis", "NATTER_REDIS"),
        ("--tls-cert", "NATTER_TLS_CERT"),
        ("--tls-key", "NATTER_TLS_KEY"),
        ("--no-tls", "NATTER_NO_TLS"),
        ("--join-password-file", "NATTER_JOIN_PASSWORD_FILE"),
        ("--join-password", "NATTER_JOIN_PASSWORD"),
        ("--require-password", "NATTER_REQUIRE_PASSWORD"),
        ("--max-connections-per-ip", "NATTER_MAX_CONNECTIONS_PER_IP"),
        ("--messages-per-second", "NATTER_MESSAGES_PER_SECOND"),
        ("--message-burst", "NATTER_MESSAGE_BURST"),
        ("--new-names-per-hour", "NATTER_NEW_NAMES_PER_HOUR"),
        ("--max-sockets-per-user", "NATTER_MAX_SOCKETS_PER_USER"),
        ("--max-malformed-events", "NATTER_MAX_MALFORMED_EVENTS"),
        ("--no-limits", "NATTER_NO_LIMITS"),
        ("--fetch-bytes-per-second", "NATTER_FETCH_BYTES_PER_SECOND"),
        ("--fetch-burst-bytes", "NATTER_FETCH_BURST_BYTES"),
        ("--name", "NATTER_NAME"),
        ("--no-discovery", "NATTER_NO_DISCOVERY"),
        ("--max-file-bytes", "NATTER_MAX_FILE_BYTES"),
        ("--files-dir", "NATTER_FILES_DIR"),
    ] {
        assert!(
            help.contains(flag) && help.contains(env),
            "{flag} / {env} missing:\n{help}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_answers_ok_and_the_version() {
    let (_dir, server) = fresh_server(&[]).await;
    let (status, body) = server.healthz().await;
    assert!(status.starts_with("HTTP/1.0 200"), "{status}");
    assert_eq!(body["status"], "ok");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_closes_connections_and_exits_cleanly() {
    let (_dir, mut server) = fresh_server(&[]).await;
    let mut alice = SioClient::login(&server.url, "alice").await;
    let status = server.stop().await;
    // The client hears that it was disconnected (a socket.io DISCONNECT, not only the end
    // of the transport, which rust_socketio does not report).
    assert!(
        alice
            .client
            .closed_within(std::time::Duration::from_secs(5))
            .await
    );
    assert!(status.success(), "exit status {status:?}\n{}", server.log());
    assert!(
        server.log().contains("closing every socket"),
        "{}",
        server.log()
    );
    drop(alice);
}
