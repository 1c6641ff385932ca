//! Everyday messaging in the real window (Xvfb, tauri-driver + WebKitWebDriver), against a
//! real natter-server with Bob and Carol on Rust clients: reply and jump to the original,
//! edit with ↑, react and take it back, delete with a confirmation, text that looks like HTML
//! stays text, a mention in a muted group notifies, a deleted message takes its notification
//! away, the status menu, busy silencing notifications, and away by itself when the desktop
//! is idle.
//!
//! Needs a display, a session bus, `tauri-driver` on PATH and the built app in
//! `NATTER_APP_BIN`; `scripts/test.sh` provides them and runs this test with `--ignored`.

use fantoccini::Client;
use fantoccini::elements::Element;
use natter_protocol::{Message, event};
use natter_tests::desktop_bus::DesktopBus;
use natter_tests::window::*;
use natter_tests::{SioClient, TestServer};
use serde_json::{Value, json};

/// WebDriver's keys.
const ENTER: &str = "\u{E007}";
const ARROW_UP: &str = "\u{E013}";
const ESCAPE: &str = "\u{E00C}";
/// Ctrl+A (select all), then Backspace, as a person empties a field.
const SELECT_ALL_AND_ERASE: &str = "\u{E009}a\u{E000}\u{E003}";

fn row(id: u64) -> String {
    format!("[data-testid=message][data-message-id='{id}']")
}

/// A message row's attribute `name`.
async fn row_attr(c: &Client, id: u64, name: &str) -> Option<String> {
    find(c, &row(id)).await?.attr(name).await.ok()?
}

/// Waits until message `id` has `name` = `value`.
async fn row_has(c: &Client, id: u64, name: &str, value: &str) {
    eventually(&format!("message {id} with {name}={value}"), || async {
        (row_attr(c, id, name).await? == value).then_some(())
    })
    .await;
}

/// Gives message `id` the keyboard focus, as Tab would, which shows its actions.
async fn focus_row(c: &Client, id: u64) {
    let css = row(id);
    let el = eventually("the message's row", || find(c, &css)).await;
    c.execute("arguments[0].focus();", vec![json!(el)])
        .await
        .expect("focus the row");
}

/// Clicks the action `action` (reply, react, edit, delete) of message `id`.
async fn act(c: &Client, id: u64, action: &str) {
    focus_row(c, id).await;
    click(c, &format!("{} [data-testid={action}]", row(id))).await;
}

/// The reaction chip `emoji` under message `id`: (count, mine).
async fn chip(c: &Client, id: u64, emoji: &str) -> Option<(String, String)> {
    let el = find(
        c,
        &format!("{} [data-testid=reaction][data-emoji='{emoji}']", row(id)),
    )
    .await?;
    Some((
        el.attr("data-count").await.ok()??,
        el.attr("data-mine").await.ok()??,
    ))
}

async fn chip_is(c: &Client, id: u64, emoji: &str, count: &str, mine: bool) {
    let want = (count.to_owned(), mine.to_string());
    eventually(&format!("{emoji} × {count} (mine: {mine})"), || async {
        (chip(c, id, emoji).await? == want).then_some(())
    })
    .await;
}

/// Types `path` into the desktop's save dialog titled `title` and confirms it, as a person
/// would (the dialog is GTK's, outside the webview and WebDriver's reach).
async fn save_in_dialog(title: &str, path: &std::path::Path) {
    let window = eventually("the save dialog", || async {
        let out = tokio::process::Command::new("xdotool")
            .args(["search", "--onlyvisible", "--name", title])
            .output()
            .await
            .ok()?;
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .map(str::to_owned)
    })
    .await;
    let path = path.display().to_string();
    for args in [
        vec!["windowactivate", "--sync", window.as_str()],
        vec!["key", "--clearmodifiers", "ctrl+a"],
        vec!["type", "--delay", "20", path.as_str()],
        vec!["key", "Return"],
    ] {
        let done = tokio::process::Command::new("xdotool")
            .args(&args)
            .status()
            .await
            .expect("xdotool");
        assert!(done.success(), "xdotool {args:?}");
    }
}

/// Empties the field `css` with the keyboard (WebDriver's clear sends no `input` event).
async fn clear_field(c: &Client, css: &str) {
    let el = eventually(css, || find(c, css)).await;
    el.send_keys(SELECT_ALL_AND_ERASE).await.expect("erase");
}

async fn composer(c: &Client) -> Element {
    eventually("the composer", || find(c, "[data-testid=message-input]")).await
}

