//! The operator's announcements: to every online socket at once, to later logins while they
//! stand, gone once expired or withdrawn, on every cluster node; and the audit log's record
//! of them.

use std::time::Duration;

use natter_protocol::{Announcement, event};
use natter_tests::redis::RedisServer;
use natter_tests::{SioClient, TestServer, fresh_server};
use serde_json::Value;

async fn announce(server: &TestServer, args: &[&str]) -> String {
    let mut all = vec!["announce"];
    all.extend_from_slice(args);
    let (ok, out, err) = server.admin(&all, "").await;
    assert!(ok, "{out}{err}");
    out
}

fn texts(list: &Value) -> Vec<String> {
    serde_json::from_value::<Vec<Announcement>>(list.clone())
        .unwrap_or_else(|e| panic!("{list}: {e}"))
        .into_iter()
        .map(|a| a.text)
        .collect()
}

/// What a new login is told.
async fn at_login(server: &TestServer, name: &str) -> Vec<String> {
    let mut c = SioClient::login(&server.url, name).await;
    texts(&c.client.next(event::ANNOUNCEMENTS).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn announcements_reach_everyone_until_they_end() {
    let (_dir, server) = fresh_server(&[]).await;
    let mut online = SioClient::login(&server.url, "alice").await;
    assert!(texts(&online.client.next(event::ANNOUNCEMENTS).await).is_empty());

    let said = announce(&server, &["Fire drill at 11:00, leave by the east stairs"]).await;
    assert!(said.contains("announced"), "{said}");
    let live: Announcement =
        serde_json::from_value(online.client.next(event::ANNOUNCEMENT).await).unwrap();
    assert_eq!(live.text, "Fire drill at 11:00, leave by the east stairs");
    assert_eq!(live.until, None);
    announce(&server, &["Coffee machine fixed", "--until", "1s"]).await;
    let short: Announcement =
        serde_json::from_value(online.client.next(event::ANNOUNCEMENT).await).unwrap();
    assert!(short.until.is_some_and(|u| u > short.ts), "{short:?}");

    // Later logins get what still stands.
    assert_eq!(
        at_login(&server, "bob").await,
        [
            "Fire drill at 11:00, leave by the east stairs",
            "Coffee machine fixed"
        ]
    );
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(
        at_login(&server, "carol").await,
        ["Fire drill at 11:00, leave by the east stairs"],
        "the short one expired"
    );
    let list = announce(&server, &["--list"]).await;
    assert!(
        list.contains("standing") && list.contains("expired"),
        "{list}"
    );

    // Withdrawn: the online hear it, the next logins do not get it.
    announce(&server, &["--withdraw", &live.id.to_string()]).await;
    let gone = online.client.next(event::ANNOUNCEMENT_WITHDRAWN).await;
    assert_eq!(gone["id"], live.id);
    assert!(at_login(&server, "dave").await.is_empty());
    let (ok, _, err) = server
        .admin(&["announce", "--withdraw", &live.id.to_string()], "")
        .await;
    assert!(!ok && err.contains("no standing announcement"), "{err}");
    let (ok, _, err) = server.admin(&["announce", "   "], "").await;
    assert!(!ok && err.contains("characters"), "{err}");

    // Audited, with the operator's other actions and the sign-ins.
    let (ok, log, err) = server.admin(&["audit"], "").await;
    assert!(ok, "{err}");
    for action in ["announce", "withdraw_announcement", "sign_in", "admin"] {
        assert!(
            log.contains(&format!("\"action\":\"{action}\"")),
            "{action}: {log}"
        );
    }
    let (_, bob_only, _) = server.admin(&["audit", "--user", "bob"], "").await;
    assert!(
        bob_only.lines().all(|l| l.contains("\"bob\"")) && !bob_only.is_empty(),
        "{bob_only}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_announcement_on_one_node_reaches_the_others() {
    let redis = RedisServer::start().await;
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let first = TestServer::start_node(d1.path(), &redis.url, None).await;
    let second = TestServer::start_node(d2.path(), &redis.url, Some(&first)).await;
    let mut on_first = SioClient::login(&first.url, "alice").await;
    on_first.client.next(event::ANNOUNCEMENTS).await;
    announce(&second, &["Maintenance tonight at 22:00"]).await;
    let live = on_first.client.next(event::ANNOUNCEMENT).await;
    assert_eq!(live["text"], "Maintenance tonight at 22:00");
    assert_eq!(
        at_login(&first, "bob").await,
        ["Maintenance tonight at 22:00"]
    );
}
