//! Signing in with the office directory, against a real OpenLDAP (`slapd` started by the test
//! on loopback ports, with its own CA): directory passwords, every refusal, filter injection,
//! names of the server's own, the recheck that ends sessions, a directory that goes away and
//! comes back, StartTLS and plain LDAP, and two cluster nodes.

use std::time::Duration;

use natter_protocol::{Session, event};
use natter_tests::redis::RedisServer;
use natter_tests::slapd::{self, Slapd, password};
use natter_tests::{SioClient, TestServer, http};
use serde_json::{Value, json};

const CLOSE: Duration = Duration::from_secs(10);

/// Signs `name` in with `pw`: the session, or the refusal's text.
async fn sign_in(
    server: &TestServer,
    name: &str,
    pw: &str,
) -> Result<(SioClient, Session), String> {
    SioClient::connect(&server.url, json!({"username": name, "password": pw})).await
}

async fn refused(server: &TestServer, auth: Value) -> String {
    match SioClient::connect(&server.url, auth.clone()).await {
        Ok(_) => panic!("{auth} signed in"),
        Err(e) => e,
    }
}

/// `admin list`, one line per identity.
async fn identities(server: &TestServer) -> Vec<String> {
    let (ok, out, err) = server.admin(&["list"], "").await;
    assert!(ok, "{err}");
    out.lines()
        .skip(1)
        .filter(|l| !l.ends_with(" users"))
        .map(str::to_owned)
        .collect()
}

fn ldap_args(slapd: &Slapd) -> Vec<String> {
    slapd.server_args()
}

