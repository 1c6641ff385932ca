//! Persistence of the session and the outbox: `natter.json` in the app data dir.
//!
//! The file is replaced atomically on every change (written beside it, synced, renamed over
//! it): the app may be killed or the machine may lose power at any moment, and a torn file
//! would forget both who the person is and the messages still waiting to be sent. (The
//! tauri-plugin-store used before wrote the file in place.)

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use natter_protocol::ipc::OutboxEntry;
use serde::{Deserialize, Serialize};

/// The identity to resume without asking: server, secret sessionID, public userID, name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SavedSession {
    pub server_url: String,
    #[serde(rename = "sessionID")]
    pub session_id: String,
    #[serde(rename = "userID")]
    pub user_id: String,
    pub username: String,
    /// What the office directory calls the person (directory sign-in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
}

impl SavedSession {
    pub fn to_session(&self) -> natter_protocol::Session {
        natter_protocol::Session {
            session_id: self.session_id.clone(),
            user_id: self.user_id.clone(),
            username: self.username.clone(),
            // Until the server's `session` says otherwise.
            receipts: true,
            display_name: self.display_name.clone(),
        }
    }
}

const SESSION_KEY: &str = "session";
const OUTBOX_KEY: &str = "outbox";
const PINS_KEY: &str = "pins";

/// Trusted server certificates: server URL (one node) → SHA-256 fingerprint.
pub type Pins = std::collections::BTreeMap<String, String>;

/// Where the connection manager keeps what must survive a restart of the app.
pub trait Persist: Send + 'static {
    fn load(&self) -> (Option<SavedSession>, Vec<OutboxEntry>);
    fn save_session(&self, session: Option<&SavedSession>);
    fn save_outbox(&self, outbox: &[OutboxEntry]);
    fn load_pins(&self) -> Pins;
    fn save_pins(&self, pins: &Pins);
}

/// The state file; same layout as the plugin-store file of earlier versions, so an update
/// keeps the session: `{"session": {…}, "outbox": […]}`.
pub struct FilePersist {
    path: PathBuf,
    state: Mutex<State>,
}

#[derive(Default, Serialize)]
struct State {
    #[serde(skip_serializing_if = "Option::is_none")]
    session: Option<SavedSession>,
    outbox: Vec<OutboxEntry>,
    #[serde(skip_serializing_if = "Pins::is_empty")]
    pins: Pins,
}

impl FilePersist {
    /// Reads `path` if it exists. An unreadable file is moved aside (`.corrupt`) and the app
    /// starts without a session rather than not at all.
    pub fn open(path: PathBuf) -> Self {
        let state = match fs::read(&path) {
            Ok(bytes) => parse(&bytes).unwrap_or_else(|e| {
                let aside = path.with_extension("json.corrupt");
                tracing::error!(file = %path.display(), error = %e, "unreadable state file, moved to {}", aside.display());
                if let Err(e) = fs::rename(&path, &aside) {
                    tracing::error!(error = %e, "could not move the state file aside");
                }
                State::default()
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => State::default(),
            Err(e) => {
                tracing::error!(file = %path.display(), error = %e, "could not read the state file");
                State::default()
            }
        };
        Self {
            path,
            state: Mutex::new(state),
        }
    }

    fn update(&self, change: impl FnOnce(&mut State)) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        change(&mut state);
        let result = serde_json::to_vec_pretty(&*state)
            .map_err(std::io::Error::from)
            .and_then(|bytes| replace_file(&self.path, &bytes));
        if let Err(e) = result {
            tracing::error!(file = %self.path.display(), error = %e, "could not save the app's state");
        }
    }
}

/// Each part on its own: a session that no longer parses does not cost the outbox.
fn parse(bytes: &[u8]) -> serde_json::Result<State> {
    let mut value: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(bytes)?;
    let mut part = |key: &str| value.remove(key).unwrap_or_default();
    Ok(State {
        session: serde_json::from_value(part(SESSION_KEY)).unwrap_or_default(),
        outbox: serde_json::from_value(part(OUTBOX_KEY)).unwrap_or_default(),
        pins: serde_json::from_value(part(PINS_KEY)).unwrap_or_default(),
    })
}

/// Writes `bytes` beside `path`, syncs, and renames over `path`: a reader sees the old
/// content or the new, never part of it.
pub(crate) fn replace_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let tmp = path.with_extension("json.tmp");
    let mut file = fs::File::create(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    fs::rename(&tmp, path)?;
    // The rename itself survives a power cut only once the directory is synced.
    #[cfg(unix)]
    fs::File::open(dir)?.sync_all()?;
    Ok(())
}

impl Persist for FilePersist {
    fn load(&self) -> (Option<SavedSession>, Vec<OutboxEntry>) {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        (state.session.clone(), state.outbox.clone())
    }

