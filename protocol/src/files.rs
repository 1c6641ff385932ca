//! Files: the HTTP routes beside the socket.io endpoint (uploads, downloads, previews) and
//! the attachment a message carries.

use serde::{Deserialize, Serialize};

/// `POST` the raw file here (`Authorization: Bearer <sessionID>`, `Content-Type`,
/// [`FILE_NAME_HEADER`]) → `201` with a [`crate::FileInfo`]. `GET /files/{fileID}` streams
/// it back (ranges work); `GET /files/{fileID}/preview` is a small PNG of an image.
pub const PATH: &str = "/files";
/// The file's name, percent-encoded (UTF-8).
pub const FILE_NAME_HEADER: &str = "x-file-name";
/// The default `--max-file-bytes`: 100 MiB.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 100 * 1024 * 1024;
/// The longest side of an image preview, in pixels.
pub const PREVIEW_MAX_SIDE: u32 = 320;
/// The longest file name kept, in bytes (longer ones are cut at a character boundary).
pub const FILE_NAME_MAX_BYTES: usize = 255;

/// Whether a file of this media type gets a preview.
pub fn has_preview(media_type: &str) -> bool {
    matches!(
        media_type,
        "image/png" | "image/jpeg" | "image/gif" | "image/webp"
    )
}

/// Percent-encodes a file name for [`FILE_NAME_HEADER`]: everything but unreserved ASCII.
pub fn encode_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes [`FILE_NAME_HEADER`]; `None` when it is not valid percent-encoded UTF-8.
pub fn decode_name(encoded: &str) -> Option<String> {
    let bytes = encoded.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// A file attached to a message: `{fileID}` when sending.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentRef {
    #[serde(rename = "fileID")]
    pub file_id: String,
}

/// A file attached to a stored message, as delivered.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Attachment {
    #[serde(rename = "fileID")]
    pub file_id: String,
    pub name: String,
    pub size: u64,
    #[serde(rename = "type")]
    pub media_type: String,
}

/// The answer to an upload (`POST /files`): the file as messages carry it, and its hash
/// (`{fileID, name, size, type, sha256}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileInfo {
    #[serde(flatten)]
    pub file: Attachment,
    /// Lowercase hex.
    pub sha256: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_upload_answer_is_the_attachment_and_its_hash_flat() {
        let info = FileInfo {
            file: Attachment {
                file_id: "f1".into(),
                name: "a.png".into(),
                size: 3,
                media_type: "image/png".into(),
            },
            sha256: "ab".into(),
        };
        let wire = json!({"fileID": "f1", "name": "a.png", "size": 3, "type": "image/png",
                          "sha256": "ab"});
        assert_eq!(serde_json::to_value(&info).unwrap(), wire);
        assert_eq!(serde_json::from_value::<FileInfo>(wire).unwrap(), info);
    }
}
