//! The data dir: private to the server's OS user, and used by one server process at a time.
//!
//! It holds the database, the TLS key and the admin socket: the dir is made 0700 and every
//! file in it 0600 (older files are tightened at start). A second server on the same dir would
//! keep its own in-memory user directory and presence and diverge from the first, so an
//! exclusive lock on `natter.lock` makes it refuse to start instead.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

pub const LOCK_FILE: &str = "natter.lock";

#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    #[error("preparing the data dir {dir}: {source}")]
    Io {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "another natter-server is already running on the data dir {dir} (it holds {LOCK_FILE}); \
         stop it, or give this one its own --data-dir"
    )]
    InUse { dir: PathBuf },
}

/// The data dir, prepared and locked for this process; the lock lasts as long as this value.
#[derive(Debug)]
pub struct DataDir {
    path: PathBuf,
    _lock: File,
}

impl DataDir {
    /// Creates the dir (0700) if needed, tightens what is there, and takes the lock.
    pub fn open(path: &Path) -> Result<Self, DataDirError> {
        let io = |source| DataDirError::Io {
            dir: path.to_owned(),
            source,
        };
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(path)
            .map_err(io)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700)).map_err(io)?;
        for entry in std::fs::read_dir(path).map_err(io)? {
            let entry = entry.map_err(io)?;
            let meta = entry.metadata().map_err(io)?;
            if meta.is_file() && meta.permissions().mode() & 0o077 != 0 {
                std::fs::set_permissions(entry.path(), std::fs::Permissions::from_mode(0o600))
                    .map_err(io)?;
            }
        }
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(path.join(LOCK_FILE))
            .map_err(io)?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(DataDirError::InUse {
                    dir: path.to_owned(),
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        Ok(Self {
            path: path.to_owned(),
            _lock: lock,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Writes a new file readable by the server's OS user only, replacing it atomically.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// Files the process creates from now on are the OS user's only (SQLite's WAL and shared
/// memory files, the admin socket), whatever the umask it was started with.
pub fn restrict_new_files() {
    // SAFETY: umask only swaps the process's file-mode mask; it cannot fail.
    unsafe {
        libc::umask(0o077);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dir_is_private_and_locked_once() {
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("data");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(dir.join("natter.db"), b"").unwrap();
        std::fs::set_permissions(
            dir.join("natter.db"),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();

        let held = DataDir::open(&dir).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("natter.db")), 0o600);
        let second = DataDir::open(&dir).unwrap_err();
        assert!(matches!(second, DataDirError::InUse { .. }), "{second}");
        drop(held);
        DataDir::open(&dir).expect("free again once the first is gone");
    }
}
