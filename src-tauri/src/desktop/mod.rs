//! What lets people leave Natter running all day: notifications ([`notify`]), the tray
//! ([`tray`]), away by itself when the desktop is idle ([`idle`]), the window title and
//! urgency hint, and the preferences that govern them.
//!
//! It watches the same [`AppEvent`]s the UI gets (names, our own identity and status,
//! messages and their deletion, read markers, the connection state), so it works while the
//! window is hidden and the page does nothing.

mod idle;
mod notify;
mod tray;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use natter_protocol::ipc::{AppEvent, EVENT, Preferences};
use natter_protocol::{Announcement, Message, Status, StatusState};
use tauri::{AppHandle, Emitter, Manager, Runtime, UserAttentionType};
use tokio::sync::mpsc;

pub use self::idle::{AWAY_AFTER, next_status};
pub use self::notify::{Arrival, notification_text, should_notify};
use self::notify::{Pending, Shown};
pub use self::tray::tray_is_shown;

/// The main window's label, as in `tauri.conf.json`.
pub const MAIN_WINDOW: &str = "main";
/// Preferences file, next to the state file in the app data dir.
pub const PREFERENCES_FILE: &str = "preferences.json";

#[derive(Default)]
struct Inner {
    me: Option<String>,
    /// Our own status, as the server last said.
    status: Status,
    names: HashMap<String, String>,
    viewing: Option<String>,
    prefs: Preferences,
    /// Each conversation's notification on screen.
    shown: HashMap<String, Shown>,
    /// Announcements already notified in this run (a reconnect lists them again).
    announced: std::collections::HashSet<u64>,
    unread: u32,
    connection: String,
}

pub struct Desktop {
    inner: Mutex<Inner>,
    prefs_path: PathBuf,
    status_line: Mutex<Option<tray::StatusLine>>,
    /// Feeds [`notify::show_in_order`]; started with the first notification.
    queue: Mutex<Option<mpsc::UnboundedSender<Pending>>>,
    /// Whether the main window has the focus.
    focused: AtomicBool,
    /// The last input in the window (idle time where the desktop does not tell it).
    last_input: Mutex<Instant>,
    /// Start at login as the organisation decided, whatever the preferences say.
    deployed_autostart: Option<bool>,
}

