//! The organisation's settings for this computer: a system-wide `desktop.json` that an
//! operator deploys with their usual tools (`natter-server admin desktop-config` writes one).
//! It is read once at start; what it sets wins over the person's own preferences.

use std::path::{Path, PathBuf};

use natter_protocol::{DESKTOP_CONFIG_FILE, Deployed};

/// Reads the file from here instead of the system-wide place (tests, or a per-machine layout
/// of the operator's).
pub const PATH_ENV: &str = "NATTER_DESKTOP_CONFIG";

#[derive(Debug, thiserror::Error)]
pub enum DeployedError {
    #[error("{}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: not a Natter desktop configuration: {source}", path.display())]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
}

/// Where the file is looked for: `NATTER_DESKTOP_CONFIG`, else the system-wide place.
pub fn path() -> PathBuf {
    match std::env::var_os(PATH_ENV) {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => system_dir().join(DESKTOP_CONFIG_FILE),
    }
}

/// The directory every OS user of the computer reads and only administrators write.
fn system_dir() -> PathBuf {
    #[cfg(target_os = "windows")]
    {
        let data = std::env::var_os("ProgramData").unwrap_or_else(|| "C:\\ProgramData".into());
        PathBuf::from(data).join("Natter")
    }
    #[cfg(target_os = "macos")]
    {
        PathBuf::from("/Library/Application Support/Natter")
    }
    #[cfg(not(any(target_os = "windows", target_os = "macos")))]
    {
        PathBuf::from("/etc/natter")
    }
}

/// The file at `path`; no file is no settings.
pub fn read(path: &Path) -> Result<Deployed, DeployedError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Deployed::default()),
        Err(source) => {
            return Err(DeployedError::Read {
                path: path.to_owned(),
                source,
            });
        }
    };
    serde_json::from_slice(&bytes).map_err(|source| DeployedError::Parse {
        path: path.to_owned(),
        source,
    })
}

/// The settings in force. A broken file is logged and imposes nothing: the app still starts,
/// and the person can still reach a server by hand.
pub fn load() -> Deployed {
    let path = path();
    match read(&path) {
        Ok(d) => {
            if d != Deployed::default() {
                tracing::info!(path = %path.display(), "settings deployed by the organisation");
            }
            d
        }
        Err(e) => {
            tracing::error!("ignoring the deployed settings: {e}");
            Deployed::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_file_imposes_nothing_and_a_bad_one_says_where() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("desktop.json");
        assert_eq!(read(&file).unwrap(), Deployed::default());
        std::fs::write(
            &file,
            br#"{"servers": ["10.1.2.3:3000"], "lockServer": true}"#,
        )
        .unwrap();
        assert_eq!(
            read(&file).unwrap().locked_server().as_deref(),
            Some("10.1.2.3:3000")
        );
        std::fs::write(&file, b"{\"servers\": 3}").unwrap();
        let e = read(&file).unwrap_err().to_string();
        assert!(
            e.contains("desktop.json") && e.contains("not a Natter"),
            "{e}"
        );
    }
}
