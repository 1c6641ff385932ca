//! The handshake: what a client sends to join (`Auth`), why the server may refuse
//! (`Refusal`), what it answers (`Session`), and the certificate fingerprint people compare.

use serde::{Deserialize, Serialize};

/// A certificate's SHA-256 digest as people compare it: uppercase hex pairs joined by colons
/// (`AB:CD:…`), the form `openssl x509 -fingerprint -sha256` prints. The server's banner and
/// the app's trust prompt both show it.
pub fn format_fingerprint(sha256: &[u8]) -> String {
    let mut out = String::with_capacity(sha256.len() * 3);
    for (i, b) in sha256.iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        out.push_str(&format!("{b:02X}"));
    }
    out
}

/// The guide's connect-error message: no usable username (and no known session).
pub const INVALID_USERNAME: &str = "invalid username";

/// Why the server refused a handshake: the connect-error `message` of each case, stable so
/// clients can tell them apart. [`Refusal::is_credential`] tells a refusal of *who you are*
/// (forget the session, ask the person) from one that says "try again later".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The guide's: no username, or one the rules refuse.
    InvalidUsername,
    /// The username is held by another identity (compared after NFKC and case folding).
    NameTaken,
    /// The server needs `joinPassword` for a new session.
    JoinPasswordRequired,
    /// `joinPassword` is wrong.
    WrongJoinPassword,
    /// The name is an account with a password (or the server requires one): send `password`.
    PasswordRequired,
    /// `password` does not match the account's.
    WrongPassword,
    /// A new account's `password` is too short or too long.
    InvalidPassword,
    /// The sessionID was revoked (logged out, or by the operator) or is unknown.
    SessionRevoked,
    /// Too many failed attempts (or new names) from this address: wait before trying again.
    TooManyAttempts,
    /// The user already holds as many connections as the server allows.
    TooManyConnections,
    /// The server cannot serve now (store or directory unreachable): retry later, keep the
    /// session.
    Unavailable,
    /// The directory knows the person, but not as one who may use this server (outside the
    /// server's group, or disabled there).
    NotAllowed,
    /// The server signs people in with the directory only: a name of its own cannot make a
    /// new session.
    DirectoryRequired,
}

impl Refusal {
    pub const ALL: [Refusal; 13] = [
        Refusal::InvalidUsername,
        Refusal::NameTaken,
        Refusal::JoinPasswordRequired,
        Refusal::WrongJoinPassword,
        Refusal::PasswordRequired,
        Refusal::WrongPassword,
        Refusal::InvalidPassword,
        Refusal::SessionRevoked,
        Refusal::TooManyAttempts,
        Refusal::TooManyConnections,
        Refusal::Unavailable,
        Refusal::NotAllowed,
        Refusal::DirectoryRequired,
    ];

    /// The connect-error message.
    pub fn message(self) -> &'static str {
        match self {
            Refusal::InvalidUsername => INVALID_USERNAME,
            Refusal::NameTaken => "name taken",
            Refusal::JoinPasswordRequired => "join password required",
            Refusal::WrongJoinPassword => "wrong join password",
            Refusal::PasswordRequired => "password required",
            Refusal::WrongPassword => "wrong password",
            Refusal::InvalidPassword => "a password needs at least 8 characters",
            Refusal::SessionRevoked => "session revoked",
            Refusal::TooManyAttempts => "too many attempts, try again later",
            Refusal::TooManyConnections => "too many connections for this user",
            Refusal::Unavailable => "server unavailable, try again",
            Refusal::NotAllowed => "not allowed on this server",
            Refusal::DirectoryRequired => "directory sign-in required",
        }
    }

    /// The refusal a connect-error message names, if it is one of ours.
    pub fn from_message(message: &str) -> Option<Refusal> {
        Refusal::ALL.into_iter().find(|r| r.message() == message)
    }

    /// Whether the refusal is about the credentials themselves: retrying the same handshake
    /// cannot succeed. `TooManyAttempts` and `Unavailable` pass with time.
    pub fn is_credential(self) -> bool {
        !matches!(
            self,
            Refusal::TooManyAttempts | Refusal::TooManyConnections | Refusal::Unavailable
        )
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

/// Handshake auth: `{sessionID}` to resume, otherwise `{username}` to start a new session.
///
/// Auth that does not parse as this (a number, `null`, a field of the wrong type) is refused
/// with [`INVALID_USERNAME`], like a missing username.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Auth {
    #[serde(rename = "sessionID", default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Extension: the account's password. On a new name it creates the account with it; on an
    /// existing account it signs in (a new session for the same userID).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// Extension: the server's join password, needed for a new session when the server has one.
    #[serde(
        rename = "joinPassword",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub join_password: Option<String>,
    /// Extension: presence changes come batched in [`event::PRESENCE`] instead of one
    /// `user connected` / `user disconnected` each.
    #[serde(
        rename = "batchPresence",
        default,
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub batch_presence: bool,
}

/// Extension `set password`: protect one's name with a password, or change it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetPassword {
    pub password: String,
    /// Required when the account already has a password.
    #[serde(
        rename = "currentPassword",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub current_password: Option<String>,
}

/// The shortest account password, in characters.
pub const PASSWORD_MIN_CHARS: usize = 8;
/// The longest account or join password, in bytes (hashing has a cost per byte).
pub const PASSWORD_MAX_BYTES: usize = 1024;

/// `session`: the secret sessionID (only ever sent to its owner) and the public userID.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    #[serde(rename = "sessionID")]
    pub session_id: String,
    #[serde(rename = "userID")]
    pub user_id: String,
    /// Extension: the username bound to this session, so a resumed client can show it.
    #[serde(default)]
    pub username: String,
    /// Extension: whether others see how far this user has read (`set receipts`).
    #[serde(default = "yes")]
    pub receipts: bool,
    /// Extension: the name the office directory gives this person (a server that signs
    /// people in with the directory); `username` stays the login name.
    #[serde(
        rename = "displayName",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub display_name: Option<String>,
}

fn yes() -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_read_like_openssls() {
        assert_eq!(format_fingerprint(&[0xAB, 0x01, 0xFF]), "AB:01:FF");
        assert_eq!(format_fingerprint(&[0u8; 32]).len(), 95);
    }

    #[test]
    fn refusals_round_trip_and_tell_credentials_from_outages() {
        for r in Refusal::ALL {
            assert_eq!(Refusal::from_message(r.message()), Some(r));
        }
        assert_eq!(Refusal::InvalidUsername.message(), "invalid username");
        assert!(Refusal::WrongPassword.is_credential());
        assert!(Refusal::SessionRevoked.is_credential());
        assert!(!Refusal::Unavailable.is_credential());
        assert!(!Refusal::TooManyAttempts.is_credential());
        assert!(Refusal::NotAllowed.is_credential());
        assert!(Refusal::DirectoryRequired.is_credential());
        assert_eq!(Refusal::from_message("EngineIO Error"), None);
    }
}
