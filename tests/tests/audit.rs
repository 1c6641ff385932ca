//! The audit log, end to end: sign-ins and failed sign-ins with the name and the client's
//! address (never the password), operator actions and revocations, a logout, the file private
//! and rotated by size, and `admin audit` filtering by person and time, also with the server
//! stopped.

use std::os::unix::fs::PermissionsExt;

use natter_tests::{SioClient, TestServer};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";
const WRONG: &str = "not-the-password-4711";

fn records(out: &str) -> Vec<Value> {
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_ins_failures_and_operator_actions_are_audited_without_passwords() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // Small files, so this test's records rotate.
    let mut server =
        TestServer::start(&data, &["--audit-max-bytes", "600", "--audit-keep", "50"]).await;
    let url = server.url.as_str();

    let alice =
        SioClient::login_with(url, json!({"username": "alice", "password": PASSWORD})).await;
    let refused = SioClient::connect(url, json!({"username": "ALICE", "password": WRONG})).await;
    assert_eq!(refused.err().as_deref(), Some("wrong password"));
    let bob = SioClient::login(url, "bob").await;
    let (ok, _, err) = server.admin(&["revoke", "bob"], "").await;
    assert!(ok, "{err}");
    let logout = alice.client.ack("logout", json!({})).await;
    assert_eq!(logout["ok"], true, "{logout}");
    drop(bob);

    let (ok, out, err) = server.admin(&["audit"], "").await;
    assert!(ok, "{err}");
    let all = records(&out);
    let find = |action: &str, key: &str, value: &str| {
        all.iter()
            .find(|r| r["action"] == action && r[key].as_str().is_some_and(|v| v == value))
            .unwrap_or_else(|| panic!("no {action} with {key}={value}: {out}"))
            .clone()
    };
    let signed_in = find("sign_in", "user", "alice");
    assert!(
        signed_in["addr"].as_str().unwrap().starts_with("127.0.0.1"),
        "{signed_in}"
    );
    let failed = find("sign_in_failed", "name", "ALICE");
    assert_eq!(failed["refusal"], "wrong password");
    assert!(
        failed["addr"].as_str().unwrap().starts_with("127.0.0.1"),
        "{failed}"
    );
    let revoked = find("admin", "command", "revoke");
    assert_eq!(
        (revoked["target"].as_str(), revoked["ok"].as_bool()),
        (Some("bob"), Some(true))
    );
    find("logout", "user", "alice");
    // Oldest first, each with its time.
    let times: Vec<u64> = all.iter().map(|r| r["ts"].as_u64().expect("ts")).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");

    // Never a password, in any file; every file private; and it did rotate.
    let mut files = 0;
    for entry in std::fs::read_dir(&data).unwrap().flatten() {
        let name = entry.file_name().into_string().unwrap();
        if !name.starts_with("audit.log") {
            continue;
        }
        files += 1;
        let text = std::fs::read_to_string(entry.path()).unwrap();
        assert!(
            !text.contains(PASSWORD) && !text.contains(WRONG),
            "{name}: {text}"
        );
        let mode = entry.metadata().unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{name}");
    }
    assert!(files > 1, "rotated at 600 bytes");

    // By person: what is about alice only (her name or her userID).
    let (_, mine, _) = server.admin(&["audit", "--user", "alice"], "").await;
    let mine = records(&mine);
    assert!(mine.len() >= 3, "{mine:?}");
    assert!(
        mine.iter()
            .all(|r| r.to_string().to_lowercase().contains("alice")),
        "{mine:?}"
    );
    // By time: nothing from the future; a bad time is a clear error.
    let (ok, none, _) = server
        .admin(&["audit", "--since", "2999-01-01T00:00:00Z"], "")
        .await;
    assert!(ok && none.trim().is_empty(), "{none}");
    let (ok, _, err) = server
        .admin(&["audit", "--since", "yesterdayish"], "")
        .await;
    assert!(!ok && err.contains("neither a time"), "{err}");

    // Readable with the server stopped.
    server.stop().await;
    let (ok, again, err) = server.admin(&["audit", "--user", "bob"], "").await;
    assert!(ok, "{err}");
    assert!(
        records(&again).iter().any(|r| r["action"] == "admin"),
        "{again}"
    );
}
