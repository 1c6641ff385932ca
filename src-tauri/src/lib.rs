//! Natter's desktop shell: assembles the plugins, the connection manager and the commands.
//!
//! - [`connection`]: the socket.io connection, its state machine and the outbox.
//! - [`commands`]: the IPC surface used by the UI.
//! - [`persist`]: session and outbox on disk, replaced atomically.
//! - [`server_url`]: what a person types, made into a URL.

pub mod commands;
pub mod connection;
pub mod error;
pub mod models;
pub mod persist;
pub mod server_url;
pub mod tls;

use std::path::Path;
use std::sync::Arc;

use natter_protocol::ipc::EVENT;
use tauri::{Emitter, Manager, Runtime};

use crate::connection::{Connection, Timing};
use crate::persist::FilePersist;

/// The state file, relative to the app data dir (per OS user).
pub const STATE_FILE: &str = "natter.json";

/// Starts the connection manager for `app`, persisting to `state_file` (relative paths are
/// under the app data dir), and puts it in the app's managed state.
pub fn manage_connection<R: Runtime>(
    app: &tauri::AppHandle<R>,
    state_file: &Path,
    timing: Timing,
) -> Result<(), Box<dyn std::error::Error>> {
    let path = if state_file.is_absolute() {
        state_file.to_owned()
    } else {
        app.path().app_data_dir()?.join(state_file)
    };
    let handle = app.clone();
    let sink = Arc::new(move |event| {
        if let Err(e) = handle.emit(EVENT, &event) {
            tracing::warn!(error = %e, "could not emit to the UI");
        }
    });
    app.manage(Connection::spawn(
        sink,
        Box::new(FilePersist::open(path)),
        timing,
    ));
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
            if let Some(w) = app.get_webview_window("main") {
                let _ = w.unminimize();
                let _ = w.show();
                let _ = w.set_focus();
            }
        }))
        .plugin(tauri_plugin_window_state::Builder::default().build())
        .setup(|app| manage_connection(app.handle(), Path::new(STATE_FILE), Timing::default()))
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
