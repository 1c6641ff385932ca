//! Signing in with the office directory: what a server tells an app before it signs in, so
//! the login form can ask for the network account rather than a name of one's own.

use serde::{Deserialize, Serialize};

/// `GET` this path (no credentials): [`AuthInfo`].
pub const AUTH_INFO_PATH: &str = "/auth-info";

/// How a server signs people in.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthInfo {
    /// New sessions are made only by the directory (`auth {username, password}` with the
    /// directory login name and password).
    pub directory: bool,
    /// The server's name, as it announces itself on the LAN.
    pub name: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_info_reads_as_documented() {
        let info: AuthInfo =
            serde_json::from_str(r#"{"directory": true, "name": "office"}"#).unwrap();
        assert_eq!(
            info,
            AuthInfo {
                directory: true,
                name: "office".into()
            }
        );
    }
}
