//! Files over the server's HTTP routes, from Rust (the webview cannot reach a server whose
//! certificate only we trust): uploads streamed from disk with progress, downloads streamed to
//! the Downloads folder, image previews as data URLs for the page.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::{StreamExt, TryStreamExt};
use natter_protocol::FileInfo;
use natter_protocol::files::{self as wire, FILE_NAME_HEADER};
use tokio::io::AsyncWriteExt;

use crate::connection::Endpoint;
use crate::tls;

#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("{path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("the file is larger than the server accepts")]
    TooLarge,
    #[error("no such file on the server")]
    NotFound,
    #[error("the server answered {status}: {text}")]
    Status { status: u16, text: String },
    #[error("the transfer failed: {0}")]
    Transfer(String),
    #[error("could not save: {0}")]
    Save(std::io::Error),
}

impl From<reqwest::Error> for FileError {
    fn from(e: reqwest::Error) -> Self {
        FileError::Transfer(e.to_string())
    }
}

/// Upload ids, so the page can tell one progress row from another.
#[derive(Default)]
pub struct Uploads(AtomicU64);

impl Uploads {
    pub fn next_id(&self) -> u64 {
        self.0.fetch_add(1, Ordering::Relaxed) + 1
    }
}

/// An HTTP client for the node in use, trusting its pinned certificate only.
fn client(endpoint: &Endpoint) -> Result<reqwest::Client, FileError> {
    let mut builder =
        reqwest::Client::builder().connect_timeout(std::time::Duration::from_secs(10));
    if let Some(der) = &endpoint.cert {
        let connector = tls::pinned_connector(der).map_err(FileError::Transfer)?;
        builder = builder.use_preconfigured_tls(connector);
    }
    Ok(builder.build()?)
}

fn url(endpoint: &Endpoint, path: &str) -> String {
    format!("{}{path}", endpoint.url.trim_end_matches('/'))
}

/// The media type of a file, from its extension (what the server stores and the page uses to
/// decide on a preview).
pub fn media_type(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "svg" => "image/svg+xml",
        "pdf" => "application/pdf",
        "txt" | "log" | "md" => "text/plain",
        "csv" => "text/csv",
        "json" => "application/json",
        "zip" => "application/zip",
        "gz" | "tgz" => "application/gzip",
        "tar" => "application/x-tar",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "odt" => "application/vnd.oasis.opendocument.text",
        "mp3" => "audio/mpeg",
        "mp4" => "video/mp4",
        _ => "application/octet-stream",
    }
}

/// Uploads `path`, streamed from disk; `progress(sent, total)` as it goes.
pub async fn upload(
    endpoint: &Endpoint,
    path: &Path,
    progress: impl Fn(u64, u64) + Send + Sync + 'static,
) -> Result<FileInfo, FileError> {
    let read_err = |source| FileError::Read {
        path: path.display().to_string(),
        source,
    };
    let file = tokio::fs::File::open(path).await.map_err(read_err)?;
    let total = file.metadata().await.map_err(read_err)?.len();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let mut sent = 0u64;
    let body =
        tokio_util::io::ReaderStream::with_capacity(file, 256 * 1024).inspect_ok(move |chunk| {
            sent += chunk.len() as u64;
            progress(sent, total);
        });
    let response = client(endpoint)?
        .post(url(endpoint, wire::PATH))
        .bearer_auth(&endpoint.session_id)
        .header(reqwest::header::CONTENT_TYPE, media_type(path))
        .header(reqwest::header::CONTENT_LENGTH, total)
        .header(FILE_NAME_HEADER, wire::encode_name(&name))
        .body(reqwest::Body::wrap_stream(body))
        .send()
        .await?;
    match response.status().as_u16() {
        201 => Ok(response.json::<FileInfo>().await?),
        413 => Err(FileError::TooLarge),
        status => Err(FileError::Status {
            status,
            text: response.text().await.unwrap_or_default(),
        }),
    }
}

