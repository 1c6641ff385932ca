//! The real desktop app in a real window, for the window tests: tauri-driver (and its
//! WebKitWebDriver) launching the built app, and what a person does in it (log in, click,
//! type, read what a conversation shows).
//!
//! Needs a display, `tauri-driver` on PATH and the built app in `NATTER_APP_BIN`;
//! `scripts/test.sh` provides all three and runs the window tests with `--ignored`.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use tokio::process::{Child, Command};

use crate::{SioClient, TestServer};

/// How long a window test waits for something to show: longer than [`crate::WAIT`], as a
/// window on a loaded machine takes its time to launch and repaint.
pub const WAIT: Duration = Duration::from_secs(20);

/// A loopback port nothing listens on (for tauri-driver and its WebKitWebDriver).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Where the app started by [`Driver::start`] with `home` reads the deployed settings.
pub fn deployed_config(home: &Path) -> PathBuf {
    home.join("desktop.json")
}

/// tauri-driver, stopped with SIGTERM (SIGKILL would orphan WebKitWebDriver).
pub struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    pub async fn start(home: &Path) -> Driver {
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
            // The organisation's settings of this run (none unless a test writes the file),
            // never the machine's own /etc/natter/desktop.json.
            .env("NATTER_DESKTOP_CONFIG", deployed_config(home))
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
    pub async fn launch(&self, app: &Path) -> Client {
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

    pub async fn stop(mut self) {
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
pub async fn eventually<T, F, Fut>(what: &str, mut f: F) -> T
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

pub async fn find(c: &Client, css: &str) -> Option<Element> {
    c.find(Locator::Css(css)).await.ok()
}

pub async fn text(c: &Client, css: &str) -> Option<String> {
    find(c, css).await?.text().await.ok()
}

pub async fn status_contains(c: &Client, word: &str) {
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

pub async fn type_into(c: &Client, css: &str, value: &str) {
    let el = eventually(css, || find(c, css)).await;
    el.clear().await.ok();
    el.send_keys(value).await.expect("type");
}

/// Waits until the login form is usable: the UI listens to the shell (button enabled) and
/// the username field has taken the focus it asks for.
pub async fn ready(c: &Client) {
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

pub async fn click_when_enabled(c: &Client, css: &str) {
    eventually("enabled", || async {
        find(c, css).await?.is_enabled().await.ok()?.then_some(())
    })
    .await;
    click(c, css).await;
}

pub async fn click(c: &Client, css: &str) {
    let el = eventually(css, || find(c, css)).await;
    el.click().await.expect("click");
}

/// Ends the WebDriver session and waits until the app has exited: the next launch would
/// otherwise find it still running and, being single-instance, only hand over to it.
pub async fn close_app(c: Client, app: &Path) {
    c.close().await.ok();
    eventually("the app to exit", || async {
        (!app_running(app)).then_some(())
    })
    .await;
}

/// The app under test: `NATTER_APP_BIN`, built by `tauri build --debug --no-bundle`.
pub fn app_bin() -> PathBuf {
    let app: PathBuf = std::env::var_os("NATTER_APP_BIN")
        .expect("NATTER_APP_BIN: the app built by `tauri build --debug --no-bundle`")
        .into();
    assert!(app.exists(), "{} is missing", app.display());
    app
}

/// Fills in the login form (server address, name, and a password when given) and submits
/// it, once the page is ready (typing earlier races the username field's autofocus, which
/// takes the keys).
pub async fn submit_login(c: &Client, addr: &str, name: &str, password: Option<&str>) {
    ready(c).await;
    fill_login(c, addr, name, password).await;
    click_when_enabled(c, "[data-testid=login]").await;
}

/// Types the server address, the name and a password when given into the login form.
pub async fn fill_login(c: &Client, addr: &str, name: &str, password: Option<&str>) {
    type_into(c, "[data-testid=server-url]", addr).await;
    type_into(c, "[data-testid=username]", name).await;
    if let Some(password) = password {
        type_into(c, "[data-testid=password]", password).await;
    }
}

/// Logs in through the form as `name` (with `password`, an existing account), trusting the
/// server's certificate, until the status says connected.
pub async fn log_in(c: &Client, server: &TestServer, name: &str, password: Option<&str>) {
    submit_login(c, &server.addr.to_string(), name, password).await;
    click_when_enabled(c, "[data-testid=trust]").await;
    status_contains(c, "connected").await;
}

/// Makes the account `name` with `password` on the server (from another client), as if it
/// existed before this computer signs in to it; its userID.
pub async fn existing_account(server: &TestServer, name: &str, password: &str) -> String {
    let login =
        SioClient::login_with(&server.url, json!({"username": name, "password": password})).await;
    let id = login.session.user_id.clone();
    login.client.close().await;
    id
}

/// Waits until the login form's error says `words`.
pub async fn login_error_says(c: &Client, words: &str) {
    eventually(words, || async {
        text(c, "[data-testid=login-error]")
            .await
            .filter(|t| t.contains(words))
    })
    .await;
}

/// Whether a process of the binary `app` runs.
pub fn app_running(app: &Path) -> bool {
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return false;
    };
    procs
        .flatten()
        .any(|p| std::fs::read_link(p.path().join("exe")).is_ok_and(|exe| exe == app))
}

/// `Some` once the open conversation shows `text` as a message (ours when `from_self`).
pub async fn shows(c: &Client, from_self: bool, text: &str) -> Option<()> {
    messages(c, from_self)
        .await
        .iter()
        .any(|m| m == text)
        .then_some(())
}

/// The userID of the logged-in person, from their own row.
pub async fn own_user_id(c: &Client, name: &str) -> String {
    let css = format!("[data-testid=user][data-username={name}]");
    eventually("own row", || async {
        find(c, &css).await?.attr("data-user-id").await.ok()?
    })
    .await
}

/// Texts of the open conversation's messages with `data-from-self` = `from_self`.
pub async fn messages(c: &Client, from_self: bool) -> Vec<String> {
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
pub async fn save_screenshot() {
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

/// The rendered text of `css` (`innerText`): WebKitWebDriver's own text leaves out a line
/// that `text-overflow` may cut, such as a quote's excerpt.
pub async fn inner_text(c: &Client, css: &str) -> Option<String> {
    let found = c
        .execute(
            "const e = document.querySelector(arguments[0]); return e && e.innerText;",
            vec![json!(css)],
        )
        .await
        .ok()?;
    found.as_str().map(|t| t.trim().to_owned())
}

/// For waiting until something is no longer so.
pub trait ThenNone {
    fn then_none(self) -> Option<()>;
}

impl ThenNone for bool {
    /// `Some(())` when false: for waiting until something is no longer so.
    fn then_none(self) -> Option<()> {
        (!self).then_some(())
    }
}

/// The session the app saved (to play the same person on a second device).
pub fn saved_session(home: &Path) -> String {
    let file = home.join("data/lan.natter.desktop/natter.json");
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&file).expect("natter.json")).expect("json");
    state["session"]["sessionID"]
        .as_str()
        .expect("a saved session")
        .to_owned()
}
