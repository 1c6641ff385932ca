//! Files: `POST /files` (upload, streamed to disk while hashed), `GET /files/{fileID}` (ranges
//! work) and `GET /files/{fileID}/preview` (a small PNG of an image), all behind the bearer
//! session.
//!
//! A file's bytes live in the files dir under its fileID; its record (name, size, type, hash,
//! uploader) in the store. Who may download it is decided by the store: the uploader, and
//! whoever has a conversation where it was sent. In cluster mode every node must see the same
//! files dir (shared storage); the records are in Redis.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path as UrlPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::StreamExt;
use natter_protocol::files::{self as wire, FILE_NAME_HEADER, FILE_NAME_MAX_BYTES};
use natter_protocol::{Attachment, FileInfo, allowed_in_content};
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use tower::ServiceExt;

use crate::file_dir::FileDir;
use crate::store::{FileRecord, Store, StoreError, UserRecord};
use crate::{ids, limits};

/// What the file routes share.
#[derive(Clone)]
pub struct Files(Arc<FilesInner>);

pub struct FilesInner {
    pub store: Arc<dyn Store>,
    pub dir: FileDir,
    pub max_bytes: u64,
    /// What one person's uploads may add up to (`--files-quota-bytes`).
    pub quota_bytes: Option<u64>,
    /// Uploads per user, from the message budget; `None` without limits.
    pub rate: Option<Arc<limits::Buckets>>,
}

impl Files {
    /// Creates the files dir (private to the server's user) if needed.
    pub fn open(inner: FilesInner) -> std::io::Result<Self> {
        std::fs::create_dir_all(inner.dir.path())?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(inner.dir.path(), std::fs::Permissions::from_mode(0o700))?;
        }
        Ok(Self(Arc::new(inner)))
    }

    pub fn router(self) -> Router {
        Router::new()
            .route(wire::PATH, post(upload))
            .route(&format!("{}/{{file_id}}", wire::PATH), get(download))
            .route(&format!("{}/{{file_id}}/preview", wire::PATH), get(preview))
            .with_state(self)
    }

    fn path_of(&self, file_id: &str) -> PathBuf {
        self.0.dir.file(file_id)
    }
}

