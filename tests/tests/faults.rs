//! Faults without loss: a full disk makes `/healthz` say so and acks say "unavailable"; nothing
//! half-written; once there is room again, the same messages go in, once each.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use natter_protocol::{MessagePage, event};
use natter_tests::{SioClient, TestServer};
use serde_json::json;

/// A small tmpfs (the machine's own disk is never filled), unmounted when dropped.
struct SmallDisk {
    path: PathBuf,
    _parent: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(mib: u32) -> SmallDisk {
        let parent = tempfile::tempdir().unwrap();
        let path = parent.path().join("disk");
        std::fs::create_dir(&path).unwrap();
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
            .arg(&path)
            .status()
            .expect("run mount");
        assert!(
            status.success(),
            "mounting a tmpfs needs root (CI runs as root)"
        );
        SmallDisk {
            path,
            _parent: parent,
        }
    }

    /// Fills what is left; returns the filler file.
    fn fill(&self) -> PathBuf {
        let filler = self.path.join("filler");
        let mut f = std::fs::File::create(&filler).unwrap();
        let chunk = vec![0u8; 64 * 1024];
        while f.write_all(&chunk).is_ok() {}
        let _ = f.sync_all();
        filler
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.path)
            .status();
    }
}

async fn health_status(server: &TestServer) -> String {
    server.healthz().await.0
}

async fn eventually_status(server: &TestServer, code: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = health_status(server).await;
        if status.contains(code) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "healthz says {status}, not {code}; the server's log:\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A message with its clientId, as the app sends one; its ack.
async fn send(
    from: &natter_tests::client::Login,
    to: &str,
    content: &str,
    client_id: &str,
) -> serde_json::Value {
    from.client
        .ack(
            event::PRIVATE_MESSAGE,
            json!({"to": to, "content": content, "clientId": client_id}),
        )
        .await
}

/// Sends up to `max` messages of `content` to `to` until one is refused as "unavailable": the
/// clientIds acked, and the refused one.
async fn send_until_refused(
    from: &natter_tests::client::Login,
    to: &str,
    content: &str,
    max: usize,
) -> (Vec<String>, Option<String>) {
    let mut acked = Vec::new();
    for i in 0..max {
        let client_id = format!("c{i}");
        let ack = send(from, to, content, &client_id).await;
        if ack["code"] == "unavailable" {
            return (acked, Some(client_id));
        }
        assert!(ack["id"].is_u64(), "{ack}");
        acked.push(client_id);
    }
    (acked, None)
}

/// The refused message sent again with its clientId, now that there is room: stored.
async fn send_again(from: &natter_tests::client::Login, to: &str, content: &str, client_id: &str) {
    let ack = send(from, to, content, client_id).await;
    assert!(ack["id"].is_u64(), "{ack}");
}

fn data(disk: &Path) -> PathBuf {
    disk.join("data")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_reported_and_loses_nothing() {
    let disk = SmallDisk::mount(16);
    let server = TestServer::start(&data(&disk.path), &[]).await;
    let alice = SioClient::login(&server.url, "alice").await;
    let mut bob = SioClient::login(&server.url, "bob").await;
    let b = bob.session.user_id.clone();
    eventually_status(&server, " 200").await;

    let filler = disk.fill();
    eventually_status(&server, " 503").await;
    // Writes fail as "unavailable" (the WAL may take a few before it needs room).
    let content = "y".repeat(8 * 1024);
    let (_, refused) = send_until_refused(&alice, &b, &content, 200).await;
    let refused = refused.expect("a write on a full disk was acked");

    // Room again: healthy, and the refused message goes in with its clientId, once.
    std::fs::remove_file(filler).unwrap();
    eventually_status(&server, " 200").await;
    send_again(&alice, &b, &content, &refused).await;
    let page: MessagePage = bob
        .client
        .fetch(json!({"with": alice.session.user_id, "limit": 500}))
        .await;
    let mut ids: Vec<_> = page
        .messages
        .iter()
        .filter_map(|m| m.client_id.clone())
        .collect();
    let stored = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), stored, "a message was stored twice");
    assert!(ids.contains(&refused));
    // bob got each stored message live, none of the refused one before it was stored.
    let live = bob
        .client
        .drain(event::PRIVATE_MESSAGE, Duration::from_millis(300))
        .await;
    assert_eq!(live.len(), stored);
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_database_stops_the_server_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("natter.db"),
        b"this is not an SQLite database, whatever happened to it".repeat(100),
    )
    .unwrap();
    let out = tokio::time::timeout(
        Duration::from_secs(20),
        tokio::process::Command::new(natter_tests::server::server_bin())
            .args(["--listen", "127.0.0.1:0", "--no-discovery"])
            .env("NATTER_DATA_DIR", dir.path())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the server neither served nor stopped")
    .unwrap();
    assert!(!out.status.success(), "it served from a corrupt database");
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("listening"),
        "it listened"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("natter.db") || err.contains("not a database"),
        "{err}"
    );
}

