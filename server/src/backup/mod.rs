//! Backups of a running server and restoring them.
//!
//! An archive is a tar file: `manifest.json` first (the format, the server's version, when,
//! what it holds, and every part's size and SHA-256), then the parts: `natter.db` (a consistent
//! snapshot, see [`crate::store::Upkeep::snapshot`]), `cert.pem` and `key.pem`, and the files
//! directory's files under `files/`. [`create`] makes one while the server keeps accepting
//! writes; [`restore`] checks every part against the manifest before anything is written to
//! the data dir.

mod create;
mod restore;

use serde::{Deserialize, Serialize};

pub use create::{Sources, create};
pub use restore::restore;

use crate::store::Counts;

pub const MANIFEST: &str = "manifest.json";
pub const DATABASE: &str = "natter.db";
/// Where the files directory's files go in an archive.
pub const FILES: &str = "files";
/// The archive format this server writes and reads.
pub const FORMAT: u32 = 1;

/// What an archive holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub natter_version: String,
    /// When the snapshot was taken (ms since the epoch).
    pub created_ms: u64,
    pub counts: Counts,
    /// The TLS certificate's fingerprint, when the archive holds it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    pub parts: Vec<Part>,
}

/// One file of an archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part {
    /// Its path in the archive (and under the data dir once restored).
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
}

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0}")]
    Store(#[from] crate::store::StoreError),
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("the archive is not a Natter backup: {0}")]
    NotABackup(String),
    #[error("the archive is damaged or truncated: {0}")]
    Damaged(String),
    #[error("{0} is not empty: restore into an empty directory, or pass --force to replace it")]
    NotEmpty(std::path::PathBuf),
    #[error(transparent)]
    DataDir(#[from] crate::datadir::DataDirError),
    #[error("the restored database fails its integrity check: {0}")]
    Integrity(String),
}

impl BackupError {
    fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> BackupError {
        let what = what.into();
        move |source| BackupError::Io { what, source }
    }
}

/// Whether `path` (from an archive) is a plain relative path: no `..`, no root, no prefix.
fn is_plain(path: &str) -> bool {
    let p = std::path::Path::new(path);
    !path.is_empty()
        && p.components()
            .all(|c| matches!(c, std::path::Component::Normal(_)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_relative_paths_are_taken_from_an_archive() {
        assert!(is_plain("natter.db"));
        assert!(is_plain("files/abc"));
        assert!(!is_plain("../etc/passwd"));
        assert!(!is_plain("/etc/passwd"));
        assert!(!is_plain("files/../../x"));
        assert!(!is_plain(""));
    }
}
