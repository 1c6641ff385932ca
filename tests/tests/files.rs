//! Files from outside: uploads streamed to disk, downloads only for the people of a
//! conversation where the file was sent, limits answered before the body is read, image
//! previews, and a cluster where a file uploaded through one node downloads through another.

use std::time::Duration;

use natter_protocol::event;
use natter_tests::http::{self, Response};
use natter_tests::redis::RedisServer;
use natter_tests::{Login, SioClient, TestServer, fresh_server};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const MIB: usize = 1024 * 1024;

/// Deterministic, incompressible bytes: `n` chunks of 1 MiB.
fn chunks(n: usize) -> impl Iterator<Item = Vec<u8>> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..n).map(move |_| {
        let mut chunk = Vec::with_capacity(MIB);
        while chunk.len() < MIB {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chunk.extend_from_slice(&x.to_le_bytes());
        }
        chunk
    })
}

fn rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Files left in the files dir (uploads in progress included).
fn stored_files(server: &TestServer) -> Vec<String> {
    std::fs::read_dir(server.data_dir.join("files"))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Sends the uploaded file `file_id` to `to`: as `group message` to a groupID, else as
/// `private message`; the ack.
async fn send_file(from: &Login, to: &str, file_id: &str) -> Value {
    let event_name = if natter_protocol::is_group_id(to) {
        event::GROUP_MESSAGE
    } else {
        event::PRIVATE_MESSAGE
    };
    let attached = json!({"to": to, "content": "", "attachment": {"fileID": file_id}});
    from.client.ack(event_name, attached).await
}

fn status(r: &Response) -> u16 {
    r.status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_upload_streams_to_disk_and_only_the_conversation_downloads_it() {
    let (_dir, server) = fresh_server(&[]).await;
    let alice = SioClient::login(&server.url, "alice").await;
    let mut bob = SioClient::login(&server.url, "bob").await;
    let carol = SioClient::login(&server.url, "carol").await;
    let (a_sid, b_sid, c_sid) = (
        alice.session.session_id.clone(),
        bob.session.session_id.clone(),
        carol.session.session_id.clone(),
    );

    // 50 MiB, streamed in 1 MiB writes, while the server's memory is sampled.
    let expected = {
        let mut h = Sha256::new();
        chunks(50).for_each(|c| h.update(&c));
        hex(&h.finalize())
    };
    let pid = server.pid();
    let before = rss_bytes(pid);
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampling = tokio::spawn({
        let done = done.clone();
        async move {
            let mut peak = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak.max(rss_bytes(pid));
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            peak.max(rss_bytes(pid))
        }
    });
    let auth = format!("Bearer {a_sid}");
    let up = http::request(
        &server,
        "POST",
        "/files",
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/x-tar"),
            (
                "X-File-Name",
                &natter_protocol::files::encode_name("backup 2026 — é.tar"),
            ),
        ],
        chunks(50),
        Some(50 * MIB as u64),
    )
    .await;
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let peak = sampling.await.expect("sampler");
    assert_eq!(status(&up), 201, "{:?}", String::from_utf8_lossy(&up.body));
    let info = up.json();
    assert_eq!(info["size"], 50 * MIB);
    assert_eq!(info["name"], "backup 2026 — é.tar");
    assert_eq!(info["type"], "application/x-tar");
    assert_eq!(info["sha256"], expected);
    let growth = peak.saturating_sub(before);
    println!("RSS before {before} B, peak during the upload {peak} B: +{growth} B");
    assert!(
        growth < 20 * MIB as u64,
        "the server's RSS grew by {} MiB during a 50 MiB upload",
        growth / MIB as u64
    );
    let file_id = info["fileID"].as_str().expect("fileID").to_owned();
    let path = format!("/files/{file_id}");

    // Before it is sent: the uploader only.
    assert_eq!(
        status(&http::get(&server, &path, Some(&b_sid), &[]).await),
        404
    );
    assert_eq!(status(&http::get(&server, &path, None, &[]).await), 401);

    let sent = send_file(&alice, &bob.session.user_id, &file_id).await;
    let attachment = json!({"fileID": file_id, "name": "backup 2026 — é.tar",
                            "size": 50 * MIB, "type": "application/x-tar"});
    assert_eq!(sent["attachment"], attachment, "{sent}");
    let delivered = bob.client.next(event::PRIVATE_MESSAGE).await;
    assert_eq!(delivered["attachment"], attachment);

    let down = http::get(&server, &path, Some(&b_sid), &[]).await;
    assert_eq!(status(&down), 200);
    assert_eq!(hex(&Sha256::digest(&down.body)), expected, "intact");
    assert_eq!(down.header("content-type"), Some("application/x-tar"));
    assert!(
        down.header("content-disposition")
            .is_some_and(|d| d.contains("filename*=UTF-8''backup%202026")),
        "{:?}",
        down.headers
    );
    let range = http::get(
        &server,
        &path,
        Some(&b_sid),
        &[("Range", "bytes=1048576-1048591")],
    )
    .await;
    assert_eq!(status(&range), 206);
    assert_eq!(range.body, chunks(2).nth(1).unwrap()[..16].to_vec());

    // Not in that conversation: 404, as for a file that does not exist.
    assert_eq!(
        status(&http::get(&server, &path, Some(&c_sid), &[]).await),
        404
    );
    assert_eq!(
        status(
            &http::get(
                &server,
                "/files/00112233445566778899aabbccddeeff",
                Some(&a_sid),
                &[]
            )
            .await
        ),
        404
    );
    // Someone else's file cannot be attached; an unknown one neither.
    let foreign = send_file(&carol, &alice.session.user_id, &file_id).await;
    assert_eq!(foreign["code"], "unknown_file");
    let unknown = send_file(&carol, &alice.session.user_id, "nope").await;
    assert_eq!(unknown["code"], "unknown_file");
    assert_eq!(
        status(&http::get(&server, &path, Some(&c_sid), &[]).await),
        404
    );

    // A revoked session downloads nothing.
    assert_eq!(
        bob.client.ack(event::LOGOUT, json!({})).await,
        json!({"ok": true})
    );
    assert_eq!(
        status(&http::get(&server, &path, Some(&b_sid), &[]).await),
        401
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_limit_is_refused_and_leaves_nothing() {
    let (_dir, server) = fresh_server(&["--max-file-bytes", "1048576"]).await;
    let alice = SioClient::login(&server.url, "alice").await;
    let auth = format!("Bearer {}", alice.session.session_id);

    // Declared too large, waiting for "100 Continue": the 413 comes before any body is sent.
    let mut conn = server.connect().await;
    use tokio::io::AsyncWriteExt;
    conn.write_all(
        format!(
            "POST /files HTTP/1.1\r\nHost: localhost\r\nAuthorization: {auth}\r\n\
             Content-Length: 2097152\r\nExpect: 100-continue\r\n\r\n"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let answer = tokio::time::timeout(natter_tests::WAIT, http::read_response(&mut conn))
        .await
        .expect("an answer without sending the body");
    assert_eq!(answer.status, 413);

    // Declared too large, body sent anyway.
    let big = http::request(
        &server,
        "POST",
        "/files",
        &[("Authorization", &auth)],
        chunks(2),
        Some(2 * MIB as u64),
    )
    .await;
    assert_eq!(big.status, 413);
    // Not declared (chunked): cut off once over the limit.
    let chunked: Vec<Vec<u8>> = chunks(2)
        .map(|c| {
            let mut framed = format!("{:x}\r\n", c.len()).into_bytes();
            framed.extend_from_slice(&c);
            framed.extend_from_slice(b"\r\n");
            framed
        })
        .chain([b"0\r\n\r\n".to_vec()])
        .collect();
    let streamed = http::request(
        &server,
        "POST",
        "/files",
        &[("Authorization", &auth), ("Transfer-Encoding", "chunked")],
        chunked,
        None,
    )
    .await;
    assert_eq!(streamed.status, 413);
    // No session.
    let anonymous = http::request(&server, "POST", "/files", &[], [b"x".to_vec()], Some(1)).await;
    assert_eq!(anonymous.status, 401);
    assert!(
        stored_files(&server).is_empty(),
        "left behind: {:?}",
        stored_files(&server)
    );

    // At the limit: accepted.
    let ok = http::upload(
        &server,
        &alice.session.session_id,
        "one.bin",
        "application/octet-stream",
        chunks(1).next().unwrap(),
    )
    .await;
    assert_eq!(ok.status, 201);
    assert_eq!(stored_files(&server).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn images_in_a_group_get_a_preview_for_members_only() {
    let (_dir, server) = fresh_server(&[]).await;
    let alice = SioClient::login(&server.url, "alice").await;
    let mut bob = SioClient::login(&server.url, "bob").await;
    let carol = SioClient::login(&server.url, "carol").await;
    let group = alice
        .client
        .ack(
            event::CREATE_GROUP,
            json!({"name": "photos", "members": [bob.session.user_id]}),
        )
        .await;
    let g = group["groupID"].as_str().unwrap().to_owned();

    let mut png = Vec::new();
    image::RgbImage::from_fn(1200, 600, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
    })
    .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
    .unwrap();
    let up = http::upload(
        &server,
        &alice.session.session_id,
        "beach.png",
        "image/png",
        png,
    )
    .await;
    assert_eq!(up.status, 201);
    let file_id = up.json()["fileID"].as_str().unwrap().to_owned();
    let sent = send_file(&alice, &g, &file_id).await;
    assert_eq!(sent["attachment"]["type"], "image/png", "{sent}");
    assert_eq!(
        bob.client.next(event::GROUP_MESSAGE).await["attachment"]["fileID"],
        file_id
    );

    let preview = http::file(&server, &file_id, true, &bob.session.session_id).await;
    assert_eq!(preview.status, 200);
    assert_eq!(preview.header("content-type"), Some("image/png"));
    let small = image::load_from_memory(&preview.body).expect("a PNG");
    assert_eq!((small.width(), small.height()), (320, 160));
    assert_eq!(
        http::file(&server, &file_id, true, &carol.session.session_id)
            .await
            .status,
        404
    );
    // Once bob leaves, the group's files are no longer his.
    bob.client
        .ack(event::LEAVE_GROUP, json!({"groupID": g}))
        .await;
    assert_eq!(
        http::file(&server, &file_id, false, &bob.session.session_id)
            .await
            .status,
        404
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_uploaded_through_one_node_downloads_through_another() {
    let redis = RedisServer::start().await;
    let (d1, d2, shared) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let files = shared.path().to_string_lossy().into_owned();
    let n1 = TestServer::start(d1.path(), &["--redis", &redis.url, "--files-dir", &files]).await;
    let file = |f: &str| n1.data_dir.join(f).to_string_lossy().into_owned();
    let n2 = TestServer::start(
        d2.path(),
        &[
            "--redis",
            &redis.url,
            "--files-dir",
            &files,
            "--tls-cert",
            &file("cert.pem"),
            "--tls-key",
            &file("key.pem"),
        ],
    )
    .await;
    let alice = SioClient::login(&n1.url, "alice").await;
    let mut bob = SioClient::login(&n2.url, "bob").await;
    let carol = SioClient::login(&n2.url, "carol").await;
    let bytes: Vec<u8> = chunks(3).flatten().collect();
    let up = http::upload(
        &n1,
        &alice.session.session_id,
        "notes.bin",
        "application/octet-stream",
        bytes.clone(),
    )
    .await;
    assert_eq!(up.status, 201);
    let file_id = up.json()["fileID"].as_str().unwrap().to_owned();
    let sent = send_file(&alice, &bob.session.user_id, &file_id).await;
    assert_eq!(sent["attachment"]["size"], 3 * MIB, "{sent}");
    assert_eq!(
        bob.client.next(event::PRIVATE_MESSAGE).await["attachment"]["fileID"],
        file_id
    );
    let down = http::file(&n2, &file_id, false, &bob.session.session_id).await;
    assert_eq!(down.status, 200);
    assert!(down.body == bytes, "intact through the other node");
    assert_eq!(
        http::file(&n2, &file_id, false, &carol.session.session_id)
            .await
            .status,
        404
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Uploads spend the sender's message budget: a script cannot fill the disk at line speed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_count_against_the_rate_limit() {
    let (_dir, server) =
        fresh_server(&["--messages-per-second", "1", "--message-burst", "2"]).await;
    let alice = SioClient::login(&server.url, "alice").await;
    let bob = SioClient::login(&server.url, "bob").await;
    let (a, b) = (
        alice.session.session_id.clone(),
        bob.session.session_id.clone(),
    );
    let upload = |session: String| {
        let server = &server;
        async move { http::upload(server, &session, "a.txt", "text/plain", b"hello".to_vec()).await }
    };
    assert_eq!(upload(a.clone()).await.status, 201);
    assert_eq!(upload(a.clone()).await.status, 201);
    let third = upload(a.clone()).await;
    assert_eq!(third.status, 429);
    assert!(
        third
            .header("retry-after")
            .and_then(|s| s.parse::<u64>().ok())
            .is_some_and(|s| s >= 1),
        "{:?}",
        third.headers
    );
    // Someone else's budget is their own.
    assert_eq!(upload(b.clone()).await.status, 201);
    assert_eq!(
        stored_files(&server).len(),
        3,
        "the refused upload left nothing"
    );
}
