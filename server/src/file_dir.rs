//! Where uploaded files' bytes live: one file per fileID in the files dir, its image preview
//! beside it. The records are the store's; this is only the disk.

use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct FileDir(PathBuf);

impl FileDir {
    pub fn new(dir: PathBuf) -> Self {
        Self(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// The bytes of `file_id`.
    pub fn file(&self, file_id: &str) -> PathBuf {
        self.0.join(file_id)
    }

    /// Its preview (a PNG), made on first request.
    pub fn preview(&self, file_id: &str) -> PathBuf {
        self.0.join(format!("{file_id}.preview.png"))
    }

    /// Where an upload is written before it is complete.
    pub fn upload(&self, file_id: &str) -> PathBuf {
        self.0.join(format!(".upload-{file_id}"))
    }

    /// Removes a file and its preview for good (its record is already gone). A file id that is
    /// not one of ours (it names another path) is left alone.
    pub async fn remove(&self, file_id: &str) {
        if !crate::ids::is_file_id(file_id) {
            tracing::warn!(file = file_id, "not removing a file with an unexpected id");
            return;
        }
        for path in [self.file(file_id), self.preview(file_id)] {
            match tokio::fs::remove_file(&path).await {
                Ok(()) => tracing::debug!(path = %path.display(), "file removed"),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "could not remove a file")
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_removed_file_takes_its_preview_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let files = FileDir::new(dir.path().to_owned());
        let id = crate::ids::new_file_id().unwrap();
        std::fs::write(files.file(&id), b"x").unwrap();
        std::fs::write(files.preview(&id), b"p").unwrap();
        std::fs::write(dir.path().join("other"), b"o").unwrap();
        files.remove(&id).await;
        assert!(!files.file(&id).exists() && !files.preview(&id).exists());
        files.remove("../other").await;
        files.remove("other").await;
        assert!(dir.path().join("other").exists());
    }
}
