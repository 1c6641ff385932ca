//! Restoring an archive into a data dir, with the server stopped. Everything is unpacked into
//! a staging dir beside it and checked (every part against the manifest, the database's
//! integrity) before the data dir is touched: a damaged archive leaves it as it was.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::{BackupError, DATABASE, FILES, FORMAT, MANIFEST, Manifest, is_plain};
use crate::datadir::{DataDir, LOCK_FILE};

/// The largest manifest read (a million files' lines).
const MAX_MANIFEST_BYTES: u64 = 256 << 20;

/// Removes the staging dir unless it was moved into place.
struct Staging(PathBuf);

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Restores `archive` into `data_dir`: empty (or missing), or replaced with `force`.
pub fn restore(archive: &Path, data_dir: &Path, force: bool) -> Result<Manifest, BackupError> {
    if !force && has_data(data_dir)? {
        return Err(BackupError::NotEmpty(data_dir.to_owned()));
    }
    let parent = data_dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)
        .map_err(BackupError::io(format!("making {}", parent.display())))?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let staging = Staging(parent.join(format!(".natter-restore-{nanos}")));
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&staging.0)
        .map_err(BackupError::io("making the staging dir"))?;
    let manifest = unpack(archive, &staging.0)?;
    check_database(&staging.0.join(DATABASE))?;

    // Checked: now the data dir. The lock refuses a server running on it.
    let dir = DataDir::open(data_dir)?;
    if force {
        clear(dir.path())?;
    }
    for entry in
        std::fs::read_dir(&staging.0).map_err(BackupError::io("reading the staging dir"))?
    {
        let entry = entry.map_err(BackupError::io("reading the staging dir"))?;
        let to = dir.path().join(entry.file_name());
        std::fs::rename(entry.path(), &to)
            .map_err(BackupError::io(format!("moving into {}", to.display())))?;
    }
    Ok(manifest)
}

/// Whether `dir` holds anything but a lock file.
fn has_data(dir: &Path) -> Result<bool, BackupError> {
    match std::fs::read_dir(dir) {
        Ok(entries) => Ok(entries.flatten().any(|e| e.file_name() != LOCK_FILE)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(BackupError::io(format!("reading {}", dir.display()))(e)),
    }
}

/// Empties the data dir (but its lock, which we hold).
fn clear(dir: &Path) -> Result<(), BackupError> {
    for entry in std::fs::read_dir(dir).map_err(BackupError::io("reading the data dir"))? {
        let entry = entry.map_err(BackupError::io("reading the data dir"))?;
        if entry.file_name() == LOCK_FILE {
            continue;
        }
        let path = entry.path();
        let removed = if path.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        removed.map_err(BackupError::io(format!("removing {}", path.display())))?;
    }
    Ok(())
}

/// Unpacks `archive` into `into`, checking each part against the manifest as it is written.
fn unpack(archive: &Path, into: &Path) -> Result<Manifest, BackupError> {
    let file =
        File::open(archive).map_err(BackupError::io(format!("opening {}", archive.display())))?;
    let mut tar = tar::Archive::new(file);
    let damaged = |e: std::io::Error| BackupError::Damaged(e.to_string());
    let not_a_backup =
        |e: std::io::Error| BackupError::NotABackup(format!("not a tar archive ({e})"));
    let mut entries = tar.entries().map_err(not_a_backup)?;
    let first = entries
        .next()
        .ok_or_else(|| BackupError::NotABackup("it is empty".into()))?
        .map_err(not_a_backup)?;
    if first.path().map_err(damaged)?.to_str() != Some(MANIFEST) {
        return Err(BackupError::NotABackup(format!(
            "it does not start with {MANIFEST}"
        )));
    }
    let mut json = Vec::new();
    first
        .take(MAX_MANIFEST_BYTES)
        .read_to_end(&mut json)
        .map_err(damaged)?;
    let manifest: Manifest = serde_json::from_slice(&json)
        .map_err(|e| BackupError::NotABackup(format!("its manifest does not read: {e}")))?;
    if manifest.format != FORMAT {
        return Err(BackupError::NotABackup(format!(
            "format {} (this server reads {FORMAT})",
            manifest.format
        )));
    }
    let mut expected: HashMap<&str, &super::Part> = HashMap::new();
    for part in &manifest.parts {
        if !is_plain(&part.path) || expected.insert(&part.path, part).is_some() {
            return Err(BackupError::NotABackup(format!(
                "a bad part {:?}",
                part.path
            )));
        }
    }
    if !expected.contains_key(DATABASE) {
        return Err(BackupError::NotABackup("it holds no database".into()));
    }
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(into.join(FILES))
        .map_err(BackupError::io("making the files dir"))?;
    for entry in entries {
        let mut entry = entry.map_err(damaged)?;
        let path = entry
            .path()
            .map_err(damaged)?
            .to_string_lossy()
            .into_owned();
        let Some(part) = expected.remove(path.as_str()) else {
            return Err(BackupError::Damaged(format!(
                "{path:?} is not in the manifest"
            )));
        };
        let to = into.join(&part.path);
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&to)
            .map_err(BackupError::io(format!("writing {}", to.display())))?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 64 * 1024];
        let mut total = 0u64;
        loop {
            let n = entry.read(&mut buf).map_err(damaged)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            out.write_all(&buf[..n])
                .map_err(BackupError::io(format!("writing {}", to.display())))?;
            total += n as u64;
        }
        out.sync_all()
            .map_err(BackupError::io(format!("writing {}", to.display())))?;
        let sha256 = hex::encode(hasher.finalize());
        if total != part.bytes || sha256 != part.sha256 {
            return Err(BackupError::Damaged(format!(
                "{path}: {total} bytes with SHA-256 {sha256}, the manifest says {} bytes with {}",
                part.bytes, part.sha256
            )));
        }
    }
    if let Some(missing) = expected.keys().next() {
        return Err(BackupError::Damaged(format!(
            "{} part(s) missing, {missing:?} among them: the archive is cut short",
            expected.len()
        )));
    }
    Ok(manifest)
}

fn check_database(path: &Path) -> Result<(), BackupError> {
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|e| BackupError::Integrity(e.to_string()))?;
    let verdict: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .map_err(|e| BackupError::Integrity(e.to_string()))?;
    if verdict != "ok" {
        return Err(BackupError::Integrity(verdict));
    }
    Ok(())
}
