//! Tauri commands: each only translates IPC into a call on the connection manager.

use natter_protocol::ipc::{AppEvent, EVENT, Preferences, SendOutcome, Upload};
use natter_protocol::{
    Edited, Group, MessagePage, React, Reacted, SearchResults, Status, StatusState,
};
use tauri::{AppHandle, Emitter, Manager, Runtime, State};

use crate::connection::{Connection, Credentials, Outgoing};
use crate::desktop::Desktop;
use crate::error::AppError;
use crate::files::{self, Uploads};

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

/// What the organisation set for this computer, for the UI to show as such.
#[tauri::command]
pub fn deployed(deployed: State<'_, natter_protocol::Deployed>) -> natter_protocol::Deployed {
    deployed.inner().clone()
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
    reply_to: Option<u64>,
    mentions: Option<Vec<String>>,
) -> Result<SendOutcome, AppError> {
    conn.send(Outgoing {
        to,
        content,
        reply_to,
        mentions: mentions.unwrap_or_default(),
        ..Outgoing::default()
    })
    .await
}

#[tauri::command]
pub async fn edit_message(
    conn: State<'_, Connection>,
    id: u64,
    content: String,
) -> Result<Edited, AppError> {
    conn.edit(id, &content).await
}

#[tauri::command]
pub async fn delete_message(conn: State<'_, Connection>, id: u64) -> Result<(), AppError> {
    conn.delete(id).await
}

#[tauri::command]
pub async fn react(
    conn: State<'_, Connection>,
    id: u64,
    emoji: String,
    on: bool,
) -> Result<Reacted, AppError> {
    conn.react(&React { id, emoji, on }).await
}

/// The person chose a status: it holds until they choose another (no idle away over it).
#[tauri::command]
pub async fn set_status<R: Runtime>(
    app: AppHandle<R>,
    conn: State<'_, Connection>,
    desktop: State<'_, Desktop>,
    state: StatusState,
    text: Option<String>,
) -> Result<(), AppError> {
    conn.set_status(&Status { state, text }).await?;
    desktop.chose_status(&app, state);
    Ok(())
}

#[tauri::command]
pub fn open_url<R: Runtime>(app: AppHandle<R>, url: String) -> Result<(), AppError> {
    crate::links::open(&app, &url)
}

/// Saves the conversation with `with` as a web page (and JSON beside it) where the person
/// chooses (the save dialog), or at `path` when given; where it went (`None`: cancelled).
#[tauri::command]
pub async fn export_conversation<R: Runtime>(
    app: AppHandle<R>,
    conn: State<'_, Connection>,
    desktop: State<'_, Desktop>,
    with: String,
    title: String,
    path: Option<String>,
) -> Result<Option<String>, AppError> {
    let path = match path {
        Some(p) => std::path::PathBuf::from(p),
        None => {
            use tauri_plugin_dialog::DialogExt;
            let (tx, rx) = tokio::sync::oneshot::channel();
            let suggested = format!("{}.html", title.replace(['/', '\\'], "_"));
            app.dialog()
                .file()
                .set_title("Export conversation")
                .set_file_name(&suggested)
                .add_filter("Web page", &["html"])
                .save_file(move |chosen| {
                    let _ = tx.send(chosen);
                });
            let Some(chosen) = rx.await.ok().flatten() else {
                return Ok(None);
            };
            chosen
                .into_path()
                .map_err(|e| AppError::Local(e.to_string()))?
        }
    };
    let (names, me) = desktop.names_and_me();
    let saved = crate::export::export(&conn, &names, &me, &with, &title, &path).await?;
    Ok(Some(saved.to_string_lossy().into_owned()))
}

#[tauri::command]
pub async fn auth_info(server: String) -> Result<natter_protocol::AuthInfo, AppError> {
    crate::auth_info::fetch(&server).await
}

