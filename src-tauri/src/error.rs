//! The one error type of the app's commands; it crosses IPC as its message.

use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not a server address: {0}")]
    InvalidServerUrl(String),
    #[error("not logged in")]
    NotLoggedIn,
    #[error("offline: try again once reconnected")]
    Offline,
    #[error("empty message")]
    EmptyMessage,
    #[error("the server refused: {0}")]
    Rejected(String),
    #[error("the server did not answer in time")]
    Timeout,
    #[error("the connection manager has stopped")]
    Stopped,
    #[error("the server's certificate is not the one shown: look at it again")]
    NothingToTrust,
    #[error("could not save: {0}")]
    Local(String),
}

impl Serialize for AppError {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}
