//! What lets people leave Natter running all day: the tray, notifications (the freedesktop
//! D-Bus interface, through notify-rust), the window title and urgency hint, and the
//! preferences that govern them.
//!
//! It watches the same [`AppEvent`]s the UI gets (names, our own identity, messages, read
//! markers, the connection state), so notifications work while the window is hidden and the
//! page does nothing.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use natter_protocol::ipc::{AppEvent, ConnectionState, EVENT, Preferences};
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Emitter, Manager, Runtime, UserAttentionType};
use tokio::sync::mpsc;

/// The main window's label, as in `tauri.conf.json`.
pub const MAIN_WINDOW: &str = "main";
const TRAY: &str = "main";
/// Preferences file, next to the state file in the app data dir.
pub const PREFERENCES_FILE: &str = "preferences.json";
/// How much of a message a notification shows.
const PREVIEW_CHARS: usize = 120;

/// Whether a message from `from` should raise a notification.
pub fn should_notify(
    prefs: &Preferences,
    from: &str,
    window_in_front: bool,
    viewing: Option<&str>,
) -> bool {
    let read_right_there = window_in_front && viewing == Some(from);
    !(prefs.do_not_disturb || prefs.muted.contains(from) || read_right_there)
}

/// A notification's title and text for `count` messages from `name`, the newest `content`.
pub fn notification_text(
    prefs: &Preferences,
    name: &str,
    count: u32,
    content: &str,
) -> (String, String) {
    let summary = if count > 1 {
        format!("{name} ({count} new messages)")
    } else {
        name.to_owned()
    };
    let body = if prefs.hide_text {
        "New message".to_owned()
    } else {
        let mut preview: String = content.chars().take(PREVIEW_CHARS).collect();
        if content.chars().count() > PREVIEW_CHARS {
            preview.push('…');
        }
        preview
    };
    (summary, body)
}

/// One sender's notification: replaced by their next message, not stacked.
struct Shown {
    id: u32,
    count: u32,
}

#[derive(Default)]
struct Inner {
    me: Option<String>,
    names: HashMap<String, String>,
    viewing: Option<String>,
    prefs: Preferences,
    shown: HashMap<String, Shown>,
    unread: u32,
    status: String,
}

/// A notification to show.
struct Pending {
    from: String,
    name: String,
    content: String,
}

/// Shows notifications one after the other, so the next message of a sender replaces the
/// notification of the previous one (whose id is known only once the daemon answered).
async fn show_in_order<R: Runtime>(app: AppHandle<R>, mut rx: mpsc::UnboundedReceiver<Pending>) {
    listen_for_clicks(app.clone()).await;
    while let Some(p) = rx.recv().await {
        let Some(desktop) = app.try_state::<Desktop>() else {
            return;
        };
        let (replaces, count, prefs) = {
            let inner = desktop.lock();
            match inner.shown.get(&p.from) {
                Some(s) => (Some(s.id), s.count + 1, inner.prefs.clone()),
                None => (None, 1, inner.prefs.clone()),
            }
        };
        let (summary, body) = notification_text(&prefs, &p.name, count, &p.content);
        let mut n = notify_rust::Notification::new();
        n.appname("Natter")
            .summary(&summary)
            .body(&body)
            .icon("mail-message-new")
            .action("default", "Open");
        if let Some(id) = replaces {
            n.id(id);
        }
        let handle = match n.show_async().await {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!(error = %e, "could not show a notification");
                continue;
            }
        };
        let shown = Shown {
            id: handle.id(),
            count,
        };
        desktop.lock().shown.insert(p.from, shown);
    }
}

/// Opens the conversation of a notification the person clicks, for the app's life. Subscribed
/// before the first notification is shown, so no click can come before it listens.
async fn listen_for_clicks<R: Runtime>(app: AppHandle<R>) -> Option<()> {
    let conn = zbus::Connection::session()
        .await
        .inspect_err(|e| tracing::warn!(error = %e, "no session bus: notifications cannot open"))
        .ok()?;
    let rule = zbus::MatchRule::builder()
        .msg_type(zbus::message::Type::Signal)
        .interface("org.freedesktop.Notifications")
        .member("ActionInvoked")
        .build()
        .ok()?;
    let mut clicks = zbus::MessageStream::for_match_rule(rule, &conn, None)
        .await
        .inspect_err(|e| tracing::warn!(error = %e, "cannot hear notification clicks"))
        .ok()?;
    tauri::async_runtime::spawn(async move {
        use futures_util::StreamExt;
        while let Some(Ok(msg)) = clicks.next().await {
            let Ok((id, action)) = msg.body().deserialize::<(u32, String)>() else {
                continue;
            };
            tracing::debug!(id, action, "notification clicked");
            if action != "default" {
                continue;
            }
            let Some(desktop) = app.try_state::<Desktop>() else {
                return;
            };
            let from = desktop
                .lock()
                .shown
                .iter()
                .find(|(_, s)| s.id == id)
                .map(|(from, _)| from.clone());
            if let Some(from) = from {
                open_conversation(&app, &from);
            }
        }
    });
    Some(())
}

