//! Nobody listening in: TLS by default with a certificate the server keeps, an operator's
//! certificate, plain HTTP only when asked, Origin checks, and a private, locked data dir.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use natter_tests::raw::{Options, RawSocket};
use natter_tests::server::server_bin;
use natter_tests::{SioClient, TestServer, fresh_server, tls};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The fingerprint as `openssl x509 -fingerprint -sha256` prints it.
fn openssl_fingerprint(cert: &Path) -> String {
    let out = std::process::Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
        .arg(cert)
        .output()
        .expect("run openssl");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim()
        .split_once('=')
        .map(|(_, fp)| fp.to_owned())
        .unwrap_or_else(|| panic!("openssl printed {text}"))
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_speaks_tls_with_a_certificate_it_keeps() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = TestServer::start(&data, &[]).await;
    assert!(server.url.starts_with("https://"), "{}", server.url);
    let fp = server
        .fingerprint
        .clone()
        .expect("fingerprint in the banner");
    assert_eq!(fp, openssl_fingerprint(&data.join("cert.pem")));
    assert_eq!(fp.split(':').count(), 32);

    let alice = SioClient::login(&server.url, "alice").await;

    // Plain HTTP on the port gets nothing readable back.
    let mut tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    tcp.write_all(b"GET /socket.io/?EIO=4&transport=polling HTTP/1.0\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        !answer.contains("HTTP/1.") && !answer.contains("sid"),
        "{answer}"
    );

    // A client that pinned another certificate does not get through.
    let other = tempfile::tempdir().unwrap();
    let other_server = TestServer::start(other.path(), &[]).await;
    let other_pem = std::fs::read(other.path().join("cert.pem")).unwrap();
    assert_ne!(other_server.fingerprint, server.fingerprint);
    let refused = tls::connect(server.addr, None, Some(tls::pinned_connector(&other_pem))).await;
    assert!(refused.is_err(), "a foreign certificate was accepted");

    // The data dir and everything in it are the server's OS user's only.
    assert_eq!(mode(&data), 0o700);
    for f in [
        "cert.pem",
        "key.pem",
        "natter.db",
        "natter.lock",
        "admin.sock",
    ] {
        assert_eq!(mode(&data.join(f)), 0o600, "{f}");
    }

    // The same certificate after a restart: the pinned client resumes.
    let sid = alice.session.session_id.clone();
    alice.client.close().await;
    let addr = server.addr.to_string();
    server.stop().await;
    let again = TestServer::start_at(&data, &addr, &[]).await;
    assert_eq!(again.fingerprint.as_deref(), Some(fp.as_str()));
    let resumed = SioClient::resume(&again.url, &sid).await;
    assert_eq!(resumed.session.username, "alice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_server_on_the_same_data_dir_refuses_to_start() {
    let (dir, _server) = fresh_server(&[]).await;
    let out = tokio::time::timeout(
        Duration::from_secs(20),
        tokio::process::Command::new(server_bin())
            .args(["--listen", "127.0.0.1:0", "--no-discovery"])
            .env("NATTER_DATA_DIR", dir.path())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the second server did not stop by itself")
    .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("already running"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operators_certificate_is_served_instead() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("op.pem"), dir.path().join("op.key"));
    let made = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", "/CN=natter.lan", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("run openssl");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let data = dir.path().join("data");
    let server = TestServer::start(
        &data,
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(server.fingerprint, Some(openssl_fingerprint(&cert)));
    assert!(!data.join("cert.pem").exists(), "no self-signed one made");
    SioClient::login(&server.url, "alice").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_tls_serves_plain_http_and_says_so() {
    let (_dir, server) = fresh_server(&["--no-tls"]).await;
    assert!(server.url.starts_with("http://"));
    assert_eq!(server.fingerprint, None);
    SioClient::login(&server.url, "alice").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_from_foreign_origins_cannot_open_a_session() {
    let (_dir, server) = fresh_server(&["--cors-origin", "https://intranet.lan"]).await;
    let with_origin = |origin: &str| Options {
        origin: Some(origin.to_owned()),
        ..Options::default()
    };
    let refused = RawSocket::open_with(&server, with_origin("http://evil.example"))
        .await
        .err()
        .expect("a foreign origin's websocket was accepted");
    assert!(refused.contains("403"), "{refused}");
    for allowed in [
        "https://intranet.lan",
        "http://localhost:5173",
        "tauri://localhost",
    ] {
        RawSocket::open_with(&server, with_origin(allowed))
            .await
            .unwrap_or_else(|e| panic!("{allowed}: {e}"));
    }
    // Long-polling too.
    let poll = |origin: &str| {
        format!(
            "GET /socket.io/?EIO=4&transport=polling HTTP/1.0\r\nHost: x\r\nOrigin: {origin}\r\n\r\n"
        )
    };
    let (status, _, _) = server.http(&poll("http://evil.example")).await;
    assert!(status.contains(" 403"), "{status}");
    let (status, _, body) = server.http(&poll("https://intranet.lan")).await;
    assert!(status.contains(" 200"), "{status}");
    assert!(body.contains("\"sid\""), "{body}");
    // Native clients send no Origin.
    let (status, _, _) = server
        .http("GET /socket.io/?EIO=4&transport=polling HTTP/1.0\r\nHost: x\r\n\r\n")
        .await;
    assert!(status.contains(" 200"), "{status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_connection_is_closed_after_the_header_timeout() {
    let (_dir, server) = fresh_server(&["--no-tls"]).await;
    let mut tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    // Half a request line, then nothing.
    tcp.write_all(b"GET /heal").await.unwrap();
    let mut buf = [0u8; 64];
    // Whatever it says before (a 408 or nothing), the server must end it: a read that
    // returns at all means the connection was answered and closed.
    tokio::time::timeout(Duration::from_secs(20), async {
        while let Ok(n) = tcp.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    })
    .await
    .expect("the server kept a silent connection open for 20 s");
}
