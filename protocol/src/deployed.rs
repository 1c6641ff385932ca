//! Settings an organisation deploys to every computer (a system-wide `desktop.json`), which win
//! over each person's own. `natter-server admin desktop-config` writes one; the desktop shell
//! reads it and hands it to the UI as it is, so the UI can say what is set by the organisation.

use serde::{Deserialize, Serialize};

/// The file's name in the system-wide directory (`/etc/natter/` on Linux).
pub const DESKTOP_CONFIG_FILE: &str = "desktop.json";

/// `desktop.json`. Every field may be left out: nothing is then imposed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Deployed {
    /// The server's addresses as a person would type them (several: the nodes of a cluster).
    /// The login form starts with them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub servers: Vec<String>,
    /// The certificate fingerprint (SHA-256, `AB:CD:…`) trusted without the first-contact
    /// prompt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// The person cannot change the server address (it needs `servers`).
    #[serde(default)]
    pub lock_server: bool,
    /// Look for servers on the LAN (`false`: never).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discovery: Option<bool>,
    /// Start Natter at login, whatever the person chose.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autostart: Option<bool>,
}

impl Deployed {
    /// The server addresses when the person may not change them: as one login field (commas
    /// between the nodes of a cluster).
    pub fn locked_server(&self) -> Option<String> {
        (self.lock_server && !self.servers.is_empty()).then(|| self.servers.join(", "))
    }

    /// Whether `fingerprint` is the deployed one (compared without case or separators, so
    /// `ab:cd…` and `ABCD…` are the same).
    pub fn trusts(&self, fingerprint: &str) -> bool {
        let bare = |f: &str| {
            f.chars()
                .filter(char::is_ascii_hexdigit)
                .map(|c| c.to_ascii_uppercase())
                .collect::<String>()
        };
        self.fingerprint
            .as_deref()
            .is_some_and(|ours| bare(ours).len() == 64 && bare(ours) == bare(fingerprint))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_as_an_operator_writes_it() {
        let d: Deployed = serde_json::from_str(
            r#"{"servers": ["10.0.0.5:3000", "10.0.0.6:3000"], "lockServer": true,
                "fingerprint": "ab:cd", "discovery": false}"#,
        )
        .unwrap();
        assert_eq!(
            d.locked_server().as_deref(),
            Some("10.0.0.5:3000, 10.0.0.6:3000")
        );
        assert_eq!(d.discovery, Some(false));
        assert_eq!(d.autostart, None);
        assert!(serde_json::from_str::<Deployed>(r#"{"lockserver": true}"#).is_err());
        let unlocked = Deployed {
            servers: vec!["a".into()],
            ..Deployed::default()
        };
        assert_eq!(unlocked.locked_server(), None, "not locked");
    }

    #[test]
    fn fingerprints_compare_without_case_or_colons() {
        let fp = "0123456789abcdef".repeat(4);
        let d = Deployed {
            fingerprint: Some(fp.clone()),
            ..Deployed::default()
        };
        let colons =
            crate::format_fingerprint(&[0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF].repeat(4));
        assert!(d.trusts(&colons));
        assert!(!d.trusts(&colons.replace("01", "02")));
        let short = Deployed {
            fingerprint: Some("AB".into()),
            ..Deployed::default()
        };
        assert!(!short.trusts("AB"), "a fingerprint is 32 bytes");
        assert!(!Deployed::default().trusts(&colons));
    }
}