/// The composer's text as it stands.
async fn draft(c: &Client) -> String {
    composer(c)
        .await
        .prop("value")
        .await
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// The text of the bubble of message `id`.
async fn bubble(c: &Client, id: u64) -> Option<String> {
    text(c, &format!("{} .bubble", row(id))).await
}

/// Waits for the notification whose text is `body`.
async fn notified(bus: &DesktopBus, body: &str) -> Value {
    eventually(&format!("a notification saying `{body}`"), || async {
        bus.calls("Notify").into_iter().find(|n| n["body"] == body)
    })
    .await
}

fn never_notified(bus: &DesktopBus, body: &str) {
    let shown = bus.calls("Notify");
    assert!(
        !shown.iter().any(|n| n["body"] == body),
        "`{body}` raised a notification: {shown:?}"
    );
}

/// Chooses `state` in the status menu (with `text`, when given) and waits until the menu says
/// so: by then the app has taken it for its notification rules too.
async fn choose_status(c: &Client, state: &str, text: Option<&str>) {
    click(c, "[data-testid=status-menu]").await;
    if let Some(text) = text {
        type_into(c, "[data-testid=status-text]", text).await;
    }
    click(
        c,
        &format!("[data-testid=status-option][data-state={state}]"),
    )
    .await;
    eventually(&format!("status {state} in the menu"), || async {
        let el = find(c, "[data-testid=status-menu]").await?;
        (el.attr("data-state").await.ok()?? == state).then_some(())
    })
    .await;
}

/// Bob's next `status` event: (state, text).
async fn next_status(bob: &mut SioClient) -> (String, Option<String>) {
    let s = bob.next(event::STATUS).await;
    (
        s["state"].as_str().expect("state").to_owned(),
        s["text"].as_str().map(str::to_owned),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display, a session bus, tauri-driver and the built app: scripts/test.sh runs it"]
async fn everyday_messaging_in_the_window() {
    let app = app_bin();
    let (srv_dir, home) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let bus = DesktopBus::start(home.path()).await;
    // A short login history: the original of a reply is found only by paging back.
    let server = TestServer::start(srv_dir.path(), &["--history-per-chat", "20"]).await;
    let me = existing_account(&server, "alice", "correct horse").await;
    let mut bob = SioClient::login(&server.url, "bob").await;
    let carol = SioClient::login(&server.url, "carol").await;
    let b = bob.session.user_id.clone();
    let original = bob.client.send(&me, "where do we eat?").await["id"]
        .as_u64()
        .expect("stored");
    for i in 0..25 {
        bob.client.send(&me, &format!("filler {i}")).await;
    }
    let question: Message = serde_json::from_value(
        bob.client
            .ack(
                event::PRIVATE_MESSAGE,
                json!({"to": me, "content": "the usual place?", "replyTo": original}),
            )
            .await,
    )
    .expect("stored");

    let driver = Driver::start(home.path()).await;
    let c = driver.launch(&app).await;
    log_in(&c, &server, "alice", Some("correct horse")).await;
    click(&c, &format!("[data-testid=user][data-user-id='{b}']")).await;
    eventually("bob's question", || shows(&c, false, "the usual place?")).await;

    // The reply shows what it answers; a click pages back to the original.
    let quote = format!("{} [data-testid=reply-quote]", row(question.id));
    let quoted = eventually("the quote", || inner_text(&c, &quote)).await;
    assert_eq!(quoted, "bob\nwhere do we eat?");
    assert!(
        find(&c, &row(original)).await.is_none(),
        "the original is older than the loaded page"
    );
    click(&c, &quote).await;
    eventually("the original, loaded and in view", || async {
        row_attr(&c, original, "class")
            .await?
            .contains("focused")
            .then_some(())
    })
    .await;

    // Alice answers the question.
    act(&c, question.id, "reply").await;
    let replying = eventually("the replying banner", || {
        text(&c, "[data-testid=replying] span")
    })
    .await;
    assert!(replying.contains("the usual place?"), "{replying}");
    type_into(&c, "[data-testid=message-input]", "on my way").await;
    click(&c, "[data-testid=send]").await;
    let answer: Message =
        serde_json::from_value(bob.client.next(event::PRIVATE_MESSAGE).await).expect("a message");
    assert_eq!(answer.content, "on my way");
    let to = answer.reply_to.as_ref().expect("a reply");
    assert_eq!(
        (to.id, to.excerpt.as_deref()),
        (question.id, Some("the usual place?"))
    );
    let answer_quote = format!("{} [data-testid=reply-quote]", row(answer.id));
    eventually("alice's reply with its quote", || find(&c, &answer_quote)).await;
    assert!(
        find(&c, "[data-testid=replying]").await.is_none(),
        "sent: no longer replying"
    );

    // ↑ in the empty composer edits it; Esc leaves it as it was; ↑ again, and Enter saves.
    composer(&c).await.send_keys(ARROW_UP).await.expect("↑");
    eventually("the editing banner", || find(&c, "[data-testid=editing]")).await;
    assert_eq!(draft(&c).await, "on my way");
    composer(&c).await.send_keys(ESCAPE).await.expect("Esc");
    eventually("editing cancelled", || async {
        find(&c, "[data-testid=editing]")
            .await
            .is_some()
            .then_none()
    })
    .await;
    assert_eq!(draft(&c).await, "", "Esc empties the composer");
    composer(&c).await.send_keys(ARROW_UP).await.expect("↑");
    eventually("editing again", || find(&c, "[data-testid=editing]")).await;
    composer(&c)
        .await
        .send_keys(&format!(" now{ENTER}"))
        .await
        .expect("type and save");
    let edited = bob.client.next(event::MESSAGE_EDITED).await;
    assert_eq!(edited["id"], answer.id);
    assert_eq!(edited["content"], "on my way now");
    row_has(&c, answer.id, "data-edited", "true").await;
    let meta = text(&c, &format!("{} .meta", row(answer.id))).await;
    assert!(
        meta.as_deref().is_some_and(|m| m.contains("(edited)")),
        "{meta:?}"
    );
    eventually("the new text", || async {
        (bubble(&c, answer.id).await? == "on my way now").then_some(())
    })
    .await;

    // Bob likes it; Alice adds hers with the chip and takes it back.
    let like = json!({"id": answer.id, "emoji": "👍", "on": true});
    assert_eq!(bob.client.ack(event::REACT, like).await["ok"], true);
    chip_is(&c, answer.id, "👍", "1", false).await;
    let thumbs = format!("{} [data-testid=reaction][data-emoji='👍']", row(answer.id));
    for (on, count) in [(true, "2"), (false, "1")] {
        click(&c, &thumbs).await;
        let change = bob.client.next(event::REACTION).await;
        assert_eq!(
            (&change["userID"], &change["on"], &change["emoji"]),
            (&json!(me), &json!(on), &json!("👍"))
        );
        chip_is(&c, answer.id, "👍", count, on).await;
    }
    // And reacts to Bob's question from the picker.
    act(&c, question.id, "react").await;
    eventually("the emoji picker", || {
        find(&c, "[data-testid=emoji-picker]")
    })
    .await;
    click(&c, "[data-testid=emoji-option][data-emoji='🎉']").await;
    let party = bob.client.next(event::REACTION).await;
    assert_eq!(
        (&party["id"], &party["emoji"], &party["on"]),
        (&json!(question.id), &json!("🎉"), &json!(true))
    );
    chip_is(&c, question.id, "🎉", "1", true).await;

    // Bob changes his question: the window follows.
    let change = json!({"id": question.id, "content": "the **new** place?"});
    assert_eq!(
        bob.client.ack(event::EDIT_MESSAGE, change).await["ok"],
        true
    );
    row_has(&c, question.id, "data-edited", "true").await;
    eventually("bob's new text, formatted", || async {
        let strong = text(&c, &format!("{} .bubble strong", row(question.id))).await?;
        (strong == "new").then_some(())
    })
    .await;
    // Alice's reply quotes it as it reads now, in words.
    eventually("the quote follows the edit", || async {
        (inner_text(&c, &answer_quote).await? == "bob\nthe new place?").then_some(())
    })
    .await;

    // What looks like HTML is shown as typed, and nothing of it runs or loads.
    let html = "look: <script>window.__pwned = 1</script> <img src=x onerror=\"window.__pwned = 2\"> and `code`";
    let sneaky = bob.client.send(&me, html).await["id"]
        .as_u64()
        .expect("stored");
    let shown = eventually("the HTML-looking message", || bubble(&c, sneaky)).await;
    assert!(
        shown.contains("<script>window.__pwned = 1</script>")
            && shown.contains("<img src=x onerror=\"window.__pwned = 2\">"),
        "shown as text: {shown}"
    );
    let ran = c
        .execute(
            "return [typeof window.__pwned, document.querySelectorAll(arguments[0]).length];",
            vec![json!(format!(
                "{} img, {} script",
                row(sneaky),
                row(sneaky)
            ))],
        )
        .await
        .expect("look at the page");
    assert_eq!(
        ran,
        json!(["undefined", 0]),
        "markup ran or became elements"
    );
    assert_eq!(
        text(&c, &format!("{} .bubble code", row(sneaky)))
            .await
            .as_deref(),
        Some("code")
    );

    // Scrolled down to it, as a person would, for the picture.
    let sneaky_row = row(sneaky);
    let el = eventually("the HTML-looking row", || find(&c, &sneaky_row)).await;
    c.execute("arguments[0].scrollIntoView(false);", vec![json!(el)])
        .await
        .expect("scroll");
    save_screenshot().await;

    // Alice deletes her answer, after saying yes.
    act(&c, answer.id, "delete").await;
    eventually("the confirmation", || {
        find(&c, "[data-testid=confirm-delete]")
    })
    .await;
    assert_eq!(
        row_attr(&c, answer.id, "data-deleted").await.as_deref(),
        Some("false"),
        "nothing is deleted before the yes"
    );
    click(&c, "[data-testid=confirm-delete-yes]").await;
    let deleted = bob.client.next(event::MESSAGE_DELETED).await;
    assert_eq!(deleted["id"], answer.id);
    row_has(&c, answer.id, "data-deleted", "true").await;
    assert_eq!(
        bubble(&c, answer.id).await.as_deref(),
        Some("Message deleted")
    );
    assert!(
        find(
            &c,
            &format!("{} [data-testid=message-actions]", row(answer.id))
        )
        .await
        .is_none(),
        "a deleted message has no actions"
    );

    // Carol's message notifies; deleting it takes the notification away.
    let oops = carol.client.send(&me, "wrong chat, sorry").await["id"]
        .as_u64()
        .expect("stored");
    let shown = notified(&bus, "wrong chat, sorry").await;
    let gone = json!({"id": oops});
    assert_eq!(
        carol.client.ack(event::DELETE_MESSAGE, gone).await,
        json!({"ok": true})
    );
    eventually("the notification closed", || async {
        bus.calls("CloseNotification")
            .iter()
            .any(|n| n["id"] == shown["id"])
            .then_some(())
    })
    .await;

    // A group Alice mutes: its news stay quiet, a mention of her does not.
    let group = carol
        .client
        .ack(
            event::CREATE_GROUP,
            json!({"name": "Ops", "members": [me, b]}),
        )
        .await;
    let g = group["groupID"].as_str().expect("created").to_owned();
    bob.client.next(event::GROUP).await;
    let group_row = format!("[data-testid=group][data-group-id='{g}']");
    click(&c, &group_row).await;
    click(&c, "[data-testid=mute]").await;
    click(&c, "[data-testid=notify-nothing]").await;
    eventually("the group muted", || async {
        let el = find(&c, "[data-testid=mute]").await?;
        (el.attr("data-muted").await.ok()?? == "true").then_some(())
    })
    .await;
    click(&c, &format!("[data-testid=user][data-user-id='{b}']")).await;
    let news = json!({"to": g, "content": "deploy at 5"});
    carol.client.ack(event::GROUP_MESSAGE, news).await;
    let call = json!({"to": g, "content": "@alice can you check?", "mentions": [me]});
    carol.client.ack(event::GROUP_MESSAGE, call).await;
    notified(&bus, "@alice can you check?").await;
    never_notified(&bus, "deploy at 5");
    eventually("the @ badge", || async {
        let badge = find(&c, &format!("{group_row} [data-testid=unread]")).await?;
        (badge.attr("data-mentions").await.ok()?? == "1").then_some(())
    })
    .await;

    // Alice mentions Bob from the picker.
    click(&c, &group_row).await;
    composer(&c).await.send_keys("@bo").await.expect("type");
    click(
        &c,
        &format!("[data-testid=mention-option][data-user-id='{b}']"),
    )
    .await;
    assert_eq!(draft(&c).await, "@bob ");
    composer(&c)
        .await
        .send_keys(&format!("ready?{ENTER}"))
        .await
        .expect("type and send");
    // (Bob has Carol's two first.)
    let called = loop {
        let m = bob.client.next(event::GROUP_MESSAGE).await;
        if m["from"] == me.as_str() {
            break m;
        }
    };
    assert_eq!(called["content"], "@bob ready?", "{called}");
    assert_eq!(called["mentions"], json!([b]), "{called}");

    // The status menu: everyone sees it; busy silences everything, mentions too.
    choose_status(&c, "away", Some("at lunch")).await;
    assert_eq!(
        next_status(&mut bob.client).await,
        ("away".into(), Some("at lunch".into()))
    );
    choose_status(&c, "busy", None).await;
    // The text stays with the state until it is cleared.
    assert_eq!(next_status(&mut bob.client).await.0, "busy");
    click(&c, &format!("[data-testid=user][data-user-id='{b}']")).await;
    carol.client.send(&me, "are you there?").await;
    let call = json!({"to": g, "content": "@alice now?", "mentions": [me]});
    carol.client.ack(event::GROUP_MESSAGE, call).await;
    click(&c, "[data-testid=status-menu]").await;
    clear_field(&c, "[data-testid=status-text]").await;
    click(&c, "[data-testid=status-option][data-state=available]").await;
    assert_eq!(
        next_status(&mut bob.client).await,
        ("available".into(), None)
    );
    carol.client.send(&me, "back?").await;
    notified(&bus, "back?").await;
    never_notified(&bus, "are you there?");
    never_notified(&bus, "@alice now?");

    // Bob's status shows on his row.
    let away = json!({"state": "away"});
    assert_eq!(
        bob.client.ack(event::SET_STATUS, away).await,
        json!({"ok": true})
    );
    eventually("bob away on his row", || async {
        let el = find(&c, &format!("[data-testid=user][data-user-id='{b}']")).await?;
        (el.attr("data-status").await.ok()?? == "away").then_some(())
    })
    .await;

    // Ten minutes without input on the desktop: away by itself, and back on the next input.
    bus.set_idle(10 * 60 + 1).await;
    assert_eq!(next_status(&mut bob.client).await.0, "away");
    eventually("away in the menu", || async {
        let el = find(&c, "[data-testid=status-menu]").await?;
        (el.attr("data-state").await.ok()?? == "away").then_some(())
    })
    .await;
    bus.set_idle(0).await;
    assert_eq!(next_status(&mut bob.client).await.0, "available");

    // Bob's conversation saved through the desktop's save dialog, as a page and as JSON.
    click(&c, &format!("[data-testid=user][data-user-id='{b}']")).await;
    let saved_at = home.path().join("bob-export.html");
    click(&c, "[data-testid=export]").await;
    save_in_dialog("Export conversation", &saved_at).await;
    let said = eventually("the export's result", || {
        text(&c, "[data-testid=export-result]")
    })
    .await;
    assert_eq!(said, format!("Saved to {}", saved_at.display()));
    let page = std::fs::read_to_string(&saved_at).expect("the page");
    assert!(
        page.contains("the <strong>new</strong> place?"),
        "rendered as in the window"
    );
    assert!(page.contains("&lt;script&gt;window.__pwned = 1&lt;/script&gt;"));
    assert!(!page.contains("<script"), "no script in the page");
    assert!(page.contains("Message deleted"));
    let data: serde_json::Value =
        serde_json::from_slice(&std::fs::read(saved_at.with_extension("json")).expect("the JSON"))
            .expect("JSON");
    let n = data["messages"].as_array().map_or(0, Vec::len);
    assert!(n >= 28, "the whole conversation, paged back: {n} messages");
    assert_eq!(data["messages"][0]["content"], "where do we eat?");

    // The operator's announcement: a banner, and a notification even under do-not-disturb.
    click(&c, "[data-testid=settings]").await;
    click(&c, "[data-testid=dnd]").await;
    let prefs = home.path().join("data/lan.natter.desktop/preferences.json");
    eventually("do-not-disturb saved", || async {
        let saved = std::fs::read_to_string(&prefs).ok()?;
        saved.contains("\"doNotDisturb\": true").then_some(())
    })
    .await;
    let (ok, out, err) = server.admin(&["announce", "Fire drill at 11:00"], "").await;
    assert!(ok, "{out}{err}");
    let shown = notified(&bus, "Fire drill at 11:00").await;
    assert_eq!(shown["summary"], "Announcement");
    let banner = eventually("the banner", || {
        text(&c, "[data-testid=announcement] .text")
    })
    .await;
    assert_eq!(banner, "Fire drill at 11:00");
    click(&c, "[data-testid=dismiss-announcement]").await;
    eventually("the banner dismissed", || async {
        find(&c, "[data-testid=announcement]")
            .await
            .is_some()
            .then_none()
    })
    .await;
    eventually("the dismissal kept", || async {
        let saved = std::fs::read_to_string(&prefs).ok()?;
        saved.contains("dismissedAnnouncements").then_some(())
    })
    .await;
    close_app(c, &app).await;
    driver.stop().await;
}
