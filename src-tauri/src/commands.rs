//! Tauri commands: each only translates IPC into a call on the connection manager.

use natter_protocol::MessagePage;
use natter_protocol::ipc::{Preferences, SendOutcome};
use tauri::{AppHandle, Runtime, State};

use crate::connection::{Connection, Credentials};
use crate::desktop::Desktop;
use crate::error::AppError;

#[tauri::command]
pub async fn start(conn: State<'_, Connection>) -> Result<(), AppError> {
    conn.start().await
}

#[tauri::command]
pub async fn login(
    conn: State<'_, Connection>,
    server_url: String,
    username: String,
    password: Option<String>,
    join_password: Option<String>,
) -> Result<(), AppError> {
    let credentials = Credentials {
        username,
        password,
        join_password,
    };
    conn.login(&server_url, credentials).await
}

#[tauri::command]
pub async fn trust(conn: State<'_, Connection>, fingerprint: String) -> Result<(), AppError> {
    conn.trust(&fingerprint).await
}

#[tauri::command]
pub async fn set_password(
    conn: State<'_, Connection>,
    password: String,
    current_password: Option<String>,
) -> Result<(), AppError> {
    conn.set_password(&password, current_password.as_deref())
        .await
}

#[tauri::command]
pub async fn send(
    conn: State<'_, Connection>,
    to: String,
    content: String,
) -> Result<SendOutcome, AppError> {
    conn.send(&to, &content).await
}

#[tauri::command]
pub async fn fetch_older(
    conn: State<'_, Connection>,
    with: String,
    before: Option<u64>,
) -> Result<MessagePage, AppError> {
    conn.fetch_older(&with, before).await
}

#[tauri::command]
pub async fn logout(conn: State<'_, Connection>) -> Result<(), AppError> {
    conn.logout().await
}

#[tauri::command]
pub async fn mark_read(
    conn: State<'_, Connection>,
    with: String,
    up_to: u64,
) -> Result<(), AppError> {
    conn.mark_read(&with, up_to).await
}

#[tauri::command]
pub async fn typing(conn: State<'_, Connection>, to: String) -> Result<(), AppError> {
    conn.typing(&to).await
}

#[tauri::command]
pub async fn set_receipts(conn: State<'_, Connection>, send: bool) -> Result<(), AppError> {
    conn.set_receipts(send).await
}

#[tauri::command]
pub fn viewing(desktop: State<'_, Desktop>, with: Option<String>) {
    desktop.set_viewing(with);
}

#[tauri::command]
pub fn attention<R: Runtime>(app: AppHandle<R>, desktop: State<'_, Desktop>, unread: u32) {
    desktop.set_unread(&app, unread);
}

#[tauri::command]
pub fn preferences(desktop: State<'_, Desktop>) -> Preferences {
    desktop.preferences()
}

#[tauri::command]
pub fn set_preferences<R: Runtime>(
    app: AppHandle<R>,
    desktop: State<'_, Desktop>,
    preferences: Preferences,
) -> Result<(), AppError> {
    desktop
        .set_preferences(&app, preferences)
        .map_err(|e| AppError::Local(e.to_string()))
}

#[tauri::command]
pub fn discovered<R: Runtime>(app: AppHandle<R>, lan: State<'_, crate::lan::Lan>) {
    lan.send(&app);
}