/// Sets the text of the tray menu's status line.
type StatusLine = Box<dyn Fn(&str) + Send + Sync>;

pub struct Desktop {
    inner: Mutex<Inner>,
    prefs_path: PathBuf,
    status_line: Mutex<Option<StatusLine>>,
    /// Feeds [`show_in_order`]; started with the first notification.
    queue: Mutex<Option<mpsc::UnboundedSender<Pending>>>,
    /// Whether the main window has the focus.
    focused: AtomicBool,
}

impl Desktop {
    pub fn new(prefs_path: PathBuf) -> Self {
        let prefs = std::fs::read(&prefs_path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        Self {
            inner: Mutex::new(Inner {
                prefs,
                status: "Not logged in".into(),
                ..Inner::default()
            }),
            prefs_path,
            status_line: Mutex::new(None),
            queue: Mutex::new(None),
            focused: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn preferences(&self) -> Preferences {
        self.lock().prefs.clone()
    }

    /// Saves new preferences (atomically) and applies the start-at-login choice.
    pub fn set_preferences<R: Runtime>(
        &self,
        app: &AppHandle<R>,
        prefs: Preferences,
    ) -> std::io::Result<()> {
        let bytes = serde_json::to_vec_pretty(&prefs).map_err(std::io::Error::other)?;
        if let Some(dir) = self.prefs_path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        crate::persist::replace_file(&self.prefs_path, &bytes)?;
        apply_autostart(app, prefs.autostart);
        self.lock().prefs = prefs;
        Ok(())
    }

    pub fn set_viewing(&self, with: Option<String>) {
        self.lock().viewing = with;
    }

    /// Builds the tray: open, the connection state, quit.
    pub fn build_tray<R: Runtime>(&self, app: &AppHandle<R>) -> tauri::Result<()> {
        let open = MenuItem::with_id(app, "open", "Open Natter", true, None::<&str>)?;
        let status = MenuItem::with_id(app, "status", "Not logged in", false, None::<&str>)?;
        let separator = PredefinedMenuItem::separator(app)?;
        let quit = MenuItem::with_id(app, "quit", "Quit Natter", true, None::<&str>)?;
        let menu = Menu::with_items(app, &[&open, &status, &separator, &quit])?;
        let mut tray = TrayIconBuilder::with_id(TRAY)
            .tooltip("Natter")
            .menu(&menu)
            .on_menu_event(|app, event| match event.id().as_ref() {
                "open" => show_main(app),
                "quit" => app.exit(0),
                _ => {}
            });
        if let Some(icon) = app.default_window_icon() {
            tray = tray.icon(icon.clone());
        }
        tray.build(app)?;
        let set: StatusLine = Box::new(move |text| {
            let _ = status.set_text(text);
        });
        *self.status_line.lock().unwrap_or_else(|p| p.into_inner()) = Some(set);
        Ok(())
    }

    /// The unread total from the UI: window title, tray, urgency hint.
    pub fn set_unread<R: Runtime>(&self, app: &AppHandle<R>, unread: u32) {
        let grew = {
            let mut inner = self.lock();
            let grew = unread > inner.unread;
            inner.unread = unread;
            grew
        };
        let focused = self.focused.load(Ordering::Relaxed);
        on_main_thread(app, move |app| {
            let Some(w) = app.get_webview_window(MAIN_WINDOW) else {
                return;
            };
            let title = if unread > 0 {
                format!("({unread}) Natter")
            } else {
                "Natter".to_owned()
            };
            let _ = w.set_title(&title);
            if unread == 0 {
                let _ = w.request_user_attention(None);
            } else if grew && !focused {
                let _ = w.request_user_attention(Some(UserAttentionType::Informational));
            }
        });
        self.refresh_tray(app);
    }

    /// The main window's focus, from its window events: asking the window instead would make
    /// the connection manager's task wait for the main thread.
    pub fn set_focused(&self, focused: bool) {
        self.focused.store(focused, Ordering::Relaxed);
    }

    fn refresh_tray<R: Runtime>(&self, app: &AppHandle<R>) {
        let (status, unread) = {
            let inner = self.lock();
            (inner.status.clone(), inner.unread)
        };
        let line = if unread > 0 {
            format!("{status} — {unread} unread")
        } else {
            status
        };
        on_main_thread(app, move |app| {
            if let Some(desktop) = app.try_state::<Desktop>()
                && let Some(set) = &*desktop
                    .status_line
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
            {
                set(&line);
            }
            if let Some(tray) = app.tray_by_id(TRAY) {
                let _ = tray.set_tooltip(Some(format!("Natter — {line}")));
            }
        });
    }

    /// Sees an event on its way to the UI.
    pub fn observe<R: Runtime>(&self, app: &AppHandle<R>, event: &AppEvent) {
        match event {
            AppEvent::Session { session } => {
                let mut inner = self.lock();
                inner.me = Some(session.user_id.clone());
                inner
                    .names
                    .insert(session.user_id.clone(), session.username.clone());
            }
            AppEvent::Users { users } => {
                let mut inner = self.lock();
                for u in users {
                    inner.names.insert(u.user_id.clone(), u.username.clone());
                }
            }
            AppEvent::Presence { changes } => {
                let mut inner = self.lock();
                for c in changes {
                    if let Some(name) = &c.username {
                        inner.names.insert(c.user_id.clone(), name.clone());
                    }
                }
            }
            AppEvent::UserRenamed { user_id, username } => {
                self.lock().names.insert(user_id.clone(), username.clone());
            }
            AppEvent::Groups { groups } => {
                let mut inner = self.lock();
                for g in groups {
                    inner.names.insert(g.group_id.clone(), g.name.clone());
                }
            }
            AppEvent::Group { group } => {
                self.lock()
                    .names
                    .insert(group.group_id.clone(), group.name.clone());
            }
            AppEvent::Connection { state, .. } => {
                self.lock().status = status_line(state).to_owned();
                self.refresh_tray(app);
            }
            AppEvent::Message { message } => self.on_message(app, message),
            AppEvent::Read { marker } => {
                // Read on this or another device: its notification has done its job.
                let is_mine = self.lock().me.as_deref() == Some(marker.from.as_str());
                if is_mine {
                    self.withdraw(&marker.to);
                }
            }
            _ => {}
        }
    }

    fn on_message<R: Runtime>(&self, app: &AppHandle<R>, message: &natter_protocol::Message) {
        // A hidden or minimised window has no focus.
        let window_in_front = self.focused.load(Ordering::Relaxed);
        let pending = {
            let inner = self.lock();
            let Some(me) = inner.me.as_deref() else {
                return;
            };
            // To us, or to one of our groups from someone else; one notification per
            // conversation (a group's, or the person's).
            let group = natter_protocol::is_group_id(&message.to);
            let conversation = if group { &message.to } else { &message.from };
            if (!group && message.to != me)
                || message.from == me
                || !should_notify(
                    &inner.prefs,
                    conversation,
                    window_in_front,
                    inner.viewing.as_deref(),
                )
            {
                return;
            }
            let sender = inner
                .names
                .get(&message.from)
                .cloned()
                .unwrap_or_else(|| "Someone".into());
            Pending {
                from: conversation.clone(),
                name: match inner.names.get(&message.to).filter(|_| group) {
                    Some(group_name) => format!("{sender} in {group_name}"),
                    None => sender,
                },
                content: match (&message.attachment, message.content.trim().is_empty()) {
                    (Some(a), true) => format!("File: {}", a.name),
                    _ => message.content.clone(),
                },
            }
        };
        let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        let tx = queue.get_or_insert_with(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            tauri::async_runtime::spawn(show_in_order(app.clone(), rx));
            tx
        });
        let _ = tx.send(pending);
    }

    /// Forgets `from`'s notification: their next message starts a new one.
    fn withdraw(&self, from: &str) {
        self.lock().shown.remove(from);
    }
}

fn status_line(state: &ConnectionState) -> &'static str {
    match state {
        ConnectionState::LoggedOut => "Not logged in",
        ConnectionState::Connecting => "Connecting",
        ConnectionState::Connected => "Connected",
        ConnectionState::Reconnecting { .. } | ConnectionState::Offline { .. } => "Offline",
        ConnectionState::Refused { .. } => "Refused by the server",
        ConnectionState::Unreachable { .. } => "Server unreachable",
        ConnectionState::Untrusted { .. } => "Waiting for you to trust the server",
    }
}

/// Whether the desktop shows tray icons: a StatusNotifierWatcher (KDE, XFCE, Cinnamon, GNOME
/// with its AppIndicator extension…) is on the session bus.
pub async fn tray_is_shown() -> bool {
    let Ok(conn) = zbus::Connection::session().await else {
        return false;
    };
    let Ok(dbus) = zbus::fdo::DBusProxy::new(&conn).await else {
        return false;
    };
    let Ok(name) = zbus::names::BusName::try_from("org.kde.StatusNotifierWatcher") else {
        return false;
    };
    dbus.name_has_owner(name).await.unwrap_or(false)
}

/// Runs `f` on the main thread, without waiting: window and tray calls made from elsewhere
/// (the connection manager's task) would block until the main thread serves them, and the main
/// thread may itself be waiting on a lock that task holds.
fn on_main_thread<R: Runtime>(app: &AppHandle<R>, f: impl FnOnce(&AppHandle<R>) + Send + 'static) {
    let handle = app.clone();
    if let Err(e) = app.run_on_main_thread(move || f(&handle)) {
        tracing::debug!(error = %e, "the main thread is gone");
    }
}

/// Shows the main window in front.
pub fn show_main<R: Runtime>(app: &AppHandle<R>) {
    if let Some(w) = app.get_webview_window(MAIN_WINDOW) {
        let _ = w.unminimize();
        let _ = w.show();
        let _ = w.set_focus();
    }
}

/// A notification was chosen: the window comes to the front with that conversation open.
fn open_conversation<R: Runtime>(app: &AppHandle<R>, user_id: &str) {
    on_main_thread(app, show_main);
    let event = AppEvent::Open {
        user_id: user_id.to_owned(),
    };
    if let Err(e) = app.emit(EVENT, &event) {
        tracing::warn!(error = %e, "could not open the conversation");
    }
    if let Some(desktop) = app.try_state::<Desktop>() {
        desktop.withdraw(user_id);
    }
}

fn apply_autostart<R: Runtime>(app: &AppHandle<R>, on: bool) {
    use tauri_plugin_autostart::ManagerExt;
    // Not registered in tests on the mock runtime.
    if app
        .try_state::<tauri_plugin_autostart::AutoLaunchManager>()
        .is_none()
    {
        return;
    }
    let autolaunch = app.autolaunch();
    let result = if on {
        autolaunch.enable()
    } else {
        autolaunch.disable()
    };
    if let Err(e) = result {
        tracing::warn!(error = %e, "could not change starting at login");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_notifies_unless_its_conversation_is_in_front() {
        let prefs = Preferences::default();
        assert!(
            should_notify(&prefs, "bob", false, Some("bob")),
            "hidden window"
        );
        assert!(
            should_notify(&prefs, "bob", true, Some("carol")),
            "another conversation"
        );
        assert!(should_notify(&prefs, "bob", true, None));
        assert!(
            !should_notify(&prefs, "bob", true, Some("bob")),
            "read right there"
        );
    }

    #[test]
    fn mute_and_do_not_disturb_silence_notifications() {
        let mut prefs = Preferences::default();
        prefs.muted.insert("bob".into());
        assert!(!should_notify(&prefs, "bob", false, None));
        assert!(should_notify(&prefs, "carol", false, None));
        prefs.do_not_disturb = true;
        assert!(!should_notify(&prefs, "carol", false, None));
    }

    #[test]
    fn a_notification_names_the_sender_and_shows_the_start_of_the_text() {
        let mut prefs = Preferences::default();
        let long = "x".repeat(300);
        let (summary, body) = notification_text(&prefs, "Bob", 1, &long);
        assert_eq!(summary, "Bob");
        assert_eq!(
            body.chars().count(),
            PREVIEW_CHARS + 1,
            "cut, with an ellipsis"
        );
        let (summary, _) = notification_text(&prefs, "Bob", 3, "hi");
        assert_eq!(summary, "Bob (3 new messages)");
        prefs.hide_text = true;
        let (_, body) = notification_text(&prefs, "Bob", 1, "secret plans");
        assert_eq!(body, "New message");
    }
}
