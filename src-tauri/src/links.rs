//! Links in messages open in the system's browser (tauri-plugin-opener), never in the window:
//! web and mail links only, as the message view makes them.

use tauri::{AppHandle, Runtime};
use tauri_plugin_opener::OpenerExt;

use crate::error::AppError;

/// Opens `url` with the desktop's default handler.
pub fn open<R: Runtime>(app: &AppHandle<R>, url: &str) -> Result<(), AppError> {
    if !natter_protocol::markdown::is_safe_url(url) {
        return Err(AppError::Local(format!("not a web or mail link: {url}")));
    }
    app.opener()
        .open_url(url, None::<&str>)
        .map_err(|e| AppError::Local(format!("could not open {url}: {e}")))
}