fn refs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_sign_in_with_the_directory_and_nobody_else_does() {
    let dir = tempfile::tempdir().unwrap();
    // Before the directory: names of the server's own, one of them Bob's, with history.
    let mut before = TestServer::start(dir.path(), &[]).await;
    let zoe = SioClient::login(&before.url, "zoe").await;
    let bob_before = SioClient::login_with(
        &before.url,
        json!({"username": "bob", "password": "bobs own password"}),
    )
    .await;
    let old = zoe
        .client
        .send(&bob_before.session.user_id, "hello from before")
        .await;
    assert_eq!(old["content"], "hello from before");
    zoe.client.close().await;
    bob_before.client.close().await;
    before.stop().await;

    let slapd = Slapd::start().await;
    // Dozens of refusals from one address: without limits, or the throttle on failed
    // attempts (tested on its own below) would answer most of them.
    let mut args = ldap_args(&slapd);
    args.push("--no-limits".into());
    let server = TestServer::start(dir.path(), &refs(&args)).await;

    // The app can tell before it sends a password.
    let info = http::get(&server, natter_protocol::AUTH_INFO_PATH, None, &[]).await;
    assert_eq!(info.status, 200);
    assert_eq!(info.json()["directory"], true, "{:?}", info.json());
    let (_, health) = server.healthz().await;
    assert_eq!(health["directory"], "ok", "{health}");

    // The directory's password signs Alice in, under the directory's name for her.
    let (mut alice, session) = sign_in(&server, "alice", &password("alice"))
        .await
        .expect("alice signs in");
    assert_eq!(session.username, "alice");
    assert_eq!(session.display_name.as_deref(), Some("Alice Liddell"));
    let listed = identities(&server).await.len();

    // Refusals make no session and no identity.
    for (auth, says) in [
        (
            json!({"username": "alice", "password": "not it"}),
            "wrong password",
        ),
        (
            json!({"username": "alice", "password": ""}),
            "password required",
        ),
        (json!({"username": "alice"}), "password required"),
        (
            json!({"username": "nobody", "password": "whatever"}),
            "wrong password",
        ),
        (
            json!({"username": "carol", "password": "not it"}),
            "wrong password",
        ),
        (
            json!({"username": "carol", "password": password("carol")}),
            "not allowed on this server",
        ),
        (
            json!({"username": "zoe", "password": "anything at all"}),
            "directory sign-in required",
        ),
    ] {
        assert_eq!(refused(&server, auth.clone()).await, says, "{auth}");
    }
    // A name cannot widen the search, whatever password comes with it.
    for name in ["*", "alice)(uid=*", "*)(|(uid=*", "a*", "alice\\"] {
        for pw in [password("alice"), "x".into()] {
            let auth = json!({"username": name, "password": pw});
            let said = refused(&server, auth.clone()).await;
            assert!(
                said == "wrong password" || said == "invalid username",
                "{auth}: {said}"
            );
        }
    }
    assert_eq!(identities(&server).await.len(), listed, "no identity made");

    // Bob's name of his own is taken over: same userID, history kept, his old password gone.
    assert_eq!(
        refused(
            &server,
            json!({"username": "bob", "password": "bobs own password"})
        )
        .await,
        "wrong password"
    );
    let (bob, bob_session) = sign_in(&server, "BOB", &password("bob"))
        .await
        .expect("bob signs in");
    assert_eq!(bob_session.user_id, bob_before.session.user_id);
    assert_eq!(bob_session.username, "bob");
    assert_eq!(bob_session.display_name.as_deref(), Some("Bob Builder"));
    let history = bob.history(&zoe.session.user_id).await;
    assert_eq!(history[0].content, "hello from before");
    // Alice is told of Bob under his directory name.
    let came = alice.next(event::USER_CONNECTED).await;
    assert_eq!(came["userID"], bob_session.user_id.as_str());
    assert_eq!(came["displayName"], "Bob Builder");

    // The list says who is the directory's.
    let lines = identities(&server).await;
    let line = |name: &str| {
        lines
            .iter()
            .find(|l| l.split_whitespace().nth(1) == Some(name))
            .cloned()
            .unwrap_or_else(|| panic!("{name} in {lines:?}"))
    };
    assert!(line("alice").contains("yes (Alice Liddell)"), "{lines:?}");
    assert!(line("bob").contains("yes (Bob Builder)"), "{lines:?}");
    assert!(line("zoe").trim_end().ends_with("no"), "{lines:?}");

    // A fresh login lists people with their directory names.
    let (carla, _) = sign_in(&server, "dave", &password("dave")).await.unwrap();
    drop(carla);
    let (_, again) = sign_in(&server, "alice", &password("alice")).await.unwrap();
    assert_eq!(again.user_id, session.user_id, "the same person");

    // The directory holds the password.
    let set = alice
        .ack(event::SET_PASSWORD, json!({"password": "a new one here"}))
        .await;
    assert_eq!(set["code"], "not_allowed", "{set}");
    // Chatting is as ever.
    let sent = alice.send(&bob_session.user_id, "hi Bob").await;
    assert_eq!(sent["content"], "hi Bob");
    let (ok, _, err) = server
        .admin(&["reset-password", "alice"], "whatever123\n")
        .await;
    assert!(!ok && err.contains("directory"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recheck_ends_the_sessions_of_people_who_left() {
    let slapd = Slapd::start().await;
    let args = ldap_args(&slapd);
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), &refs(&args)).await;
    let (alice, _) = sign_in(&server, "alice", &password("alice")).await.unwrap();
    let mut signed_in = Vec::new();
    for name in ["dave", "erin", "frank"] {
        signed_in.push(sign_in(&server, name, &password(name)).await.unwrap());
    }
    // Nothing changed: nobody is revoked.
    let (ok, out, err) = server.admin(&["recheck"], "").await;
    assert!(ok, "{err}");
    assert!(
        out.contains("checked 4 directory people, revoked 0"),
        "{out}"
    );

    slapd.remove_person("dave").await;
    slapd.lock("erin").await;
    slapd.leave_group("frank").await;
    let (ok, out, err) = server.admin(&["recheck"], "").await;
    assert!(ok, "{err}");
    assert!(out.contains("revoked 3"), "{out}");
    assert!(
        out.contains("dave") && out.contains("no longer in the directory"),
        "{out}"
    );
    assert!(out.contains("erin") && out.contains("disabled"), "{out}");
    assert!(
        out.contains("frank") && out.contains("no longer in the group"),
        "{out}"
    );
    for (mut client, session) in signed_in {
        assert!(
            client.closed_within(CLOSE).await,
            "{} disconnected",
            session.username
        );
        let resumed = SioClient::connect(
            &server.url,
            json!({"sessionID": session.session_id, "username": session.username}),
        )
        .await;
        assert_eq!(resumed.err().as_deref(), Some("session revoked"));
    }
    // And they cannot come back.
    assert_eq!(
        refused(
            &server,
            json!({"username": "erin", "password": password("erin")})
        )
        .await,
        "not allowed on this server"
    );
    assert_eq!(
        refused(
            &server,
            json!({"username": "frank", "password": password("frank")})
        )
        .await,
        "not allowed on this server"
    );
    assert_eq!(
        refused(
            &server,
            json!({"username": "dave", "password": password("dave")})
        )
        .await,
        "wrong password"
    );
    // Alice goes on.
    let (bob, bob_session) = sign_in(&server, "bob", &password("bob")).await.unwrap();
    let sent = alice.send(&bob_session.user_id, "still here").await;
    assert_eq!(sent["content"], "still here", "{sent}");
    drop(bob);
    // Guessing directory passwords is throttled like guessing Natter ones: ten failures a
    // minute per address (dave's was one), then even the right password waits.
    for _ in 0..9 {
        let auth = json!({"username": "bob", "password": "a guess"});
        assert_eq!(refused(&server, auth).await, "wrong password");
    }
    let auth = json!({"username": "bob", "password": password("bob")});
    assert_eq!(
        refused(&server, auth).await,
        "too many attempts, try again later"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_directory_sign_ins_wait_and_conversations_go_on() {
    let mut slapd = Slapd::start().await;
    let args = ldap_args(&slapd);
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), &refs(&args)).await;
    let (alice, alice_session) = sign_in(&server, "alice", &password("alice")).await.unwrap();
    let (mut bob, bob_session) = sign_in(&server, "bob", &password("bob")).await.unwrap();

    slapd.stop().await;
    assert_eq!(
        refused(
            &server,
            json!({"username": "dave", "password": password("dave")})
        )
        .await,
        "server unavailable, try again",
        "not a refusal of the credentials: the app keeps trying"
    );
    let (status, health) = server.healthz().await;
    assert!(
        status.contains("200"),
        "{status}: messages can still be stored"
    );
    assert_eq!(health["directory"], "unreachable", "{health}");
    alice
        .send(&bob_session.user_id, "the directory is down")
        .await;
    let got = bob.next(event::PRIVATE_MESSAGE).await;
    assert_eq!(got["content"], "the directory is down");
    // Resuming needs no directory.
    let resumed = SioClient::resume(&server.url, &alice_session.session_id).await;
    assert_eq!(
        resumed.session.display_name.as_deref(),
        Some("Alice Liddell")
    );

    slapd.restart().await;
    let mut healthy = false;
    for _ in 0..100 {
        if server.healthz().await.1["directory"] == "ok" {
            healthy = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(healthy, "the directory is seen again");
    let (_, dave) = sign_in(&server, "dave", &password("dave"))
        .await
        .expect("dave");
    assert_eq!(dave.username, "dave");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_and_plain_ldap() {
    let slapd = Slapd::start().await;
    let common = [
        "--ldap-base-dn",
        slapd::PEOPLE_DN,
        "--ldap-bind-dn",
        slapd::SERVICE_DN,
    ];
    let service = slapd.service_password_file().display().to_string();
    let ca = slapd.ca_file().display().to_string();
    let url = slapd.ldap_url();
    let starttls = [
        &common[..],
        &[
            "--ldap-url",
            &url,
            "--ldap-ca-file",
            &ca,
            "--ldap-bind-password-file",
            &service,
        ],
    ]
    .concat();
    let plain = [
        &common[..],
        &[
            "--ldap-url",
            &url,
            "--ldap-insecure",
            "--ldap-bind-password-file",
            &service,
        ],
    ]
    .concat();
    // StartTLS against a CA that did not sign the directory's certificate: nobody gets in.
    let elsewhere = tempfile::tempdir().unwrap();
    let other_ca = slapd::new_ca(elsewhere.path(), "someone else")
        .await
        .display()
        .to_string();
    let wrong_ca = [
        &common[..],
        &[
            "--ldap-url",
            &url,
            "--ldap-ca-file",
            &other_ca,
            "--ldap-bind-password-file",
            &service,
        ],
    ]
    .concat();
    for (args, works) in [(starttls, true), (plain, true), (wrong_ca, false)] {
        let dir = tempfile::tempdir().unwrap();
        let server = TestServer::start(dir.path(), &args).await;
        let signed_in = sign_in(&server, "alice", &password("alice")).await;
        if works {
            let (_, s) = signed_in.unwrap_or_else(|e| panic!("{args:?}: {e}"));
            assert_eq!(s.display_name.as_deref(), Some("Alice Liddell"));
        } else {
            assert_eq!(
                signed_in.err().as_deref(),
                Some("server unavailable, try again"),
                "an unverified directory is no directory"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_cluster_nodes_sign_in_with_the_directory() {
    let slapd = Slapd::start().await;
    let args = ldap_args(&slapd);
    let redis = RedisServer::start().await;
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let first = TestServer::start_node_with(d1.path(), &redis.url, None, &refs(&args)).await;
    let second =
        TestServer::start_node_with(d2.path(), &redis.url, Some(&first), &refs(&args)).await;
    let (alice, _) = sign_in(&first, "alice", &password("alice")).await.unwrap();
    let (mut bob, bob_session) = sign_in(&second, "bob", &password("bob")).await.unwrap();
    let (mut frank, _) = sign_in(&first, "frank", &password("frank")).await.unwrap();
    // Each node knows the others' people by their directory names.
    let (_, dave) = sign_in(&second, "dave", &password("dave")).await.unwrap();
    let users = SioClient::resume(&first.url, &dave.session_id).await.users;
    let bob_entry = users
        .iter()
        .find(|u| u.user_id == bob_session.user_id)
        .expect("bob listed");
    assert_eq!(bob_entry.display_name.as_deref(), Some("Bob Builder"));
    alice.send(&bob_session.user_id, "across nodes").await;
    assert_eq!(
        bob.next(event::PRIVATE_MESSAGE).await["content"],
        "across nodes"
    );
    assert_eq!(
        refused(
            &second,
            json!({"username": "carol", "password": password("carol")})
        )
        .await,
        "not allowed on this server"
    );

    // A recheck on one node ends a session held on the other.
    slapd.leave_group("frank").await;
    let (ok, out, err) = second.admin(&["recheck"], "").await;
    assert!(ok && out.contains("frank"), "{out}{err}");
    assert!(
        frank.closed_within(CLOSE).await,
        "frank's socket on the first node"
    );
}
