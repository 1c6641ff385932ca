//! A conversation saved to a file the person chooses: a web page readable offline with its
//! images inside ([`html`]), and the same messages as JSON beside it.

pub mod html;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use natter_protocol::Message;

use crate::connection::Connection;
use crate::error::AppError;
use crate::files;

/// Every message of the conversation with `with`, oldest first (paged back from the newest).
async fn whole(conn: &Connection, with: &str) -> Result<Vec<Message>, AppError> {
    let mut all: Vec<Message> = Vec::new();
    let mut before = None;
    loop {
        let page = conn.fetch_older(with, before).await?;
        let oldest = page.messages.first().map(|m| m.id);
        all.splice(0..0, page.messages);
        if !page.has_more || oldest.is_none() {
            return Ok(all);
        }
        before = oldest;
    }
}

/// Writes the conversation with `with` (called `title`) to `path` (a web page) and beside it
/// as JSON; the page's path.
pub async fn export(
    conn: &Connection,
    names: &HashMap<String, String>,
    me: &str,
    with: &str,
    title: &str,
    path: &Path,
) -> Result<PathBuf, AppError> {
    let messages = whole(conn, with).await?;
    let endpoint = conn.endpoint().await?;
    let mut images = HashMap::new();
    for m in &messages {
        if let Some(a) = m.attachment.as_ref().filter(|_| !m.deleted)
            && natter_protocol::files::has_preview(&a.media_type)
            && !images.contains_key(&a.file_id)
        {
            match files::preview(&endpoint, &a.file_id).await {
                Ok(url) => {
                    images.insert(a.file_id.clone(), url);
                }
                Err(e) => {
                    tracing::warn!(file = %a.file_id, error = %e, "an image left out of an export")
                }
            }
        }
    }
    let page = html::page(title, &messages, names, &images, me);
    let path = if path.extension().is_none() {
        path.with_extension("html")
    } else {
        path.to_owned()
    };
    let local = |e: std::io::Error| AppError::Local(format!("saving {}: {e}", path.display()));
    tokio::fs::write(&path, page).await.map_err(local)?;
    let data = natter_protocol::ExportedConversation {
        with: with.to_owned(),
        name: title.to_owned(),
        messages,
    };
    let bytes = serde_json::to_vec_pretty(&data).map_err(|e| AppError::Local(e.to_string()))?;
    tokio::fs::write(path.with_extension("json"), bytes)
        .await
        .map_err(local)?;
    Ok(path)
}
