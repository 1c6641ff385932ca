//! The connection manager and the commands, through Tauri's IPC (mock runtime), against a real
//! natter-server process.

use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use natter_lib::connection::Timing;
use natter_lib::error::AppError;
use natter_protocol::ipc::{AppEvent, ConnectionState, EVENT, SendOutcome, command};
use natter_protocol::{Message, MessagePage, event};
use natter_tests::{SioClient, TestServer};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tauri::Listener;
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{
    INVOKE_KEY, MockRuntime, get_ipc_response, mock_builder, mock_context, noop_assets,
};
use tauri::webview::InvokeRequest;
use tauri::{App, Manager, WebviewWindow, WebviewWindowBuilder};

const WAIT: Duration = Duration::from_secs(15);

fn fast() -> Timing {
    Timing {
        session_timeout: Duration::from_secs(5),
        ack_timeout: Duration::from_secs(3),
        backoff_min: Duration::from_millis(100),
        backoff_max: Duration::from_millis(400),
    }
}

/// The app as the real one is assembled, on the mock runtime, with its state in `dir`.
struct TestApp {
    app: App<MockRuntime>,
    webview: WebviewWindow<MockRuntime>,
    events: mpsc::Receiver<AppEvent>,
}

impl TestApp {
    fn new(dir: &Path) -> Self {
        Self::with_deployed(dir, natter_protocol::Deployed::default())
    }

    /// As on a computer where the organisation deployed `deployed`.
    fn with_deployed(dir: &Path, deployed: natter_protocol::Deployed) -> Self {
        // The manager's log, shown with a failing test's output.
        let _ = tracing_subscriber::fmt()
            .with_env_filter("natter_lib=debug")
            .with_test_writer()
            .try_init();
        let app = mock_builder()
            .invoke_handler(natter_lib::invoke_handler())
            .build(mock_context(noop_assets()))
            .expect("mock app");
        natter_lib::manage_connection(app.handle(), &dir.join("natter.json"), fast(), deployed)
            .expect("connection manager");
        let (tx, events) = mpsc::channel();
        app.listen_any(EVENT, move |e| {
            let ev: AppEvent = serde_json::from_str(e.payload()).expect("AppEvent payload");
            let _ = tx.send(ev);
        });
        let webview = WebviewWindowBuilder::new(&app, "main", Default::default())
            .build()
            .expect("webview");
        let t = TestApp {
            app,
            webview,
            events,
        };
        t.invoke::<()>(command::START, json!({})).expect("start");
        t
    }

    fn invoke<T: DeserializeOwned>(&self, cmd: &str, args: Value) -> Result<T, String> {
        get_ipc_response(
            &self.webview,
            InvokeRequest {
                cmd: cmd.into(),
                callback: CallbackFn(0),
                error: CallbackFn(1),
                url: "tauri://localhost".parse().unwrap(),
                body: InvokeBody::Json(args),
                headers: Default::default(),
                invoke_key: INVOKE_KEY.to_string(),
            },
        )
        .map(|b| b.deserialize::<T>().expect("command result"))
        .map_err(|e| e.as_str().map(str::to_owned).unwrap_or(e.to_string()))
    }