impl Desktop {
    pub fn new(prefs_path: PathBuf, deployed_autostart: Option<bool>) -> Self {
        let prefs = std::fs::read(&prefs_path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        Self {
            inner: Mutex::new(Inner {
                prefs,
                connection: "Not logged in".into(),
                ..Inner::default()
            }),
            prefs_path,
            status_line: Mutex::new(None),
            queue: Mutex::new(None),
            focused: AtomicBool::new(false),
            last_input: Mutex::new(Instant::now()),
            deployed_autostart,
        }
    }

    /// Starts what runs for the app's life: the idle watch.
    pub fn start<R: Runtime>(&self, app: &AppHandle<R>) {
        idle::watch(app.clone());
        if let Some(on) = self.deployed_autostart {
            apply_autostart(app, on);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The preferences in force: the person's, with what the organisation set.
    pub fn preferences(&self) -> Preferences {
        self.imposed(self.lock().prefs.clone())
    }

    /// `prefs` with what the organisation set in their place.
    fn imposed(&self, mut prefs: Preferences) -> Preferences {
        if let Some(on) = self.deployed_autostart {
            prefs.autostart = on;
        }
        prefs
    }

    /// Saves new preferences (atomically) and applies the start-at-login choice.
    pub fn set_preferences<R: Runtime>(
        &self,
        app: &AppHandle<R>,
        prefs: Preferences,
    ) -> std::io::Result<()> {
        let prefs = self.imposed(prefs);
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

    /// Everyone's names as people see them, and our userID (for an export).
    pub fn names_and_me(&self) -> (HashMap<String, String>, String) {
        let inner = self.lock();
        (inner.names.clone(), inner.me.clone().unwrap_or_default())
    }

    /// Who is logged in (their userID), once the server said.
    fn me(&self) -> Option<String> {
        self.lock().me.clone()
    }

    /// Our status and whether the app set it (away when idle).
    fn own_status(&self) -> (Status, bool) {
        let inner = self.lock();
        (inner.status.clone(), inner.prefs.auto_away)
    }

    /// Our status now, and whether the app set it rather than the person (remembered across
    /// restarts: an idle away outlasts a night with the app closed).
    fn set_own_status<R: Runtime>(&self, app: &AppHandle<R>, status: Status, by_the_app: bool) {
        let prefs = {
            let mut inner = self.lock();
            inner.status = status;
            if inner.prefs.auto_away == by_the_app {
                return;
            }
            let mut prefs = inner.prefs.clone();
            prefs.auto_away = by_the_app;
            prefs
        };
        if let Err(e) = self.set_preferences(app, prefs) {
            tracing::warn!(error = %e, "could not save the preferences");
        }
    }

    /// The person chose a state: it is theirs, the idle watch leaves it.
    pub fn chose_status<R: Runtime>(&self, app: &AppHandle<R>, state: StatusState) {
        let text = self.lock().status.text.clone();
        self.set_own_status(app, Status { state, text }, false);
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

    /// Sees an event on its way to the UI.
    pub fn observe<R: Runtime>(&self, app: &AppHandle<R>, event: &AppEvent) {
        match event {
            AppEvent::Session { session } => {
                let mut inner = self.lock();
                inner.me = Some(session.user_id.clone());
                let name = session.display_name.as_ref().unwrap_or(&session.username);
                inner.names.insert(session.user_id.clone(), name.clone());
            }
            AppEvent::Users { users } => {
                let mut inner = self.lock();
                for u in users {
                    // People see the name the directory gives them, where it gives one.
                    let name = u.display_name.as_ref().unwrap_or(&u.username);
                    inner.names.insert(u.user_id.clone(), name.clone());
                    if inner.me.as_deref() == Some(u.user_id.as_str()) {
                        inner.status = Status {
                            state: u.status,
                            text: u.status_text.clone(),
                        };
                    }
                }
            }
            AppEvent::Status { change } => {
                let mut inner = self.lock();
                if inner.me.as_deref() == Some(change.user_id.as_str()) {
                    inner.status = Status {
                        state: change.state,
                        text: change.text.clone(),
                    };
                }
            }
            AppEvent::Presence { changes } => {
                let mut inner = self.lock();
                for c in changes {
                    if let Some(name) = c.display_name.as_ref().or(c.username.as_ref()) {
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
                self.lock().connection = tray::status_line(state).to_owned();
                self.refresh_tray(app);
            }
            AppEvent::Message { message } => self.on_message(app, message),
            AppEvent::Announcement { announcement } => {
                self.on_announcements(app, std::slice::from_ref(announcement));
            }
            AppEvent::Announcements { announcements } => self.on_announcements(app, announcements),
            AppEvent::MessageDeleted { change } => self.on_deleted(change.id),
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

    /// Announcements raise a notification each, even under do-not-disturb or busy: the
    /// operator's word (a fire drill) is for everyone. Once per run, none the person dismissed.
    fn on_announcements<R: Runtime>(&self, app: &AppHandle<R>, list: &[Announcement]) {
        let now = natter_protocol::now_ms();
        let fresh: Vec<Pending> = {
            let mut inner = self.lock();
            let Inner {
                prefs, announced, ..
            } = &mut *inner;
            list.iter()
                .filter(|a| prefs.shows(a, now))
                .filter(|a| announced.insert(a.id))
                .map(Pending::announcement)
                .collect()
        };
        for pending in fresh {
            self.show(app, pending);
        }
    }

    fn show<R: Runtime>(&self, app: &AppHandle<R>, pending: Pending) {
        let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        let tx = queue.get_or_insert_with(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            tauri::async_runtime::spawn(notify::show_in_order(app.clone(), rx));
            tx
        });
        let _ = tx.send(pending);
    }

    fn on_message<R: Runtime>(&self, app: &AppHandle<R>, message: &Message) {
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
            let arrival = Arrival {
                conversation,
                mentions_me: message.mentions.iter().any(|m| m == me),
            };
            if (!group && message.to != me)
                || message.from == me
                || !should_notify(
                    &inner.prefs,
                    inner.status.state,
                    arrival,
                    window_in_front,
                    inner.viewing.as_deref(),
                )
            {
                return;
            }
            Pending::of(&inner, message, conversation)
        };
        self.show(app, pending);
    }

    /// A message was deleted: a notification showing it closes.
    fn on_deleted(&self, id: u64) {
        let closing = {
            let mut inner = self.lock();
            let conversation = inner
                .shown
                .iter()
                .find(|(_, s)| s.messages.contains(&id))
                .map(|(c, _)| c.clone());
            conversation.and_then(|c| inner.shown.remove(&c))
        };
        if let Some(shown) = closing {
            tauri::async_runtime::spawn(notify::close(shown.id));
        }
    }

    /// Forgets `conversation`'s notification: its next message starts a new one.
    fn withdraw(&self, conversation: &str) {
        self.lock().shown.remove(conversation);
    }
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