    fn save_session(&self, session: Option<&SavedSession>) {
        self.update(|s| s.session = session.cloned());
    }

    fn save_outbox(&self, outbox: &[OutboxEntry]) {
        self.update(|s| s.outbox = outbox.to_vec());
    }

    fn load_pins(&self) -> Pins {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pins
            .clone()
    }

    fn save_pins(&self, pins: &Pins) {
        self.update(|s| s.pins = pins.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> SavedSession {
        SavedSession {
            server_url: "http://192.168.1.20:3000".into(),
            session_id: "secret".into(),
            user_id: "u1".into(),
            username: "alice".into(),
            display_name: None,
        }
    }

    fn entry(id: &str) -> OutboxEntry {
        serde_json::from_value(serde_json::json!({
            "clientId": id, "to": "u2", "content": "hello", "createdAt": 1
        }))
        .unwrap()
    }

    #[test]
    fn what_is_saved_is_loaded_by_the_next_run() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("natter.json");
        let p = FilePersist::open(path.clone());
        assert_eq!(p.load(), (None, vec![]));
        p.save_session(Some(&session()));
        p.save_outbox(&[entry("c1"), entry("c2")]);
        let again = FilePersist::open(path.clone());
        assert_eq!(
            again.load(),
            (Some(session()), vec![entry("c1"), entry("c2")])
        );
        let mut pins = Pins::new();
        pins.insert("https://10.0.0.1:3000".into(), "AB:CD".into());
        again.save_pins(&pins);
        again.save_session(None);
        let third = FilePersist::open(path);
        assert_eq!(third.load().0, None);
        assert_eq!(third.load_pins(), pins, "pins outlive a logout");
    }

    #[test]
    fn a_save_that_does_not_complete_leaves_the_previous_state() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("natter.json");
        let p = FilePersist::open(path.clone());
        p.save_session(Some(&session()));
        // The next save cannot write its new content (its temporary name is taken by a
        // directory): the file on disk must still be the previous one, whole.
        fs::create_dir(path.with_extension("json.tmp")).unwrap();
        p.save_outbox(&[entry("c1")]);
        assert_eq!(FilePersist::open(path).load(), (Some(session()), vec![]));
    }

    #[test]
    fn a_leftover_of_an_interrupted_save_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("natter.json");
        FilePersist::open(path.clone()).save_session(Some(&session()));
        fs::write(path.with_extension("json.tmp"), b"{\"session\": {\"serv").unwrap();
        assert_eq!(FilePersist::open(path).load().0, Some(session()));
    }

    #[test]
    fn a_file_of_the_plugin_store_era_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("natter.json");
        fs::write(
            &path,
            r#"{
  "session": {"serverUrl": "http://192.168.1.20:3000", "sessionID": "secret", "userID": "u1", "username": "alice"},
  "outbox": [{"clientId": "c1", "to": "u2", "content": "hello", "createdAt": 1}]
}"#,
        )
        .unwrap();
        assert_eq!(
            FilePersist::open(path).load(),
            (Some(session()), vec![entry("c1")])
        );
    }

    #[test]
    fn an_unreadable_file_is_moved_aside_and_the_app_starts_fresh() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("natter.json");
        fs::write(&path, b"{\"session\": {\"serv").unwrap();
        let p = FilePersist::open(path.clone());
        assert_eq!(p.load(), (None, vec![]));
        assert!(path.with_extension("json.corrupt").exists());
        p.save_session(Some(&session()));
        assert_eq!(FilePersist::open(path).load().0, Some(session()));
    }
}