    /// Waits for the first event matching `pred`, dropping the ones before it.
    fn wait_for(&self, what: &str, pred: impl Fn(&AppEvent) -> bool) -> AppEvent {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(e) if pred(&e) => return e,
                Ok(_) => {}
                Err(_) => panic!("no {what} within {WAIT:?}"),
            }
        }
    }

    fn wait_state(&self, what: &str, pred: impl Fn(&ConnectionState) -> bool) -> ConnectionState {
        match self.wait_for(
            what,
            |e| matches!(e, AppEvent::Connection { state, .. } if pred(state)),
        ) {
            AppEvent::Connection { state, .. } => state,
            _ => unreachable!(),
        }
    }

    /// Logs in, trusting the server's certificate if asked to (first contact).
    fn login(&self, url: &str, name: &str) -> natter_protocol::Session {
        self.invoke::<()>(command::LOGIN, json!({"serverUrl": url, "username": name}))
            .expect("login command");
        let session = loop {
            match self.wait_for("session or a certificate to trust", |e| {
                matches!(
                    e,
                    AppEvent::Session { .. }
                        | AppEvent::Connection {
                            state: ConnectionState::Untrusted { .. },
                            ..
                        }
                )
            }) {
                AppEvent::Session { session } => break session,
                AppEvent::Connection {
                    state: ConnectionState::Untrusted { fingerprint, .. },
                    ..
                } => self
                    .invoke::<()>(command::TRUST, json!({ "fingerprint": fingerprint }))
                    .expect("trust"),
                _ => unreachable!(),
            }
        };
        self.wait_state("connected", |s| *s == ConnectionState::Connected);
        session
    }

    /// Trusts the certificate a first contact shows.
    fn trust_first_contact(&self) {
        let ConnectionState::Untrusted { fingerprint, .. } = self
            .wait_state("first contact", |s| {
                matches!(s, ConnectionState::Untrusted { changed: false, .. })
            })
        else {
            unreachable!()
        };
        self.invoke::<()>(command::TRUST, json!({ "fingerprint": fingerprint }))
            .expect("trust");
    }

    fn send(&self, to: &str, content: &str) -> Result<SendOutcome, String> {
        self.invoke(command::SEND, json!({"to": to, "content": content}))
    }

    fn close(self) {
        let conn = self
            .app
            .state::<natter_lib::connection::Connection>()
            .inner()
            .clone();
        tauri::async_runtime::block_on(conn.shutdown());
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn login_send_receive_and_fetch_older() {
    let rt = rt();
    let (srv_dir, app_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let server = rt.block_on(TestServer::start(srv_dir.path(), &[]));
    let app = TestApp::new(app_dir.path());

    let me = app.login(&server.url, "  alice ");
    assert_eq!(me.username, "alice");
    let users = app.wait_for("users", |e| matches!(e, AppEvent::Users { .. }));
    assert!(matches!(users, AppEvent::Users { users } if users.len() == 1));

    let mut bob = rt.block_on(SioClient::login(&server.url, "bob"));
    let b = bob.session.user_id.clone();
    // The app asks for batched presence: bob arrives in a `presence` batch, with his name.
    app.wait_for("bob online", |e| {
        matches!(e, AppEvent::Presence { changes } if changes.iter().any(|c| {
            c.user_id == b && c.connected && c.username.as_deref() == Some("bob")
        }))
    });

    let sent = match app.send(&b, "hi bob").unwrap() {
        SendOutcome::Sent { message } => message,
        other => panic!("expected Sent, got {other:?}"),
    };
    assert_eq!(
        (sent.from.as_str(), sent.content.as_str()),
        (me.user_id.as_str(), "hi bob")
    );
    let got: Message =
        serde_json::from_value(rt.block_on(bob.client.next(event::PRIVATE_MESSAGE))).unwrap();
    assert_eq!(got, sent);
    app.wait_for(
        "ack event",
        |e| matches!(e, AppEvent::Acked { message } if message.id == sent.id),
    );

    rt.block_on(bob.client.send(&me.user_id, "hi alice"));
    app.wait_for(
        "incoming",
        |e| matches!(e, AppEvent::Message { message } if message.content == "hi alice"),
    );

    let page: MessagePage = app
        .invoke(command::FETCH_OLDER, json!({"with": b, "before": null}))
        .unwrap();
    assert_eq!(page.messages.len(), 2);
    assert_eq!(app.send(&b, "   "), Err("empty message".into()));
    app.close();
}

#[test]
fn a_refused_username_is_reported_and_not_retried() {
    let rt = rt();
    let (srv_dir, app_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let server = rt.block_on(TestServer::start(srv_dir.path(), &[]));
    let app = TestApp::new(app_dir.path());
    app.invoke::<()>(
        command::LOGIN,
        json!({"serverUrl": server.url, "username": "x".repeat(40)}),
    )
    .unwrap();
    app.trust_first_contact();
    let state = app.wait_state("refusal", |s| matches!(s, ConnectionState::Refused { .. }));
    assert_eq!(
        state,
        ConnectionState::Refused {
            reason: "invalid username".into()
        }
    );
    // Nothing else happens: no retry loop.
    std::thread::sleep(Duration::from_millis(800));
    let later: Vec<AppEvent> = app.events.try_iter().collect();
    assert!(later.is_empty(), "events after a refusal: {later:?}");
    assert!(app.send("someone", "hi").is_err(), "no session, no sending");

    // A bad address is refused by the command itself; an unreachable one by a state.
    assert!(
        app.invoke::<()>(
            command::LOGIN,
            json!({"serverUrl": "ftp://x", "username": "a"})
        )
        .is_err()
    );
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    app.invoke::<()>(
        command::LOGIN,
        json!({"serverUrl": format!("127.0.0.1:{}", closed.port()), "username": "a"}),
    )
    .unwrap();
    app.wait_state("unreachable", |s| {
        matches!(s, ConnectionState::Unreachable { .. })
    });
    app.close();
}

#[test]
fn a_relaunched_app_resumes_the_session_without_login() {
    let rt = rt();
    let (srv_dir, app_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let server = rt.block_on(TestServer::start(srv_dir.path(), &[]));
    let bob = rt.block_on(SioClient::login(&server.url, "bob"));
    let app = TestApp::new(app_dir.path());
    let me = app.login(&server.url, "alice");
    app.send(&bob.session.user_id, "before relaunch").unwrap();
    app.close();

    let app = TestApp::new(app_dir.path());
    // Who we are is known at once, before the server answers...
    let first = app.wait_for("saved session", |e| matches!(e, AppEvent::Session { .. }));
    assert!(matches!(&first, AppEvent::Session { session } if *session == me));
    app.wait_state("connected", |s| *s == ConnectionState::Connected);
    // ...and the history comes back with the users list.
    let users = app.wait_for("users", |e| matches!(e, AppEvent::Users { .. }));
    let AppEvent::Users { users } = users else {
        unreachable!()
    };
    let with_bob = users.iter().find(|u| u.username == "bob").unwrap();
    assert_eq!(with_bob.messages[0].content, "before relaunch");
    app.invoke::<()>(command::LOGOUT, json!({})).unwrap();
    app.wait_state("logged out", |s| *s == ConnectionState::LoggedOut);
    app.close();
    let app = TestApp::new(app_dir.path());
    std::thread::sleep(Duration::from_millis(500));
    let after_logout: Vec<AppEvent> = app.events.try_iter().collect();
    assert!(
        !after_logout
            .iter()
            .any(|e| matches!(e, AppEvent::Session { .. })),
        "logout must forget the session: {after_logout:?}"
    );
    app.close();
}

#[test]
fn the_outbox_survives_a_server_restart_and_an_app_restart_without_duplicates() {
    let rt = rt();
    let (srv_dir, app_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut server = rt.block_on(TestServer::start(srv_dir.path(), &[]));
    let addr = server.addr.to_string();
    let bob = rt.block_on(SioClient::login(&server.url, "bob"));
    let b = bob.session.user_id.clone();
    let bob_sid = bob.session.session_id.clone();
    let app = TestApp::new(app_dir.path());
    app.login(&server.url, "alice");

    // Messages flow; the server dies in the middle of them.
    let mut outcomes = Vec::new();
    for i in 0..40 {
        if i == 20 {
            rt.block_on(server.kill());
        }
        outcomes.push(app.send(&b, &format!("m{i}")).unwrap());
    }
    assert!(
        outcomes
            .iter()
            .any(|o| matches!(o, SendOutcome::Queued { .. }))
    );
    app.wait_state("offline", |s| matches!(s, ConnectionState::Offline { .. }));

    // Close the app while offline: the outbox must be on disk.
    app.close();
    let app = TestApp::new(app_dir.path());
    let pending = app.wait_for(
        "outbox",
        |e| matches!(e, AppEvent::Outbox { entries } if !entries.is_empty()),
    );
    let AppEvent::Outbox { entries } = pending else {
        unreachable!()
    };
    assert!(entries.iter().any(|e| e.content == "m39"), "{entries:?}");

    // The server comes back where it was; the app reconnects and flushes by itself.
    let _server = rt.block_on(TestServer::start_at(srv_dir.path(), &addr, &[]));
    app.wait_state("reconnected", |s| *s == ConnectionState::Connected);
    app.wait_for(
        "empty outbox",
        |e| matches!(e, AppEvent::Outbox { entries } if entries.is_empty()),
    );

    let bob = rt.block_on(SioClient::resume(&_server.url, &bob_sid));
    let page: MessagePage = serde_json::from_value(rt.block_on(bob.client.ack(
        event::FETCH_MESSAGES,
        json!({"with": app_user(&bob), "limit": 500}),
    )))
    .unwrap();
    let contents: Vec<&str> = page.messages.iter().map(|m| m.content.as_str()).collect();
    let expected: Vec<String> = (0..40).map(|i| format!("m{i}")).collect();
    assert_eq!(contents, expected, "every message once, in the order typed");
    app.close();
}

/// The userID of the app's user, as bob sees it.
fn app_user(bob: &natter_tests::Login) -> String {
    bob.users
        .iter()
        .find(|u| u.username == "alice")
        .map(|u| u.user_id.clone())
        .expect("alice in bob's list")
}

#[test]
fn with_several_nodes_the_app_moves_to_a_live_one_when_its_node_dies() {
    let rt = rt();
    let redis = rt.block_on(natter_tests::redis::RedisServer::start());
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    // The nodes share one certificate, as an operator's do: trusted once, valid on each.
    let first = rt.block_on(TestServer::start_node(dirs[0].path(), &redis.url, None));
    let mut nodes = vec![first];
    for d in &dirs[1..] {
        let node = rt.block_on(TestServer::start_node(
            d.path(),
            &redis.url,
            Some(&nodes[0]),
        ));
        nodes.push(node);
    }
    let watcher = rt.block_on(SioClient::login(&nodes[2].url, "watcher"));
    let w = watcher.session.user_id.clone();
    let app_dir = tempfile::tempdir().unwrap();
    let app = TestApp::new(app_dir.path());
    // The first address is dead: the login goes to the next one.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let list = format!("{dead}, {}, {}", nodes[0].addr, nodes[1].addr);
    let me = app.login(&list, "alice");
    assert!(matches!(
        app.send(&w, "before").unwrap(),
        SendOutcome::Sent { .. }
    ));

    // Kill the node the app is on: the one whose log shows its session.
    let on = nodes
        .iter()
        .take(2)
        .position(|n| n.log().contains(&me.user_id))
        .expect("a node holds the app's session");
    // Messages flow; the app's node dies in the middle of them.
    let mut killed = None;
    for i in 0..30 {
        if i == 15 {
            killed = Some(Instant::now());
            rt.block_on(nodes[on].kill());
        }
        app.send(&w, &format!("m{i}")).unwrap();
    }
    let killed = killed.unwrap();
    app.wait_state("connected elsewhere", |s| *s == ConnectionState::Connected);
    let failover = killed.elapsed();
    eprintln!("failover took {failover:?}");
    assert!(
        failover < Duration::from_secs(5),
        "failover took {failover:?}"
    );
    app.wait_for(
        "empty outbox",
        |e| matches!(e, AppEvent::Outbox { entries } if entries.is_empty()),
    );

    // Every message is stored once, in the order typed (read from a surviving node).
    let page: MessagePage = serde_json::from_value(rt.block_on(watcher.client.ack(
        event::FETCH_MESSAGES,
        json!({"with": me.user_id, "limit": 100}),
    )))
    .unwrap();
    let contents: Vec<&str> = page.messages.iter().map(|m| m.content.as_str()).collect();
    let expected: Vec<String> = std::iter::once("before".to_owned())
        .chain((0..30).map(|i| format!("m{i}")))
        .collect();
    assert_eq!(contents, expected);
    app.close();
}

#[test]
fn a_server_is_trusted_on_first_contact_and_a_changed_certificate_blocks() {
    let rt = rt();
    let (srv_dir, app_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut server = rt.block_on(TestServer::start(srv_dir.path(), &[]));
    let addr = server.addr.to_string();
    let bob = rt.block_on(SioClient::login(&server.url, "bob"));
    let app = TestApp::new(app_dir.path());

    // Typed without a scheme: https. First contact shows the banner's fingerprint; nothing
    // logs in until the person trusts it.
    app.invoke::<()>(
        command::LOGIN,
        json!({"serverUrl": addr, "username": "alice"}),
    )
    .unwrap();
    let shown = app.wait_state("a certificate to trust", |s| {
        matches!(s, ConnectionState::Untrusted { .. })
    });
    assert_eq!(
        shown,
        ConnectionState::Untrusted {
            fingerprint: server.fingerprint.clone().unwrap(),
            changed: false
        }
    );
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        !server.log().contains("alice"),
        "nothing may be sent before the person trusts the certificate"
    );
    assert_eq!(
        app.invoke::<()>(command::TRUST, json!({"fingerprint": "AB:CD"})),
        Err(AppError::NothingToTrust.to_string()),
        "only the fingerprint shown can be trusted"
    );
    app.invoke::<()>(
        command::TRUST,
        json!({"fingerprint": server.fingerprint.clone().unwrap()}),
    )
    .unwrap();
    let connected = app.wait_for("connected", |e| {
        matches!(
            e,
            AppEvent::Connection {
                state: ConnectionState::Connected,
                ..
            }
        )
    });
    assert!(matches!(
        connected,
        AppEvent::Connection { secure: true, .. }
    ));
    let saved = std::fs::read_to_string(app_dir.path().join("natter.json")).unwrap();
    assert!(
        saved.contains(server.fingerprint.as_deref().unwrap()),
        "{saved}"
    );

    // The server comes back with another certificate: the app refuses to talk to it, keeps
    // its session and what waits in the outbox.
    rt.block_on(server.stop());
    app.wait_state("offline", |s| matches!(s, ConnectionState::Offline { .. }));
    app.send(&bob.session.user_id, "waiting").unwrap();
    for f in ["cert.pem", "key.pem"] {
        std::fs::remove_file(srv_dir.path().join(f)).unwrap();
    }
    let log_before = server.log().len();
    let server = rt.block_on(TestServer::start_at(srv_dir.path(), &addr, &[]));
    let blocked = app.wait_state("changed certificate", |s| {
        matches!(s, ConnectionState::Untrusted { .. })
    });
    let new_fp = server.fingerprint.clone().unwrap();
    assert_eq!(
        blocked,
        ConnectionState::Untrusted {
            fingerprint: new_fp.clone(),
            changed: true
        }
    );
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        !server.log()[log_before..].contains("authenticated"),
        "nothing sent"
    );
    let saved = std::fs::read_to_string(app_dir.path().join("natter.json")).unwrap();
    assert!(
        saved.contains("sessionID") && saved.contains("waiting"),
        "{saved}"
    );

    // Trusting the new one is a deliberate act; then the session resumes and the outbox goes.
    app.invoke::<()>(command::TRUST, json!({"fingerprint": new_fp}))
        .unwrap();
    app.wait_state("resumed", |s| *s == ConnectionState::Connected);
    app.wait_for(
        "empty outbox",
        |e| matches!(e, AppEvent::Outbox { entries } if entries.is_empty()),
    );
    app.close();
}

#[test]
fn a_deployed_fingerprint_is_trusted_without_asking_and_a_locked_address_wins() {
    let rt = rt();
    let (srv_dir, app_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let server = rt.block_on(TestServer::start(srv_dir.path(), &[]));
    let fingerprint = server.fingerprint.clone().unwrap();
    let deployed = natter_protocol::Deployed {
        servers: vec![server.addr.to_string()],
        // As an operator may type it.
        fingerprint: Some(fingerprint.to_lowercase()),
        lock_server: true,
        ..Default::default()
    };
    let app = TestApp::with_deployed(app_dir.path(), deployed.clone());
    assert_eq!(
        app.invoke::<natter_protocol::Deployed>(command::DEPLOYED, json!({})),
        Ok(deployed)
    );
    // Whatever address the page sends, the deployed one is used; and no prompt comes.
    app.invoke::<()>(
        command::LOGIN,
        json!({"serverUrl": "127.0.0.1:9", "username": "alice"}),
    )
    .unwrap();
    let state = app.wait_state("connected or asked to trust", |s| {
        matches!(
            s,
            ConnectionState::Connected | ConnectionState::Untrusted { .. }
        )
    });
    assert_eq!(state, ConnectionState::Connected, "no first-contact prompt");
    let saved = std::fs::read_to_string(app_dir.path().join("natter.json")).unwrap();
    assert!(
        saved.contains(&fingerprint) && saved.contains(&server.addr.to_string()),
        "pinned like a trusted server: {saved}"
    );
    app.close();
}

#[test]
fn a_session_on_another_server_than_the_locked_one_is_not_resumed() {
    let rt = rt();
    let dirs = [(); 3].map(|()| tempfile::tempdir().unwrap());
    let old = rt.block_on(TestServer::start(dirs[0].path(), &[]));
    let office = rt.block_on(TestServer::start(dirs[1].path(), &[]));
    let app = TestApp::new(dirs[2].path());
    let before = app.login(&old.url, "alice");
    app.close();

    // The organisation now locks the app to its server: alice logs in there, as someone new.
    let deployed = natter_protocol::Deployed {
        servers: vec![office.addr.to_string()],
        fingerprint: office.fingerprint.clone(),
        lock_server: true,
        ..Default::default()
    };
    let app = TestApp::with_deployed(dirs[2].path(), deployed);
    app.invoke::<()>(
        command::LOGIN,
        json!({"serverUrl": old.url, "username": "alice"}),
    )
    .unwrap();
    let AppEvent::Session { session } =
        app.wait_for("a session", |e| matches!(e, AppEvent::Session { .. }))
    else {
        unreachable!()
    };
    assert_ne!(
        session.user_id, before.user_id,
        "the old server's session was resumed"
    );
    app.wait_state("connected", |s| *s == ConnectionState::Connected);
    let saved = std::fs::read_to_string(dirs[2].path().join("natter.json")).unwrap();
    assert!(saved.contains(&office.addr.to_string()), "{saved}");
    app.close();
}

#[test]
fn logout_revokes_the_session_on_the_server_and_accounts_sign_in() {
    let rt = rt();
    let (srv_dir, app_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let server = rt.block_on(TestServer::start(srv_dir.path(), &[]));
    let app = TestApp::new(app_dir.path());
    let me = app.login(&server.url, "alice");
    app.invoke::<()>(command::SET_PASSWORD, json!({"password": "correct horse"}))
        .unwrap();
    let wrong = app.invoke::<()>(
        command::SET_PASSWORD,
        json!({"password": "another one", "currentPassword": "nope"}),
    );
    assert!(wrong.is_err(), "{wrong:?}");

    let sid = std::fs::read_to_string(app_dir.path().join("natter.json")).unwrap();
    assert!(sid.contains(&me.user_id));
    app.invoke::<()>(command::LOGOUT, json!({})).unwrap();
    app.wait_state("logged out", |s| *s == ConnectionState::LoggedOut);
    // The server refuses the old session now.
    let old = rt.block_on(SioClient::connect(
        &server.url,
        json!({"sessionID": me.session_id}),
    ));
    assert_eq!(old.err().as_deref(), Some("invalid username"));

    // The same name from the app again needs the password; with it, the same identity.
    app.invoke::<()>(
        command::LOGIN,
        json!({"serverUrl": server.url, "username": "alice"}),
    )
    .unwrap();
    let refused = app.wait_state("refused", |s| matches!(s, ConnectionState::Refused { .. }));
    assert_eq!(
        refused,
        ConnectionState::Refused {
            reason: "password required".into()
        }
    );
    app.invoke::<()>(
        command::LOGIN,
        json!({"serverUrl": server.url, "username": "alice", "password": "correct horse"}),
    )
    .unwrap();
    let again = match app.wait_for("session", |e| matches!(e, AppEvent::Session { .. })) {
        AppEvent::Session { session } => session,
        _ => unreachable!(),
    };
    assert_eq!(again.user_id, me.user_id);
    assert_ne!(again.session_id, me.session_id);
    app.close();
}

#[test]
fn a_redis_outage_keeps_the_session_and_the_outbox() {
    let rt = rt();
    let redis_dir = tempfile::tempdir().unwrap();
    let mut redis = rt.block_on(natter_tests::redis::RedisServer::start_persistent(
        redis_dir.path(),
    ));
    let dirs: Vec<_> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let first = rt.block_on(TestServer::start_node(dirs[0].path(), &redis.url, None));
    let second = rt.block_on(TestServer::start_node(
        dirs[1].path(),
        &redis.url,
        Some(&first),
    ));
    let mut nodes = [first, second];
    let watcher = rt.block_on(SioClient::login(&nodes[1].url, "watcher"));
    let app_dir = tempfile::tempdir().unwrap();
    let app = TestApp::new(app_dir.path());
    let me = app.login(&format!("{}, {}", nodes[0].addr, nodes[1].addr), "alice");
    let on = nodes
        .iter()
        .position(|n| n.log().contains(&me.user_id))
        .expect("a node holds the app's session");

    // Redis goes down, then the app's node dies: the other node can only say "unavailable".
    rt.block_on(redis.stop());
    rt.block_on(nodes[on].kill());
    app.wait_state("offline", |s| matches!(s, ConnectionState::Offline { .. }));
    app.send(&watcher.session.user_id, "written during the outage")
        .unwrap();
    // Several attempts go by, each refused as unavailable: nothing is forgotten.
    for _ in 0..3 {
        app.wait_state("retrying", |s| {
            matches!(s, ConnectionState::Reconnecting { .. })
        });
        app.wait_state("offline again", |s| {
            matches!(s, ConnectionState::Offline { .. })
        });
    }
    let saved = std::fs::read_to_string(app_dir.path().join("natter.json")).unwrap();
    assert!(
        saved.contains(&me.session_id) && saved.contains("written during the outage"),
        "{saved}"
    );

    // Redis is back: the same identity resumes on the live node, and the outbox goes out.
    rt.block_on(redis.start_again());
    let back = match app.wait_for("session", |e| matches!(e, AppEvent::Session { .. })) {
        AppEvent::Session { session } => session,
        _ => unreachable!(),
    };
    assert_eq!(back.user_id, me.user_id);
    app.wait_for(
        "empty outbox",
        |e| matches!(e, AppEvent::Outbox { entries } if entries.is_empty()),
    );
    app.close();
}
