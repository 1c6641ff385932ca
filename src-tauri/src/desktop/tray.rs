//! The tray: open, the connection state with the unread count, quit. Linux tray icons give a
//! menu, not click events, so everything is in the menu.

use natter_protocol::ipc::ConnectionState;
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager, Runtime};

use super::{Desktop, on_main_thread, show_main};

const TRAY: &str = "main";

/// Sets the text of the tray menu's status line.
pub(super) type StatusLine = Box<dyn Fn(&str) + Send + Sync>;

impl Desktop {
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

    pub(super) fn refresh_tray<R: Runtime>(&self, app: &AppHandle<R>) {
        let (status, unread) = {
            let inner = self.lock();
            (inner.connection.clone(), inner.unread)
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
}

pub(super) fn status_line(state: &ConnectionState) -> &'static str {
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