fn wal_bytes(disk: &Path) -> u64 {
    std::fs::metadata(data(disk).join("natter.db-wal")).map_or(0, |m| m.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_full_disk_freeing_less_than_the_wal_is_enough_without_a_restart() {
    let disk = SmallDisk::mount(24);
    let server = TestServer::start(&data(&disk.path), &["--no-limits"]).await;
    let alice = SioClient::login(&server.url, "alice").await;
    let bob = SioClient::login(&server.url, "bob").await;
    let b = bob.session.user_id.clone();
    eventually_status(&server, " 200").await;

    // 3 MiB left, then messages pour in until the disk is full.
    let filler = disk.fill();
    let full = std::fs::metadata(&filler).unwrap().len();
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&filler)
        .unwrap();
    file.set_len(full.saturating_sub(3 << 20)).unwrap();
    let content = "z".repeat(8 * 1024);
    let (mut acked, refused) = send_until_refused(&alice, &b, &content, 2_000).await;
    let refused = refused.expect("3 MiB took 2,000 messages of 8 KiB");
    // Read at once: a WAL quiet for a while is truncated, which is the healing under test.
    let wal = wal_bytes(&disk.path);
    assert!(
        wal > 512 * 1024,
        "the WAL took {wal} bytes of the full disk"
    );

    // The operator frees less than the WAL: the server comes back by itself (background work
    // waits, so the room goes to the checkpoint and the messages).
    let kept = std::fs::metadata(&filler).unwrap().len();
    file.set_len(kept.saturating_sub(wal / 2)).unwrap();
    file.sync_all().unwrap();
    eventually_status(&server, " 200").await;
    send_again(&alice, &b, &content, &refused).await;
    acked.push(refused);

    // Everything acked is there, once; and the WAL, quiet now, gives its room back.
    let mut stored = Vec::new();
    let mut before = None;
    loop {
        let mut request = json!({"with": alice.session.user_id, "limit": 500});
        if let Some(id) = before {
            request["before"] = json!(id);
        }
        let page: MessagePage = bob.client.fetch(request).await;
        before = page.messages.first().map(|m| m.id);
        stored.extend(page.messages.iter().filter_map(|m| m.client_id.clone()));
        if !page.has_more || before.is_none() {
            break;
        }
    }
    let count = stored.len();
    stored.sort();
    stored.dedup();
    assert_eq!(stored.len(), count, "a message was stored twice");
    acked.sort();
    assert_eq!(stored, acked, "what was acked is what is stored");
    let deadline = Instant::now() + Duration::from_secs(10);
    while wal_bytes(&disk.path) > 0 {
        assert!(
            Instant::now() < deadline,
            "the WAL kept {} bytes while nothing was written",
            wal_bytes(&disk.path)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(server);
}