/// A name in `dir` that does not exist yet: `name`, else `stem (2).ext`, `stem (3).ext`…
fn unused_name(dir: &Path, name: &str) -> PathBuf {
    let candidate = dir.join(name);
    if !candidate.exists() {
        return candidate;
    }
    let p = Path::new(name);
    let stem = p.file_stem().map_or(name.into(), |s| s.to_string_lossy());
    let ext = p.extension().map(|e| format!(".{}", e.to_string_lossy()));
    (2..)
        .map(|i| dir.join(format!("{stem} ({i}){}", ext.as_deref().unwrap_or(""))))
        .find(|p| !p.exists())
        .unwrap_or(candidate)
}

/// Downloads a file into `dir` under its own name (made unique); the path it was saved to.
pub async fn download(
    endpoint: &Endpoint,
    file_id: &str,
    name: &str,
    dir: &Path,
) -> Result<PathBuf, FileError> {
    let response = client(endpoint)?
        .get(url(endpoint, &format!("{}/{file_id}", wire::PATH)))
        .bearer_auth(&endpoint.session_id)
        .send()
        .await?;
    match response.status().as_u16() {
        200 => {}
        404 => return Err(FileError::NotFound),
        status => {
            return Err(FileError::Status {
                status,
                text: response.text().await.unwrap_or_default(),
            });
        }
    }
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(FileError::Save)?;
    // The name came from someone else: only its last component is used.
    let safe = Path::new(name)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .unwrap_or_else(|| "download".into());
    let target = unused_name(dir, &safe);
    let partial = target.with_extension("natter-partial");
    let mut out = tokio::fs::File::create(&partial)
        .await
        .map_err(FileError::Save)?;
    let mut body = response.bytes_stream();
    let written = async {
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| FileError::Transfer(e.to_string()))?;
            out.write_all(&chunk).await.map_err(FileError::Save)?;
        }
        out.flush().await.map_err(FileError::Save)?;
        tokio::fs::rename(&partial, &target)
            .await
            .map_err(FileError::Save)
    }
    .await;
    if written.is_err() {
        let _ = tokio::fs::remove_file(&partial).await;
    }
    written.map(|()| target)
}

/// An image's preview as a `data:` URL the page can show.
pub async fn preview(endpoint: &Endpoint, file_id: &str) -> Result<String, FileError> {
    use base64::Engine;
    let response = client(endpoint)?
        .get(url(endpoint, &format!("{}/{file_id}/preview", wire::PATH)))
        .bearer_auth(&endpoint.session_id)
        .send()
        .await?;
    match response.status().as_u16() {
        200 => {
            let bytes = response.bytes().await?;
            Ok(format!(
                "data:image/png;base64,{}",
                base64::engine::general_purpose::STANDARD.encode(&bytes)
            ))
        }
        404 => Err(FileError::NotFound),
        status => Err(FileError::Status {
            status,
            text: response.text().await.unwrap_or_default(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_names_never_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(unused_name(dir.path(), "a.txt"), dir.path().join("a.txt"));
        std::fs::write(dir.path().join("a.txt"), "1").unwrap();
        assert_eq!(
            unused_name(dir.path(), "a.txt"),
            dir.path().join("a (2).txt")
        );
        std::fs::write(dir.path().join("a (2).txt"), "2").unwrap();
        assert_eq!(
            unused_name(dir.path(), "a.txt"),
            dir.path().join("a (3).txt")
        );
        std::fs::write(dir.path().join("README"), "r").unwrap();
        assert_eq!(
            unused_name(dir.path(), "README"),
            dir.path().join("README (2)")
        );
    }

    #[test]
    fn media_types_follow_extensions() {
        assert_eq!(media_type(Path::new("/x/Photo.JPG")), "image/jpeg");
        assert_eq!(media_type(Path::new("notes")), "application/octet-stream");
        assert!(wire::has_preview(media_type(Path::new("a.webp"))));
    }
}
