//! Making an archive of a running server: the store's snapshot, the certificate and key, the
//! files, and the manifest that checks them.

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::{BackupError, DATABASE, FILES, FORMAT, MANIFEST, Manifest, Part};
use crate::store::Store;

/// What a backup is made from.
pub struct Sources {
    pub store: Arc<dyn Store>,
    pub data_dir: PathBuf,
    pub files_dir: PathBuf,
}

/// A staging directory in the data dir, removed when dropped.
struct Staging(PathBuf);

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// SHA-256 and size of the file at `path`.
fn digest(path: &Path) -> std::io::Result<(String, u64)> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        total += n as u64;
    }
    Ok((hex::encode(hasher.finalize()), total))
}

/// Writes an archive of everything to `out` (made private: it holds the key and the sessions'
/// hashes). Writes to the server go on meanwhile.
pub async fn create(sources: Sources, out: &Path) -> Result<Manifest, BackupError> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let staging = Staging(sources.data_dir.join(format!(".backup-{nanos}")));
    std::fs::create_dir(&staging.0).map_err(BackupError::io("making the staging dir"))?;
    let snapshot = staging.0.join(DATABASE);
    let counts = sources.store.snapshot(&snapshot).await?;
    let created_ms = u64::try_from(natter_protocol::now_ms()).unwrap_or(0);
    let out = out.to_owned();
    let manifest = tokio::task::spawn_blocking(move || {
        let result = write_archive(&sources, &snapshot, counts, created_ms, &out);
        drop(staging);
        result
    })
    .await
    .map_err(|e| BackupError::Io {
        what: "the backup task".into(),
        source: std::io::Error::other(e),
    })??;
    Ok(manifest)
}

fn write_archive(
    sources: &Sources,
    snapshot: &Path,
    counts: crate::store::Counts,
    created_ms: u64,
    out: &Path,
) -> Result<Manifest, BackupError> {
    // (path in the archive, where it is now)
    let mut sources_of: Vec<(String, PathBuf)> = vec![(DATABASE.into(), snapshot.to_owned())];
    for name in [crate::tls::CERT_FILE, crate::tls::KEY_FILE] {
        let path = sources.data_dir.join(name);
        if path.is_file() {
            sources_of.push((name.into(), path));
        }
    }
    match std::fs::read_dir(&sources.files_dir) {
        Ok(entries) => {
            let mut files: Vec<(String, PathBuf)> = Vec::new();
            for entry in entries.flatten() {
                let Ok(name) = entry.file_name().into_string() else {
                    continue;
                };
                // Uploads in progress are not files yet.
                if name.starts_with('.') || !entry.path().is_file() {
                    continue;
                }
                files.push((format!("{FILES}/{name}"), entry.path()));
            }
            files.sort();
            sources_of.extend(files);
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(BackupError::io("reading the files dir")(e)),
    }
    let mut parts = Vec::with_capacity(sources_of.len());
    let mut kept = Vec::with_capacity(sources_of.len());
    for (path, from) in sources_of {
        match digest(&from) {
            Ok((sha256, bytes)) => {
                parts.push(Part {
                    path: path.clone(),
                    bytes,
                    sha256,
                });
                kept.push((path, from));
            }
            // Removed meanwhile (a deleted message's file): not in this backup.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(BackupError::io(format!("reading {}", from.display()))(e)),
        }
    }
    let fingerprint = std::fs::read(sources.data_dir.join(crate::tls::CERT_FILE))
        .ok()
        .and_then(|pem| crate::tls::fingerprint_of_pem(&pem).ok());
    let manifest = Manifest {
        format: FORMAT,
        natter_version: env!("CARGO_PKG_VERSION").into(),
        created_ms,
        counts,
        fingerprint,
        parts,
    };
    let partial = out.with_extension("partial");
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&partial)
        .map_err(BackupError::io(format!("creating {}", partial.display())))?;
    let written = (|| -> std::io::Result<()> {
        let mut tar = tar::Builder::new(file);
        let json = serde_json::to_vec_pretty(&manifest).map_err(std::io::Error::other)?;
        append(&mut tar, MANIFEST, json.len() as u64, &mut json.as_slice())?;
        for (part, (path, from)) in manifest.parts.iter().zip(&kept) {
            // Exactly the bytes hashed: the manifest's size is what goes in.
            let mut reader = File::open(from)?.take(part.bytes);
            append(&mut tar, path, part.bytes, &mut reader)?;
        }
        let mut file = tar.into_inner()?;
        file.flush()?;
        file.sync_all()
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&partial);
        return Err(BackupError::io(format!("writing {}", partial.display()))(e));
    }
    std::fs::rename(&partial, out).map_err(BackupError::io(format!("naming {}", out.display())))?;
    Ok(manifest)
}

fn append<W: Write>(
    tar: &mut tar::Builder<W>,
    path: &str,
    bytes: u64,
    data: &mut impl Read,
) -> std::io::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_size(bytes);
    header.set_mode(0o600);
    header.set_mtime(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    );
    header.set_cksum();
    tar.append_data(&mut header, path, data)
}