#[derive(Debug, thiserror::Error)]
enum FileError {
    #[error("no or a revoked session")]
    Unauthorized,
    #[error("the file is larger than {0} bytes")]
    TooLarge(u64),
    #[error(
        "over your file quota: your files take {used} of the {quota} bytes you may use; \
         delete some (or ask the operator for more)"
    )]
    OverQuota { used: u64, quota: u64 },
    #[error("no such file")]
    NotFound,
    #[error("too many uploads: try again in {} ms", .0.as_millis())]
    RateLimited(std::time::Duration),
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    #[error("the upload was cut off: {0}")]
    Body(String),
    #[error("the store failed: {0}")]
    Store(#[from] StoreError),
    #[error("the files dir: {0}")]
    Io(#[from] std::io::Error),
}

impl IntoResponse for FileError {
    fn into_response(self) -> Response {
        let status = match &self {
            FileError::Unauthorized => StatusCode::UNAUTHORIZED,
            FileError::TooLarge(_) | FileError::OverQuota { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            FileError::NotFound => StatusCode::NOT_FOUND,
            FileError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            FileError::BadRequest(_) | FileError::Body(_) => StatusCode::BAD_REQUEST,
            FileError::Store(_) | FileError::Io(_) => {
                tracing::error!(error = %self, "file request failed");
                StatusCode::SERVICE_UNAVAILABLE
            }
        };
        let mut response =
            (status, axum::Json(json!({ "error": self.to_string() }))).into_response();
        if let FileError::RateLimited(wait) = &self
            && let Ok(v) = HeaderValue::from_str(&wait.as_secs().max(1).to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        if matches!(self, FileError::Unauthorized) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// The user of the `Authorization: Bearer <sessionID>` header.
async fn user(files: &Files, headers: &HeaderMap) -> Result<UserRecord, FileError> {
    let session = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or(FileError::Unauthorized)?;
    files
        .0
        .store
        .find_session(session)
        .await?
        .ok_or(FileError::Unauthorized)
}

/// A file name as kept: the last path component, no control characters, at most
/// [`FILE_NAME_MAX_BYTES`]; "file" when nothing is left.
fn clean_name(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let mut name: String = last
        .chars()
        .filter(|&c| allowed_in_content(c) && c != '\n' && c != '\t')
        .collect();
    let name_trimmed = name.trim();
    if name_trimmed.is_empty() || name_trimmed == "." || name_trimmed == ".." {
        return "file".into();
    }
    name = name_trimmed.to_owned();
    if name.len() > FILE_NAME_MAX_BYTES {
        let mut cut = FILE_NAME_MAX_BYTES;
        while !name.is_char_boundary(cut) {
            cut -= 1;
        }
        name.truncate(cut);
    }
    name
}

/// A media type as kept: `type/subtype`, lowercased, parameters dropped; anything odd is
/// `application/octet-stream`.
fn clean_media_type(raw: Option<&HeaderValue>) -> String {
    let essence = raw
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let ok = essence.len() <= 127
        && essence.split_once('/').is_some_and(|(t, s)| {
            !t.is_empty()
                && !s.is_empty()
                && essence
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"/+-.!#$&^_".contains(&b))
        });
    if ok {
        essence
    } else {
        "application/octet-stream".into()
    }
}

/// Removes a half-written upload whatever happens to the request.
struct TempFile(Option<PathBuf>);

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// `POST /files`: the raw body to disk, hashed on the way; refused before a byte is read when
/// `Content-Length` is over the limit (so `Expect: 100-continue` gets the 413 instead of a
/// "continue").
async fn upload(State(files): State<Files>, req: Request) -> Result<Response, FileError> {
    let me = user(&files, req.headers()).await?;
    let max = files.0.max_bytes;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .map(|v| {
            v.to_str()
                .ok()
                .and_then(|v| v.parse::<u64>().ok())
                .ok_or(FileError::BadRequest("Content-Length is not a number"))
        })
        .transpose()?;
    if declared.is_some_and(|n| n > max) {
        return Err(FileError::TooLarge(max));
    }
    // What this upload may add: the quota's room, or the size limit, whichever is smaller.
    let (room, used) = match files.0.quota_bytes {
        Some(quota) => {
            let used = files.0.store.uploaded_bytes(&me.user_id).await?;
            (quota.saturating_sub(used), Some((used, quota)))
        }
        None => (u64::MAX, None),
    };
    let over_quota = || {
        let (used, quota) = used.unwrap_or_default();
        FileError::OverQuota { used, quota }
    };
    if declared.is_some_and(|n| n > room) {
        return Err(over_quota());
    }
    let name = match req.headers().get(FILE_NAME_HEADER) {
        Some(v) => clean_name(&v.to_str().ok().and_then(wire::decode_name).ok_or(
            FileError::BadRequest("X-File-Name is not percent-encoded UTF-8"),
        )?),
        None => "file".into(),
    };
    let media_type = clean_media_type(req.headers().get(header::CONTENT_TYPE));
    if let Some(rate) = &files.0.rate {
        rate.take(&me.user_id)
            .await
            .map_err(FileError::RateLimited)?;
    }

    let file_id = ids::new_file_id().map_err(|e| std::io::Error::other(e.to_string()))?;
    let temp_path = files.0.dir.upload(&file_id);
    let mut temp = TempFile(Some(temp_path.clone()));
    let mut out = tokio::fs::File::create(&temp_path).await?;
    let mut hasher = Sha256::new();
    let mut size: u64 = 0;
    let mut body = req.into_body().into_data_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| FileError::Body(e.to_string()))?;
        size += chunk.len() as u64;
        if size > max {
            return Err(FileError::TooLarge(max));
        }
        if size > room {
            return Err(over_quota());
        }
        hasher.update(&chunk);
        out.write_all(&chunk).await?;
    }
    if declared.is_some_and(|n| n != size) {
        return Err(FileError::Body(format!(
            "{size} bytes of {}",
            declared.unwrap_or(0)
        )));
    }
    out.sync_all().await?;
    drop(out);
    let final_path = files.path_of(&file_id);
    tokio::fs::rename(&temp_path, &final_path).await?;
    temp.0 = Some(final_path);
    let info = FileInfo {
        file: Attachment {
            file_id,
            name,
            size,
            media_type,
        },
        sha256: hex::encode(hasher.finalize()),
    };
    files
        .0
        .store
        .insert_file(FileRecord {
            info: info.clone(),
            uploader: me.user_id.clone(),
        })
        .await?;
    // Recorded: the file stays.
    temp.0 = None;
    tracing::debug!(user = %me.user_id, file = %info.file.file_id, size, "file uploaded");
    Ok((StatusCode::CREATED, axum::Json(info)).into_response())
}

/// The record of a file `me` may see (they uploaded it, or it was sent to them); `NotFound`
/// for everything else, so ids cannot be probed.
async fn visible(
    files: &Files,
    headers: &HeaderMap,
    file_id: &str,
) -> Result<FileRecord, FileError> {
    let me = user(files, headers).await?;
    if !file_id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(FileError::NotFound);
    }
    let record = files
        .0
        .store
        .file(file_id)
        .await?
        .ok_or(FileError::NotFound)?;
    if record.uploader == me.user_id || files.0.store.file_sent_to(file_id, &me.user_id).await? {
        Ok(record)
    } else {
        Err(FileError::NotFound)
    }
}

/// `GET /files/{fileID}`: the bytes, with ranges, under the uploaded name and type.
async fn download(
    State(files): State<Files>,
    UrlPath(file_id): UrlPath<String>,
    req: Request,
) -> Result<Response, FileError> {
    let record = visible(&files, req.headers(), &file_id).await?;
    let path = files.path_of(&file_id);
    if !tokio::fs::try_exists(&path).await? {
        tracing::error!(file = %file_id, path = %path.display(), "a recorded file is missing from the files dir");
        return Err(FileError::NotFound);
    }
    serve_file(
        &path,
        req,
        &record.info.file.media_type,
        Some(&record.info.file.name),
    )
    .await
}

/// Streams a file with tower-http (ranges, conditional requests), under our headers.
async fn serve_file(
    path: &Path,
    req: Request,
    media_type: &str,
    name: Option<&str>,
) -> Result<Response, FileError> {
    let Ok(response) = tower_http::services::ServeFile::new(path)
        .oneshot(req)
        .await;
    let mut response = response.map(Body::new);
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(media_type) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    if let Some(name) = name
        && let Ok(v) = HeaderValue::from_str(&format!(
            "attachment; filename*=UTF-8''{}",
            wire::encode_name(name)
        ))
    {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=86400"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok(response)
}

/// Images larger than this get no preview (decoding them costs too much memory).
const PREVIEW_MAX_SOURCE_BYTES: u64 = 50 * 1024 * 1024;

/// `GET /files/{fileID}/preview`: a PNG at most [`wire::PREVIEW_MAX_SIDE`] pixels on its
/// longest side, made on first request and kept beside the file.
async fn preview(
    State(files): State<Files>,
    UrlPath(file_id): UrlPath<String>,
    req: Request,
) -> Result<Response, FileError> {
    let record = visible(&files, req.headers(), &file_id).await?;
    if !wire::has_preview(&record.info.file.media_type)
        || record.info.file.size > PREVIEW_MAX_SOURCE_BYTES
    {
        return Err(FileError::NotFound);
    }
    let source = files.path_of(&file_id);
    let target = files.0.dir.preview(&file_id);
    if !tokio::fs::try_exists(&target).await? {
        let made = target.clone();
        let result = tokio::task::spawn_blocking(move || make_preview(&source, &made))
            .await
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        if let Err(e) = result {
            tracing::info!(file = %file_id, error = %e, "no preview for an image");
            return Err(FileError::NotFound);
        }
    }
    serve_file(&target, req, "image/png", None).await
}

#[derive(Debug, thiserror::Error)]
enum PreviewError {
    #[error(transparent)]
    Image(#[from] image::ImageError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

fn make_preview(source: &Path, target: &Path) -> Result<(), PreviewError> {
    let mut reader = image::ImageReader::open(source)?.with_guessed_format()?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(16_384);
    limits.max_image_height = Some(16_384);
    limits.max_alloc = Some(256 * 1024 * 1024);
    reader.limits(limits);
    let image = reader.decode()?;
    let side = wire::PREVIEW_MAX_SIDE;
    let small = if image.width() > side || image.height() > side {
        image.thumbnail(side, side)
    } else {
        image
    };
    // Written aside, then renamed: a concurrent request never serves half a file.
    let partial = target.with_extension("partial");
    small.save_with_format(&partial, image::ImageFormat::Png)?;
    std::fs::rename(&partial, target)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_keep_only_their_last_component_and_printable_characters() {
        assert_eq!(clean_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_name("C:\\Users\\a\\photo.jpg"), "photo.jpg");
        assert_eq!(clean_name("a\u{7}b.txt"), "ab.txt");
        assert_eq!(clean_name(".."), "file");
        assert_eq!(clean_name(""), "file");
        assert_eq!(clean_name("日本語.txt"), "日本語.txt");
        let long = "é".repeat(200);
        let cut = clean_name(&long);
        assert!(cut.len() <= FILE_NAME_MAX_BYTES && cut.chars().all(|c| c == 'é'));
    }

    #[test]
    fn media_types_are_reduced_to_their_essence() {
        let h = |s: &'static str| HeaderValue::from_static(s);
        assert_eq!(clean_media_type(Some(&h("image/PNG"))), "image/png");
        assert_eq!(
            clean_media_type(Some(&h("text/plain; charset=utf-8"))),
            "text/plain"
        );
        assert_eq!(
            clean_media_type(Some(&h("text/html<script>"))),
            "application/octet-stream"
        );
        assert_eq!(clean_media_type(None), "application/octet-stream");
    }

    #[test]
    fn file_names_round_trip_through_the_header() {
        for name in ["photo 1.jpg", "日本語 (2).pdf", "a%b&c.txt"] {
            assert_eq!(
                wire::decode_name(&wire::encode_name(name)).as_deref(),
                Some(name)
            );
        }
        assert_eq!(wire::decode_name("%ZZ"), None);
        assert_eq!(wire::decode_name("%FF"), None);
    }
}
