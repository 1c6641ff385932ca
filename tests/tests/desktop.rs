//! The real desktop app in a real window (Xvfb), driven through tauri-driver + WebKitWebDriver,
//! against a real natter-server and a second user on a Rust client: logging in, trust,
//! restarts, notifications, the tray, groups, files and search.
//!
//! Needs a display, a session bus, `tauri-driver` on PATH and the built app in
//! `NATTER_APP_BIN`; `scripts/test.sh` provides them and runs this test with `--ignored`.

use fantoccini::Client;
use natter_protocol::{Message, event};
use natter_tests::desktop_bus::DesktopBus;
use natter_tests::window::*;
use natter_tests::{SioClient, TestServer};
use serde_json::json;
use tokio::process::Command;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display, tauri-driver and the built app: scripts/test.sh runs it"]
async fn a_person_logs_in_chats_survives_a_server_restart_and_relaunches() {
    let app = app_bin();
    let (srv_dir, home) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut server = TestServer::start(srv_dir.path(), &[]).await;
    let addr = server.addr.to_string();
    let driver = Driver::start(home.path()).await;
    let c = driver.launch(&app).await;

    submit_login(&c, &addr, "alice", None).await;
    // First contact: the fingerprint the server printed, and nothing sent until trusted.
    let shown = eventually("fingerprint", || text(&c, "[data-testid=fingerprint]")).await;
    assert_eq!(Some(shown.trim()), server.fingerprint.as_deref());
    assert!(!server.log().contains("alice"), "logged in before trusting");
    click(&c, "[data-testid=trust]").await;
    status_contains(&c, "connected").await;
    let secure = eventually("status security", || async {
        find(&c, "[data-testid=status]")
            .await?
            .attr("data-secure")
            .await
            .ok()?
    })
    .await;
    assert_eq!(secure, "true");
    let me = own_user_id(&c, "alice").await;

    // A second person comes online, and writes.
    let mut bob = SioClient::login(&server.url, "bob").await;
    let b = bob.session.user_id.clone();
    let bob_row = format!("[data-testid=user][data-user-id='{b}']");
    eventually("bob online", || async {
        let row = find(&c, &bob_row).await?;
        (row.attr("data-connected").await.ok()?? == "true").then_some(())
    })
    .await;
    bob.client.send(&me, "hello alice").await;
    let badge = format!("{bob_row} [data-testid=unread]");
    eventually("unread badge 1", || async {
        text(&c, &badge).await.filter(|t| t == "1")
    })
    .await;

    // Open the chat: the message is there, the badge gone; reply.
    click(&c, &bob_row).await;
    eventually("bob's message", || shows(&c, false, "hello alice")).await;
    assert!(
        find(&c, &badge).await.is_none(),
        "unread badge stays after opening the chat"
    );
    type_into(&c, "[data-testid=message-input]", "hi bob").await;
    click(&c, "[data-testid=send]").await;
    eventually("acked reply", || shows(&c, true, "hi bob")).await;
    let got: Message =
        serde_json::from_value(bob.client.next(event::PRIVATE_MESSAGE).await).unwrap();
    assert_eq!(
        (got.content.as_str(), got.from.as_str()),
        ("hi bob", me.as_str())
    );
    // More people: one who came and left (offline), one who wrote twice (badge 2).
    let carol = SioClient::login(&server.url, "carol").await;
    let carol_row = format!(
        "[data-testid=user][data-user-id='{}']",
        carol.session.user_id
    );
    eventually("carol online", || find(&c, &carol_row)).await;
    carol.client.close().await;
    eventually("carol offline", || async {
        let row = find(&c, &carol_row).await?;
        (row.attr("data-connected").await.ok()?? == "false").then_some(())
    })
    .await;
    let dave = SioClient::login(&server.url, "dave").await;
    dave.client.send(&me, "lunch at 12?").await;
    dave.client.send(&me, "the usual place").await;
    let dave_badge = format!(
        "[data-testid=user][data-user-id='{}'] [data-testid=unread]",
        dave.session.user_id
    );
    eventually("unread badge 2", || async {
        text(&c, &dave_badge).await.filter(|t| t == "2")
    })
    .await;
    save_screenshot().await;

    // The server goes away: the app says so; it comes back: the app reconnects by itself.
    server.kill().await;
    status_contains(&c, "offline").await;
    let server = TestServer::start_at(srv_dir.path(), &addr, &[]).await;
    status_contains(&c, "connected").await;

    // Close and relaunch: same identity and history, no login form.
    close_app(c, &app).await;
    let c = driver.launch(&app).await;
    status_contains(&c, "connected").await;
    assert!(
        find(&c, "[data-testid=login]").await.is_none(),
        "asked to log in again"
    );
    click(&c, &bob_row).await;
    eventually("history after relaunch", || async {
        let (theirs, mine) = (messages(&c, false).await, messages(&c, true).await);
        (theirs.contains(&"hello alice".to_owned()) && mine.contains(&"hi bob".to_owned()))
            .then_some(())
    })
    .await;
    close_app(c, &app).await;
    driver.stop().await;
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display, tauri-driver and the built app: scripts/test.sh runs it"]
async fn join_password_logout_and_a_changed_certificate_in_the_window() {
    let app = app_bin();
    let (srv_dir, home) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let join = home.path().join("join");
    std::fs::write(&join, "open sesame\n").unwrap();
    let args = ["--join-password-file", join.to_str().unwrap()];
    let mut server = TestServer::start(srv_dir.path(), &args).await;
    let addr = server.addr.to_string();
    let driver = Driver::start(home.path()).await;
    let c = driver.launch(&app).await;

    // Without the join password the server says what is missing.
    submit_login(&c, &addr, "erin", Some("correct horse")).await;
    click(&c, "[data-testid=trust]").await;
    login_error_says(&c, "join password required").await;
    type_into(&c, "[data-testid=join-password]", "open sesame").await;
    click_when_enabled(&c, "[data-testid=login]").await;
    status_contains(&c, "connected").await;

    // Log out: the server revokes the session, the form comes back.
    click(&c, "[data-testid=logout]").await;
    eventually("login form", || find(&c, "[data-testid=login]")).await;
    eventually("revoked on the server", || async {
        server
            .log()
            .contains("session revoked by its owner")
            .then_some(())
    })
    .await;

    // The server is reinstalled with another certificate: the app blocks and says so.
    server.stop().await;
    for f in ["cert.pem", "key.pem"] {
        std::fs::remove_file(srv_dir.path().join(f)).unwrap();
    }
    let log_before = server.log().len();
    let server = TestServer::start_at(srv_dir.path(), &addr, &args).await;
    fill_login(&c, &addr, "erin", Some("correct horse")).await;
    type_into(&c, "[data-testid=join-password]", "open sesame").await;
    click_when_enabled(&c, "[data-testid=login]").await;
    login_error_says(&c, "certificate changed").await;
    let shown = eventually("new fingerprint", || text(&c, "[data-testid=fingerprint]")).await;
    assert_eq!(Some(shown.trim()), server.fingerprint.as_deref());
    assert!(
        !server.log()[log_before..].contains("erin"),
        "sent to a server whose certificate changed"
    );
    // Trusting it is deliberate; then the same account signs in.
    click(&c, "[data-testid=trust]").await;
    status_contains(&c, "connected").await;
    close_app(c, &app).await;
    driver.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display, a session bus, tauri-driver and the built app: scripts/test.sh runs it"]
async fn notifications_tray_receipts_and_typing_in_the_window() {
    let app = app_bin();
    let (srv_dir, home) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let bus = DesktopBus::start(home.path()).await;
    let server = TestServer::start(srv_dir.path(), &[]).await;
    let driver = Driver::start(home.path()).await;
    let c = driver.launch(&app).await;
    log_in(&c, &server, "alice", None).await;
    // The tray icon registered with the desktop's tray.
    eventually("tray icon", || async {
        (!bus.calls("RegisterStatusNotifierItem").is_empty()).then_some(())
    })
    .await;

    let mut bob = SioClient::login(&server.url, "bob").await;
    let carol = SioClient::login(&server.url, "carol").await;
    let (b, cr) = (bob.session.user_id.clone(), carol.session.user_id.clone());
    let me = own_user_id(&c, "alice").await;
    let bob_row = format!("[data-testid=user][data-user-id='{b}']");
    let bob_badge = format!("{bob_row} [data-testid=unread]");
    // Alice looks at Carol's conversation; Bob writes.
    click(&c, &format!("[data-testid=user][data-user-id='{cr}']")).await;
    let first = bob.client.send(&me, "first").await["id"].as_u64().unwrap();
    let shown = eventually("one notification", || async {
        let calls = bus.calls("Notify");
        (!calls.is_empty()).then_some(calls)
    })
    .await;
    assert_eq!(shown.len(), 1, "exactly one Notify: {shown:?}");
    assert_eq!(shown[0]["summary"], "bob");
    assert_eq!(shown[0]["body"], "first");
    assert!(
        shown[0]["actions"]
            .as_array()
            .is_some_and(|a| a.contains(&json!("default"))),
        "clickable: {shown:?}"
    );
    eventually("badge 1", || async {
        text(&c, &bob_badge).await.filter(|t| t == "1")
    })
    .await;
    // The tray says so too, with the connection state.
    eventually("unread in the tray", || async {
        let labels = bus.tray_labels().await;
        labels
            .iter()
            .any(|l| l == "Connected — 1 unread")
            .then_some(())
    })
    .await;

    // Alice reads it on her other computer: the badge here clears.
    let alice2 = SioClient::resume(&server.url, &saved_session(home.path())).await;
    let read = alice2
        .client
        .ack(event::READ, json!({"with": b, "upTo": first}))
        .await;
    assert_eq!(read, json!({"ok": true}));
    eventually("badge cleared by the other device", || async {
        find(&c, &bob_badge).await.is_some().then_none()
    })
    .await;

    // Two more from Bob: one notification, updated, not two stacked.
    bob.client.send(&me, "second").await;
    bob.client.send(&me, "third").await;
    let updated = eventually("updated notification", || async {
        let calls = bus.calls("Notify");
        (calls.len() == 3).then_some(calls)
    })
    .await;
    let (second, third) = (&updated[1], &updated[2]);
    assert_eq!(third["replaces"], second["id"], "{updated:?}");
    assert_eq!(third["summary"], "bob (2 new messages)");
    assert_eq!(third["body"], "third");

    // Clicking it opens Bob's conversation.
    bus.invoke(third["id"].as_u64().unwrap(), "default").await;
    eventually("bob's conversation open", || shows(&c, false, "third")).await;

    // Bob types, then reads what Alice sends him.
    bob.client.emit(event::TYPING, json!({"to": me})).await;
    let typing = eventually("typing shown", || text(&c, "[data-testid=typing]")).await;
    assert_eq!(typing, "bob is typing…");
    eventually("typing gone after 5 s", || async {
        find(&c, "[data-testid=typing]").await.is_some().then_none()
    })
    .await;
    type_into(&c, "[data-testid=message-input]", "see you at 3").await;
    click(&c, "[data-testid=send]").await;
    let mine: Message =
        serde_json::from_value(bob.client.next(event::PRIVATE_MESSAGE).await).unwrap();
    let mine_css = format!("[data-testid=message][data-message-id='{}']", mine.id);
    let status = |c: &Client| {
        let css = mine_css.clone();
        let c = c.clone();
        async move { find(&c, &css).await?.attr("data-status").await.ok()? }
    };
    // Acked in the app (bob may have it a moment before the window shows it), not read yet.
    eventually("sent tick", || async {
        (status(&c).await? == "sent").then_some(())
    })
    .await;
    bob.client
        .ack(event::READ, json!({"with": me, "upTo": mine.id}))
        .await;
    eventually("read receipt", || async {
        (status(&c).await? == "read").then_some(())
    })
    .await;
    save_screenshot().await;

    // Closing the window hides it to the tray: still connected, still notifying.
    let closed = Command::new("wmctrl")
        .args(["-c", "Natter"])
        .status()
        .await
        .expect("wmctrl");
    assert!(
        closed.success(),
        "the window manager could not close the window"
    );
    eventually("window hidden", || async {
        let shown = Command::new("xdotool")
            .args(["search", "--onlyvisible", "--name", "Natter"])
            .output()
            .await
            .expect("xdotool");
        shown.stdout.is_empty().then_some(())
    })
    .await;
    let before = bus.calls("Notify").len();
    bob.client.send(&me, "still there?").await;
    eventually("notified while hidden", || async {
        let calls = bus.calls("Notify");
        (calls.len() > before && calls.last()?["body"] == "still there?").then_some(())
    })
    .await;
    bob.client.assert_no(event::USER_DISCONNECTED).await;
    // The tray's "Quit Natter" ends the app, which says goodbye on the way out (once her
    // other device has gone too, Alice is offline).
    alice2.client.close().await;
    bus.click_tray("Quit Natter").await;
    let gone = bob.client.next(event::USER_DISCONNECTED).await;
    assert_eq!(gone, json!(me));
    close_app(c, &app).await;
    driver.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display, tauri-driver and the built app: scripts/test.sh runs it"]
async fn groups_images_and_search_in_the_window() {
    let app = app_bin();
    let (srv_dir, home) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    // A short login history, so an old message is found only by paging back.
    let server = TestServer::start(srv_dir.path(), &["--history-per-chat", "20"]).await;
    // Alice's account exists before this computer signs in to it; Bob wrote to her long ago.
    let me = existing_account(&server, "alice", "correct horse").await;
    let mut bob = SioClient::login(&server.url, "bob").await;
    let carol = SioClient::login(&server.url, "carol").await;
    let (b, cr) = (bob.session.user_id.clone(), carol.session.user_id.clone());
    let old = bob.client.send(&me, "find me: pineapple 🍍").await["id"]
        .as_u64()
        .expect("stored");
    for i in 0..40 {
        bob.client.send(&me, &format!("filler {i}")).await;
    }

    let driver = Driver::start(home.path()).await;
    let c = driver.launch(&app).await;
    log_in(&c, &server, "alice", Some("correct horse")).await;

    // A new group with Bob and Carol.
    click(&c, "[data-testid=new-group]").await;
    type_into(&c, "[data-testid=group-name]", "Lunch crew").await;
    click(
        &c,
        &format!("[data-testid=group-member][data-user-id='{b}']"),
    )
    .await;
    click(
        &c,
        &format!("[data-testid=group-member][data-user-id='{cr}']"),
    )
    .await;
    click(&c, "[data-testid=create-group]").await;
    let announced = bob.client.next(event::GROUP).await;
    assert_eq!(announced["name"], "Lunch crew");
    let mut members: Vec<&str> = announced["members"]
        .as_array()
        .expect("members")
        .iter()
        .filter_map(|m| m.as_str())
        .collect();
    assert_eq!(members[0], me, "the creator first");
    members.sort_unstable();
    let mut expected = [me.as_str(), b.as_str(), cr.as_str()];
    expected.sort_unstable();
    assert_eq!(members, expected);
    let g = announced["groupID"].as_str().expect("groupID").to_owned();
    let group_row = format!("[data-testid=group][data-group-id='{g}']");
    eventually("the group in the sidebar", || find(&c, &group_row)).await;
    let names = eventually("the member list", || text(&c, "[data-testid=members]")).await;
    assert!(
        names.contains("bob") && names.contains("carol"),
        "members shown: {names}"
    );

    // Dave joins later, added from the group's header.
    let mut dave = SioClient::login(&server.url, "dave").await;
    let d = dave.session.user_id.clone();
    click(&c, "[data-testid=add-people]").await;
    click(&c, &format!("[data-testid=add-member][data-user-id='{d}']")).await;
    click(&c, "[data-testid=add-members]").await;
    let joined = dave.client.next(event::GROUP).await;
    assert_eq!(joined["groupID"], g.as_str());
    eventually("dave in the member list", || async {
        text(&c, "[data-testid=members]")
            .await
            .filter(|m| m.contains("dave"))
    })
    .await;

    // An image dropped on the window goes to the open group, with a preview.
    let picture = home.path().join("beach.png");
    image::RgbImage::from_fn(800, 400, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 200])
    })
    .save(&picture)
    .expect("write the picture");
    // What the window does with a drop of files from the desktop (the drag itself is the
    // window system's and out of WebDriver's reach).
    c.execute(
        "window.__TAURI__.event.emit(arguments[0], {type: 'dropped', paths: [arguments[1]]});",
        vec![json!(natter_protocol::ipc::EVENT), json!(picture)],
    )
    .await
    .expect("drop");
    let delivered = bob.client.next(event::GROUP_MESSAGE).await;
    assert_eq!(delivered["to"], g.as_str());
    assert_eq!(delivered["attachment"]["name"], "beach.png");
    assert_eq!(delivered["attachment"]["type"], "image/png");
    let preview = eventually("the image's preview", || async {
        let img = find(
            &c,
            "[data-testid=attachment][data-type='image/png'] img[data-testid=preview]",
        )
        .await?;
        img.attr("src").await.ok()?
    })
    .await;
    assert!(
        preview.starts_with("data:image/png;base64,"),
        "{preview:.40}"
    );
    // Bob answers in the group: shown there, under his name.
    bob.client
        .ack(
            event::GROUP_MESSAGE,
            json!({"to": g, "content": "nice beach"}),
        )
        .await;
    eventually("bob's group message", || shows(&c, false, "nice beach")).await;
    save_screenshot().await;

    // Search finds the old message; opening it pages back to it.
    // U+E007: WebDriver's Enter key, which submits the search.
    type_into(&c, "[data-testid=search]", "pineapple\u{E007}").await;
    let result = format!("[data-testid=search-result][data-message-id='{old}']");
    eventually("the search result", || async {
        if let Some(error) = text(&c, ".search-error").await {
            panic!("the search failed: {error}");
        }
        find(&c, &result).await
    })
    .await;
    click(&c, &result).await;
    let target = format!("[data-testid=message][data-message-id='{old}']");
    eventually("the old message, loaded and in view", || async {
        let el = find(&c, &target).await?;
        let class = el.attr("class").await.ok()??;
        class.contains("focused").then_some(())
    })
    .await;
    close_app(c, &app).await;
    driver.stop().await;
}
