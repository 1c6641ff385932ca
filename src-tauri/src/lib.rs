//! Natter's desktop shell: assembles the plugins, the connection manager and the commands.
//!
//! - [`connection`]: the socket.io connection, its state machine and the outbox.
//! - [`commands`]: the IPC surface used by the UI.
//! - [`persist`]: session and outbox on disk, replaced atomically.
//! - [`server_url`]: what a person types, made into a URL.
//! - [`desktop`]: tray, notifications, window title and urgency, preferences.
//! - [`lan`]: servers found on the LAN for the login screen.
//! - [`files`]: uploads, downloads and previews over the server's HTTP routes.
//! - [`links`]: links in messages, opened in the system's browser.
//! - [`export`]: a conversation saved as a web page and JSON.
//! - [`auth_info`]: how a server signs people in (the office directory, or names).
//! - [`deployed`]: the organisation's settings for this computer (`desktop.json`).

pub mod auth_info;
pub mod commands;
pub mod connection;
pub mod deployed;
pub mod desktop;
pub mod error;
pub mod export;
pub mod files;
pub mod lan;
pub mod links;
pub mod persist;
pub mod server_url;
pub mod spellcheck;
pub mod tls;

use std::path::Path;
use std::sync::Arc;

use natter_protocol::ipc::EVENT;
use tauri::{Emitter, Manager, Runtime};

use crate::connection::{Connection, Timing};
use crate::desktop::Desktop;
use crate::persist::FilePersist;

/// The state file, relative to the app data dir (per OS user).
pub const STATE_FILE: &str = "natter.json";

/// Starts the connection manager for `app`, persisting to `state_file` (relative paths are
/// under the app data dir), with what the organisation `deployed`, and puts them in the app's
/// managed state.
pub fn manage_connection<R: Runtime>(
    app: &tauri::AppHandle<R>,
    state_file: &Path,
    timing: Timing,
    deployed: natter_protocol::Deployed,
) -> Result<(), Box<dyn std::error::Error>> {
    let path = if state_file.is_absolute() {
        state_file.to_owned()
    } else {
        app.path().app_data_dir()?.join(state_file)
    };
    let prefs = path.with_file_name(desktop::PREFERENCES_FILE);
    app.manage(Desktop::new(prefs, deployed.autostart));
    let handle = app.clone();
    let sink = Arc::new(move |event| {
        if let Some(desktop) = handle.try_state::<Desktop>() {
            desktop.observe(&handle, &event);
        }
        if let Err(e) = handle.emit(EVENT, &event) {
            tracing::warn!(error = %e, "could not emit to the UI");
        }
    });
    app.manage(files::Uploads::default());
    app.manage(Connection::spawn(
        sink,
        Box::new(FilePersist::open(path)),
        timing,
        deployed.clone(),
    ));
    app.manage(deployed);
    Ok(())
}

/// The IPC handler with every command, for the app and its tests.
pub fn invoke_handler<R: Runtime>() -> impl Fn(tauri::ipc::Invoke<R>) -> bool + Send + Sync + 'static
{
    tauri::generate_handler![
        commands::start,
        commands::login,
        commands::send,
        commands::fetch_older,
        commands::logout,
        commands::trust,
        commands::set_password,
        commands::mark_read,
        commands::typing,
        commands::set_receipts,
        commands::viewing,
        commands::attention,
        commands::preferences,
        commands::set_preferences,
        commands::discovered,
        commands::create_group,
        commands::add_members,
        commands::leave_group,
        commands::search,
        commands::send_file,
        commands::pick_file,
        commands::save_file,
        commands::preview,
        commands::edit_message,
        commands::delete_message,
        commands::react,
        commands::set_status,
        commands::open_url,
        commands::activity,
        commands::auth_info,
        commands::export_conversation,
        commands::deployed,
    ]
}

pub fn run() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "natter_lib=info".into()),
        )
        .init();
    let result = tauri::Builder::default()
        // First, so a second launch only focuses the running window.
        .plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| {
            desktop::show_main(app);
        }))
        .plugin(tauri_plugin_window_state::Builder::default().build())
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_opener::init())
        .plugin(tauri_plugin_autostart::init(
            tauri_plugin_autostart::MacosLauncher::LaunchAgent,
            None,
        ))
        .setup(|app| {
            let deployed = deployed::load();
            let discovery = deployed.discovery != Some(false);
            manage_connection(
                app.handle(),
                Path::new(STATE_FILE),
                Timing::default(),
                deployed,
            )?;
            let lan = lan::Lan::default();
            if discovery {
                lan.start(app.handle().clone());
            }
            app.manage(lan);
            // No tray where the desktop has none to show it in: the window then closes.
            app.state::<Desktop>().start(app.handle());
            if let Some(window) = app.get_webview_window(desktop::MAIN_WINDOW) {
                spellcheck::enable(&window);
            }
            if let Err(e) = app.state::<Desktop>().build_tray(app.handle()) {
                tracing::warn!(error = %e, "no tray icon");
            }
            Ok(())
        })
        // Closing the window hides it to the tray: the connection, the outbox and
        // notifications go on, and the tray's "Quit Natter" ends the app. Where the desktop
        // shows no tray, there would be no way back: closing quits.
        .on_window_event(|window, event| {
            // Files dropped on the window go to the open conversation (the page decides).
            if let tauri::WindowEvent::DragDrop(tauri::DragDropEvent::Drop { paths, .. }) = event {
                let paths = paths
                    .iter()
                    .map(|p| p.to_string_lossy().into_owned())
                    .collect();
                if let Err(e) =
                    window.emit(EVENT, &natter_protocol::ipc::AppEvent::Dropped { paths })
                {
                    tracing::warn!(error = %e, "could not pass dropped files to the UI");
                }
            }
            if let tauri::WindowEvent::Focused(focused) = event
                && let Some(desktop) = window.app_handle().try_state::<Desktop>()
            {
                desktop.set_focused(*focused);
            }
            if let tauri::WindowEvent::CloseRequested { api, .. } = event {
                api.prevent_close();
                let (window, app) = (window.clone(), window.app_handle().clone());
                tauri::async_runtime::spawn(async move {
                    if desktop::tray_is_shown().await {
                        // Before it goes: a hidden window gets no focus-out event everywhere,
                        // and a message must not find it still "in front".
                        if let Some(desktop) = app.try_state::<Desktop>() {
                            desktop.set_focused(false);
                        }
                        let _ = window.hide();
                    } else {
                        app.exit(0);
                    }
                });
            }
        })
        .invoke_handler(invoke_handler())
        .build(tauri::generate_context!());
    let app = match result {
        Ok(app) => app,
        Err(e) => {
            tracing::error!(error = %e, "Natter could not start");
            std::process::exit(1);
        }
    };
    app.run(|handle, event| {
        if let tauri::RunEvent::Exit = event
            && let Some(conn) = handle.try_state::<Connection>()
        {
            // Leave cleanly so others see us go offline at once.
            tauri::async_runtime::block_on(conn.shutdown());
        }
    });
}
