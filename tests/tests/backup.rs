//! Backups of a running server and restoring them, with real processes: an archive taken while
//! a client sends 2,000 messages restores everything acked before it began (history, sessions,
//! accounts, groups, read markers, files, search, the certificate), and a damaged archive is
//! refused with nothing written.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use natter_protocol::event;
use natter_tests::redis::RedisServer;
use natter_tests::server::server_bin;
use natter_tests::{SioClient, TestServer, fresh_server, http};
use serde_json::json;
use sha2::{Digest, Sha256};

/// `natter-server restore ARCHIVE --data-dir DIR [extra]`: whether it worked, and what it said.
fn restore(archive: &Path, dir: &Path, extra: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(server_bin())
        .arg("restore")
        .arg(archive)
        .arg("--data-dir")
        .arg(dir)
        .args(extra)
        .output()
        .expect("natter-server restore");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), said)
}

async fn backup(server: &TestServer, archive: &Path) -> String {
    let (ok, out, err) = server
        .admin(&["backup", &archive.display().to_string()], "")
        .await;
    assert!(ok, "backup failed: {out}{err}");
    out
}

fn integrity(db: &Path) -> String {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("the restored database opens");
    conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity check")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_messages_pour_in_restores_all_that_was_acked() {
    // 2,000 messages as fast as acks come: past the per-user message rate.
    let (dir, server) = fresh_server(&["--no-limits"]).await;
    let url = server.url.clone();
    let alice = SioClient::login_with(
        &url,
        json!({"username": "alice", "password": "correct horse"}),
    )
    .await;
    let bob = SioClient::login(&url, "bob").await;
    let (a, b) = (alice.session.user_id.clone(), bob.session.user_id.clone());

    // A file, a group, a read marker and something to search for.
    let bytes: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let sha = hex::encode(Sha256::digest(&bytes));
    let up = http::upload(
        &server,
        &alice.session.session_id,
        "plan.bin",
        "application/octet-stream",
        bytes,
    )
    .await;
    assert_eq!(up.status, 201);
    let file_id = up.json()["fileID"].as_str().unwrap().to_owned();
    let carried = alice
        .client
        .ack(
            event::PRIVATE_MESSAGE,
            json!({"to": b, "content": "the plan", "attachment": {"fileID": file_id}}),
        )
        .await;
    let group = alice
        .client
        .ack(event::CREATE_GROUP, json!({"name": "Ops", "members": [b]}))
        .await;
    let g = group["groupID"].as_str().unwrap().to_owned();
    alice
        .client
        .ack(
            event::GROUP_MESSAGE,
            json!({"to": g, "content": "planning the offsite"}),
        )
        .await;
    let marked = carried["id"].as_u64().unwrap();
    let read = bob
        .client
        .ack(event::READ, json!({"with": a, "upTo": marked}))
        .await;
    assert_eq!(read, json!({"ok": true}));

    // 2,000 messages, each acked before the next; the backup is taken in the middle.
    let last_acked = Arc::new(AtomicU64::new(0));
    let sender = {
        let last = last_acked.clone();
        let b = b.clone();
        tokio::spawn(async move {
            let mut acked = Vec::with_capacity(2000);
            for i in 0..2000 {
                let m = alice.client.send(&b, &format!("pour {i}")).await;
                let id = m["id"]
                    .as_u64()
                    .unwrap_or_else(|| panic!("message {i} refused: {m}"));
                acked.push(id);
                last.store(id, Ordering::SeqCst);
            }
            acked
        })
    };
    let deadline = std::time::Instant::now() + natter_tests::WAIT * 6;
    while last_acked.load(Ordering::SeqCst) < marked + 500 {
        assert!(!sender.is_finished(), "the sender stopped early");
        assert!(
            std::time::Instant::now() < deadline,
            "500 messages took too long"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let before = last_acked.load(Ordering::SeqCst);
    let archive = dir.path().join("backup.tar");
    let said = backup(&server, &archive).await;
    assert!(said.contains("messages"), "{said}");
    let acked = sender.await.unwrap();
    assert_eq!(acked.len(), 2000, "writes were accepted throughout");

    let restored = tempfile::tempdir().unwrap();
    let into = restored.path().join("data");
    let (ok, said) = restore(&archive, &into, &[]);
    assert!(ok, "{said}");
    assert_eq!(integrity(&into.join("natter.db")), "ok");
    let again = TestServer::start(&into, &[]).await;
    assert_eq!(
        again.fingerprint, server.fingerprint,
        "the same certificate"
    );

    // Sessions and accounts, history up to the backup, the group, the marker, search, files.
    let bob2 = SioClient::resume(&again.url, &bob.session.session_id).await;
    let history: Vec<u64> = bob2.client.history(&a).await.iter().map(|m| m.id).collect();
    for id in acked.iter().filter(|id| **id <= before) {
        assert!(
            history.contains(id),
            "message {id}, acked before the backup, is restored"
        );
    }
    assert!(history.contains(&marked));
    let alice2 = SioClient::login_with(
        &again.url,
        json!({"username": "alice", "password": "correct horse"}),
    )
    .await;
    assert_eq!(alice2.session.user_id, a);
    let bob_entry = alice2.users.iter().find(|u| u.user_id == b).unwrap();
    assert_eq!(bob_entry.read_up_to, marked, "the read marker");
    let found = bob2
        .client
        .ack(event::SEARCH_MESSAGES, json!({"q": "offsite"}))
        .await;
    assert_eq!(
        found["messages"][0]["content"], "planning the offsite",
        "{found}"
    );
    let download = http::file(&again, &file_id, false, &bob.session.session_id).await;
    assert_eq!(download.status, 200);
    assert_eq!(hex::encode(Sha256::digest(&download.body)), sha);
    // The restore is in the restored server's audit log; the backup in the original's.
    let (_, log, _) = again.admin(&["audit"], "").await;
    assert!(log.contains("\"action\":\"restore\""), "{log}");
    let (_, log, _) = server.admin(&["audit"], "").await;
    assert!(log.contains("\"action\":\"backup\""), "{log}");
}

/// A small server's archive.
async fn an_archive(dir: &Path) -> (TestServer, PathBuf) {
    let server = TestServer::start(&dir.join("data"), &[]).await;
    let alice = SioClient::login(&server.url, "alice").await;
    let bob = SioClient::login(&server.url, "bob").await;
    for i in 0..50 {
        alice
            .client
            .send(&bob.session.user_id, &format!("hello {i}"))
            .await;
    }
    let archive = dir.join("small.tar");
    backup(&server, &archive).await;
    (server, archive)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_archive_is_refused_and_nothing_is_written() {
    let work = tempfile::tempdir().unwrap();
    let (server, archive) = an_archive(work.path()).await;
    let whole = std::fs::read(&archive).unwrap();

    let truncated = work.path().join("truncated.tar");
    std::fs::write(&truncated, &whole[..whole.len() * 6 / 10]).unwrap();
    let mut flipped = whole.clone();
    // Inside the database part (the manifest comes first, and is small).
    let at = whole.len() / 2;
    flipped[at] ^= 0x55;
    let corrupt = work.path().join("corrupt.tar");
    std::fs::write(&corrupt, &flipped).unwrap();
    let junk = work.path().join("junk.tar");
    std::fs::write(&junk, b"this is not an archive at all").unwrap();

    for (bad, says) in [
        (&truncated, "damaged or truncated"),
        (&corrupt, "SHA-256"),
        (&junk, "not a Natter backup"),
    ] {
        let into = work.path().join("restored");
        let (ok, said) = restore(bad, &into, &[]);
        assert!(!ok, "{} restored: {said}", bad.display());
        assert!(said.contains(says), "{}: {said}", bad.display());
        assert!(!into.exists(), "nothing written for {}", bad.display());
        let leftovers: Vec<_> = std::fs::read_dir(work.path())
            .unwrap()
            .flatten()
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with(".natter-restore")
            })
            .collect();
        assert!(leftovers.is_empty(), "the staging dir is removed");
    }

    // A data dir in use or holding data is not overwritten by mistake.
    let (ok, said) = restore(&archive, &server.data_dir, &["--force"]);
    assert!(!ok && said.contains("already running"), "{said}");
    let other = work.path().join("other");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("natter.db"), b"someone's data").unwrap();
    let (ok, said) = restore(&archive, &other, &[]);
    assert!(!ok && said.contains("--force"), "{said}");
    assert_eq!(
        std::fs::read(other.join("natter.db")).unwrap(),
        b"someone's data"
    );
    let (ok, said) = restore(&archive, &other, &["--force"]);
    assert!(ok, "{said}");
    assert!(said.contains("50 messages"), "{said}");
    assert_eq!(integrity(&other.join("natter.db")), "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_cluster_mode_backup_says_what_to_back_up_instead() {
    let redis = RedisServer::start().await;
    let d = tempfile::tempdir().unwrap();
    let node = TestServer::start_node(d.path(), &redis.url, None).await;
    let archive = d.path().join("x.tar");
    let (ok, out, err) = node
        .admin(&["backup", &archive.display().to_string()], "")
        .await;
    assert!(!ok, "{out}");
    assert!(
        err.contains("Redis") && err.contains("--files-dir"),
        "{err}"
    );
    assert!(!archive.exists());
}