#[tauri::command]
pub fn activity(desktop: State<'_, Desktop>) {
    desktop.activity();
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

#[tauri::command]
pub async fn create_group(
    conn: State<'_, Connection>,
    name: String,
    members: Vec<String>,
) -> Result<Group, AppError> {
    conn.create_group(&name, &members).await
}

#[tauri::command]
pub async fn add_members(
    conn: State<'_, Connection>,
    group_id: String,
    members: Vec<String>,
) -> Result<Group, AppError> {
    conn.add_members(&group_id, &members).await
}

#[tauri::command]
pub async fn leave_group(conn: State<'_, Connection>, group_id: String) -> Result<(), AppError> {
    conn.leave_group(&group_id).await
}

#[tauri::command]
pub async fn search(
    conn: State<'_, Connection>,
    q: String,
    with: Option<String>,
) -> Result<SearchResults, AppError> {
    conn.search(&q, with.as_deref()).await
}

/// Uploads a file (progress as `upload` events), then sends it through the outbox. Used by
/// the file picker and by files dropped on the window.
#[tauri::command]
pub async fn send_file<R: Runtime>(
    app: AppHandle<R>,
    conn: State<'_, Connection>,
    uploads: State<'_, Uploads>,
    to: String,
    path: String,
) -> Result<(), AppError> {
    let path = std::path::PathBuf::from(path);
    let mut upload = Upload {
        id: uploads.next_id(),
        to: to.clone(),
        name: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        sent: 0,
        total: 0,
        done: None,
    };
    let emit = {
        let app = app.clone();
        move |upload: &Upload| {
            let _ = app.emit(
                EVENT,
                &AppEvent::Upload {
                    upload: upload.clone(),
                },
            );
        }
    };
    emit(&upload);
    let result = async {
        let endpoint = conn.endpoint().await?;
        // Progress at most every 1 %: a 100 MiB file is not 400 events.
        let progress = {
            let (emit, template) = (emit.clone(), upload.clone());
            let last = std::sync::atomic::AtomicU64::new(0);
            move |sent: u64, total: u64| {
                let step = (total / 100).max(1);
                let prev = last.load(std::sync::atomic::Ordering::Relaxed);
                if sent == total || sent >= prev + step {
                    last.store(sent, std::sync::atomic::Ordering::Relaxed);
                    emit(&Upload {
                        sent,
                        total,
                        ..template.clone()
                    });
                }
            }
        };
        let info = files::upload(&endpoint, &path, progress)
            .await
            .map_err(|e| AppError::Rejected(e.to_string()))?;
        upload.sent = info.file.size;
        upload.total = info.file.size;
        conn.send(Outgoing {
            to: to.clone(),
            attachment: Some(info.file),
            ..Outgoing::default()
        })
        .await?;
        Ok::<(), AppError>(())
    }
    .await;
    upload.done = Some(result.as_ref().map(|_| ()).map_err(|e| e.to_string()));
    emit(&upload);
    result
}

/// The system's file picker; the chosen file goes as [`send_file`].
#[tauri::command]
pub async fn pick_file<R: Runtime>(
    app: AppHandle<R>,
    conn: State<'_, Connection>,
    uploads: State<'_, Uploads>,
    to: String,
) -> Result<(), AppError> {
    use tauri_plugin_dialog::DialogExt;
    let (tx, rx) = tokio::sync::oneshot::channel();
    app.dialog().file().pick_file(move |picked| {
        let _ = tx.send(picked);
    });
    let Some(picked) = rx.await.ok().flatten() else {
        return Ok(()); // cancelled
    };
    let path = picked
        .into_path()
        .map_err(|e| AppError::Local(e.to_string()))?;
    send_file(app, conn, uploads, to, path.to_string_lossy().into_owned()).await
}

/// Saves a file of a conversation to the Downloads folder; the path it was saved under.
#[tauri::command]
pub async fn save_file<R: Runtime>(
    app: AppHandle<R>,
    conn: State<'_, Connection>,
    file_id: String,
    name: String,
) -> Result<String, AppError> {
    let endpoint = conn.endpoint().await?;
    let dir = app
        .path()
        .download_dir()
        .map_err(|e| AppError::Local(e.to_string()))?;
    let saved = files::download(&endpoint, &file_id, &name, &dir)
        .await
        .map_err(|e| AppError::Local(e.to_string()))?;
    Ok(saved.to_string_lossy().into_owned())
}

#[tauri::command]
pub async fn preview(conn: State<'_, Connection>, file_id: String) -> Result<String, AppError> {
    let endpoint = conn.endpoint().await?;
    files::preview(&endpoint, &file_id)
        .await
        .map_err(|e| AppError::Rejected(e.to_string()))
}
