//! The real desktop app in a real window (Xvfb), driven through tauri-driver + WebKitWebDriver,
//! against a real natter-server and a second user on a Rust client.
//!
//! Needs a display, `tauri-driver` on PATH and the built app in `NATTER_APP_BIN`;
//! `scripts/test.sh` provides all three and runs this test with `--ignored`.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use natter_protocol::{Message, event};
use natter_tests::{SioClient, TestServer};
use serde_json::json;
use tokio::process::{Child, Command};

const WAIT: Duration = Duration::from_secs(20);

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// tauri-driver, stopped with SIGTERM (SIGKILL would orphan WebKitWebDriver).
struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    async fn start(home: &Path) -> Driver {
        let (port, native) = (free_port(), free_port());
        let child = Command::new("tauri-driver")
            .args([
                "--port",
                &port.to_string(),
                "--native-port",
                &native.to_string(),
            ])
            // The app keeps its state per OS user: give this run its own.
            .env("XDG_DATA_HOME", home.join("data"))
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env("XDG_CACHE_HOME", home.join("cache"))
            // No mDNS from the app onto the machine's network.
            .env("NATTER_NO_DISCOVERY", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tauri-driver on PATH (scripts/setup.sh installs it)");
        let deadline = Instant::now() + WAIT;
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(Instant::now() < deadline, "tauri-driver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Driver { child, port }
    }

    /// Launches the app in a new window.
    async fn launch(&self, app: &Path) -> Client {
        let caps = json!({
            "browserName": "wry",
            "tauri:options": { "application": app },
        });
        let caps = caps.as_object().cloned().expect("object");
        // tauri-driver listens before its WebKitWebDriver does: the first requests may fail.
        let deadline = Instant::now() + WAIT;
        loop {
            match ClientBuilder::native()
                .capabilities(caps.clone())
                .connect(&format!("http://127.0.0.1:{}", self.port))
                .await
            {
                Ok(client) => return client,
                Err(e) if Instant::now() < deadline => {
                    eprintln!("WebDriver session not ready yet: {e}");
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
                Err(e) => panic!("WebDriver session (is the app built and a display set?): {e}"),
            }
        }
    }

    async fn stop(mut self) {
        self.terminate();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
    }

    fn terminate(&self) {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
    }
}

impl Drop for Driver {
    /// Also on a failed assertion: SIGTERM lets tauri-driver stop WebKitWebDriver and the app.
    fn drop(&mut self) {
        self.terminate();
    }
}

/// Polls `f` until it returns `Some`, or fails the test after [`WAIT`].
async fn eventually<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

async fn find(c: &Client, css: &str) -> Option<Element> {
    c.find(Locator::Css(css)).await.ok()
}

async fn text(c: &Client, css: &str) -> Option<String> {
    find(c, css).await?.text().await.ok()
}

async fn status_contains(c: &Client, word: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        let status = text(c, "[data-testid=status]").await;
        if status
            .as_deref()
            .is_some_and(|t| t.to_lowercase().contains(&word.to_lowercase()))
        {
            return;
        }
        if Instant::now() > deadline {
            let error = text(c, "[data-testid=login-error]").await;
            panic!("status never said `{word}`: status {status:?}, login error {error:?}");
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

async fn type_into(c: &Client, css: &str, value: &str) {
    let el = eventually(css, || find(c, css)).await;
    el.clear().await.ok();
    el.send_keys(value).await.expect("type");
}

/// Waits until the login form is usable: the UI listens to the shell (button enabled) and
/// the username field has taken the focus it asks for.
async fn ready(c: &Client) {
    eventually("login button enabled", || async {
        find(c, "[data-testid=login]")
            .await?
            .is_enabled()
            .await
            .ok()?
            .then_some(())
    })
    .await;
    eventually("username focused", || async {
        let focused = c.active_element().await.ok()?;
        (focused.attr("data-testid").await.ok()?? == "username").then_some(())
    })
    .await;
}

async fn click_when_enabled(c: &Client, css: &str) {
    eventually("enabled", || async {
        find(c, css).await?.is_enabled().await.ok()?.then_some(())
    })
    .await;
    click(c, css).await;
}

async fn click(c: &Client, css: &str) {
    let el = eventually(css, || find(c, css)).await;
    el.click().await.expect("click");
}

/// Ends the WebDriver session and waits until the app has exited: the next launch would
/// otherwise find it still running and, being single-instance, only hand over to it.
async fn close_app(c: Client, app: &Path) {
    c.close().await.ok();
    eventually("the app to exit", || async {
        (!app_running(app)).then_some(())
    })
    .await;
}

/// The app under test: `NATTER_APP_BIN`, built by `tauri build --debug --no-bundle`.
fn app_bin() -> PathBuf {
    let app: PathBuf = std::env::var_os("NATTER_APP_BIN")
        .expect("NATTER_APP_BIN: the app built by `tauri build --debug --no-bundle`")
        .into();
    assert!(app.exists(), "{} is missing", app.display());
    app
}

/// Fills in the login form (server address, name, and a password when given) and submits
/// it, once the page is ready (typing earlier races the username field's autofocus, which
/// takes the keys).
async fn submit_login(c: &Client, addr: &str, name: &str, password: Option<&str>) {
    ready(c).await;
    fill_login(c, addr, name, password).await;
    click_when_enabled(c, "[data-testid=login]").await;
}

/// Types the server address, the name and a password when given into the login form.
async fn fill_login(c: &Client, addr: &str, name: &str, password: Option<&str>) {
    type_into(c, "[data-testid=server-url]", addr).await;
    type_into(c, "[data-testid=username]", name).await;
    if let Some(password) = password {
        type_into(c, "[data-testid=password]", password).await;
    }
}

/// Logs in through the form as `name` (with `password`, an existing account), trusting the
/// server's certificate, until the status says connected.
async fn log_in(c: &Client, server: &TestServer, name: &str, password: Option<&str>) {
    submit_login(c, &server.addr.to_string(), name, password).await;
    click_when_enabled(c, "[data-testid=trust]").await;
    status_contains(c, "connected").await;
}

/// Waits until the login form's error says `words`.
async fn login_error_says(c: &Client, words: &str) {
    eventually(words, || async {
        text(c, "[data-testid=login-error]")
            .await
            .filter(|t| t.contains(words))
    })
    .await;
}

/// Whether a process of the binary `app` runs.
fn app_running(app: &Path) -> bool {
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return false;
    };
    procs
        .flatten()
        .any(|p| std::fs::read_link(p.path().join("exe")).is_ok_and(|exe| exe == app))
}

/// `Some` once the open conversation shows `text` as a message (ours when `from_self`).
async fn shows(c: &Client, from_self: bool, text: &str) -> Option<()> {
    messages(c, from_self)
        .await
        .iter()
        .any(|m| m == text)
        .then_some(())
}

/// The userID of the logged-in person, from their own row.
async fn own_user_id(c: &Client, name: &str) -> String {
    let css = format!("[data-testid=user][data-username={name}]");
    eventually("own row", || async {
        find(c, &css).await?.attr("data-user-id").await.ok()?
    })
    .await
}

/// Texts of the open conversation's messages with `data-from-self` = `from_self`.
async fn messages(c: &Client, from_self: bool) -> Vec<String> {
    let css = format!("[data-testid=message][data-from-self={from_self}][data-message-id] .bubble");
    let mut out = Vec::new();
    for el in c.find_all(Locator::Css(&css)).await.unwrap_or_default() {
        if let Ok(t) = el.text().await {
            out.push(t);
        }
    }
    out
}

/// Captures the app's window from the display (WebKitWebDriver's own screenshot can show a
/// stale frame) to `NATTER_SCREENSHOT`, when set.
async fn save_screenshot() {
    let Some(path) = std::env::var_os("NATTER_SCREENSHOT").map(PathBuf::from) else {
        return;
    };
    // Let the last change paint.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let found = std::process::Command::new("xdotool")
        .args(["search", "--onlyvisible", "--name", "Natter"])
        .output()
        .expect("xdotool");
    let window = String::from_utf8_lossy(&found.stdout)
        .lines()
        .last()
        .map(str::to_owned)
        .expect("the app's window on the display");
    let status = std::process::Command::new("import")
        .args(["-window", &window])
        .arg(&path)
        .status();
    assert!(
        status.is_ok_and(|s| s.success()),
        "screenshot with ImageMagick's `import` failed"
    );
}

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

/// The stand-in desktop services (`tests/desktop_bus.py`) on the session bus of the test run
/// (`dbus-run-session`), and what the app asked of them.
struct DesktopBus {
    child: Child,
    log: PathBuf,
}

impl DesktopBus {
    async fn start(dir: &Path) -> DesktopBus {
        assert!(
            std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
            "no session bus: run under dbus-run-session (scripts/test.sh does)"
        );
        let log = dir.join("bus.jsonl");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("desktop_bus.py");
        // Debian's own Python: python3-dbus and python3-gi are installed for it.
        let child = Command::new("/usr/bin/python3")
            .arg(script)
            .arg(&log)
            .kill_on_drop(true)
            .spawn()
            .expect("python3");
        let bus = DesktopBus { child, log };
        eventually("desktop bus ready", || async {
            bus.calls("ready").is_empty().then_none()
        })
        .await;
        bus
    }

    /// Every recorded call named `call`, oldest first.
    fn calls(&self, call: &str) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["call"] == call)
            .collect()
    }

    /// The labels of the tray's menu, as the desktop's tray shows them.
    async fn tray_labels(&self) -> Vec<String> {
        let out = Command::new("dbus-send")
            .args([
                "--session",
                "--print-reply=literal",
                "--dest=org.freedesktop.Notifications",
                "/org/freedesktop/Notifications",
                "lan.natter.Test.TrayLabels",
            ])
            .output()
            .await
            .expect("dbus-send");
        assert!(out.status.success(), "the tray menu could not be read");
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).expect("a JSON list")
    }

    /// Clicks the tray menu item `label`, as the desktop's tray would.
    async fn click_tray(&self, label: &str) {
        let status = Command::new("dbus-send")
            .args([
                "--session",
                "--print-reply",
                "--dest=org.freedesktop.Notifications",
                "/org/freedesktop/Notifications",
                "lan.natter.Test.ClickTray",
                &format!("string:{label}"),
            ])
            .stdout(Stdio::null())
            .status()
            .await
            .expect("dbus-send");
        assert!(status.success(), "the tray item could not be clicked");
        assert!(
            self.calls("ClickTray").iter().any(|c| c["label"] == label),
            "no tray item `{label}`"
        );
    }

    /// Clicks notification `id` as the daemon reports a click.
    async fn invoke(&self, id: u64, action: &str) {
        let status = Command::new("dbus-send")
            .args([
                "--session",
                "--print-reply",
                "--dest=org.freedesktop.Notifications",
                "/org/freedesktop/Notifications",
                "lan.natter.Test.Invoke",
                &format!("uint32:{id}"),
                &format!("string:{action}"),
            ])
            .stdout(Stdio::null())
            .status()
            .await
            .expect("dbus-send");
        assert!(
            status.success(),
            "the stand-in daemon did not take the click"
        );
    }
}

trait ThenNone {
    fn then_none(self) -> Option<()>;
}

impl ThenNone for bool {
    /// `Some(())` when false: for waiting until something is no longer so.
    fn then_none(self) -> Option<()> {
        (!self).then_some(())
    }
}

impl Drop for DesktopBus {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// The session the app saved (to play the same person on a second device).
fn saved_session(home: &Path) -> String {
    let file = home.join("data/lan.natter.desktop/natter.json");
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&file).expect("natter.json")).expect("json");
    state["session"]["sessionID"]
        .as_str()
        .expect("a saved session")
        .to_owned()
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
    let alice = SioClient::login_with(
        &server.url,
        json!({"username": "alice", "password": "correct horse"}),
    )
    .await;
    let me = alice.session.user_id.clone();
    alice.client.close().await;
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
