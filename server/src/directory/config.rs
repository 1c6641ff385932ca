//! The directory's flags (`--ldap-*`, each also `NATTER_LDAP_*`) and the checked
//! configuration made from them.

use std::path::PathBuf;
use std::time::Duration;

use clap::builder::BoolishValueParser;

/// The filter that finds a person by the name they type: OpenLDAP's `uid` or Active
/// Directory's `sAMAccountName`. `{username}` is replaced by the name, escaped.
pub const DEFAULT_USER_FILTER: &str = "(|(uid={username})(sAMAccountName={username}))";

/// Sign people in with the office directory (LDAP / Active Directory).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct LdapArgs {
    /// The directory: `ldaps://host:636`, or `ldap://host:389` (StartTLS). With it, new
    /// sessions are made only by the directory.
    #[arg(long = "ldap-url", env = "NATTER_LDAP_URL")]
    pub url: Option<String>,

    /// The directory's CA certificate (PEM) [default: the system's roots].
    #[arg(long = "ldap-ca-file", env = "NATTER_LDAP_CA_FILE", requires = "url")]
    pub ca_file: Option<PathBuf>,

    /// A service account that may search the directory [default: anonymous search].
    #[arg(long = "ldap-bind-dn", env = "NATTER_LDAP_BIND_DN", requires = "url")]
    pub bind_dn: Option<String>,

    /// A file holding the service account's password (its first line).
    #[arg(
        long = "ldap-bind-password-file",
        env = "NATTER_LDAP_BIND_PASSWORD_FILE",
        requires = "bind_dn"
    )]
    pub bind_password_file: Option<PathBuf>,

    /// Where people are searched, e.g. `ou=people,dc=example,dc=com`.
    #[arg(long = "ldap-base-dn", env = "NATTER_LDAP_BASE_DN", requires = "url")]
    pub base_dn: Option<String>,

    /// The search filter; `{username}` stands for the name typed (escaped as RFC 4515 says).
    #[arg(
        long = "ldap-user-filter",
        env = "NATTER_LDAP_USER_FILTER",
        default_value = DEFAULT_USER_FILTER
    )]
    pub user_filter: String,

    /// Only members of this group may sign in (directly, or through AD's `memberOf`).
    #[arg(long = "ldap-group-dn", env = "NATTER_LDAP_GROUP_DN", requires = "url")]
    pub group_dn: Option<String>,

    /// The attribute holding a person's display name (`cn` when it is missing).
    #[arg(
        long = "ldap-display-name-attr",
        env = "NATTER_LDAP_DISPLAY_NAME_ATTR",
        default_value = "displayName"
    )]
    pub display_name_attr: String,

    /// How often signed-in people are checked against the directory (gone, out of the group
    /// or disabled: their sessions end).
    #[arg(
        long = "ldap-recheck-minutes",
        env = "NATTER_LDAP_RECHECK_MINUTES",
        default_value_t = 15
    )]
    pub recheck_minutes: u64,

    /// Talk plain LDAP to an `ldap://` directory, without StartTLS: passwords cross the
    /// network unencrypted.
    #[arg(
        long = "ldap-insecure",
        env = "NATTER_LDAP_INSECURE",
        value_parser = BoolishValueParser::new(),
        requires = "url"
    )]
    pub insecure: bool,
}

/// How the connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// `ldaps://`: TLS from the first byte.
    Ldaps,
    /// `ldap://` upgraded with StartTLS before anything else is sent.
    StartTls,
    /// `ldap://` with `--ldap-insecure`: nothing encrypted.
    Plain,
}

/// The directory configuration, checked.
#[derive(Debug, Clone)]
pub struct DirectoryConfig {
    pub url: String,
    pub transport: Transport,
    pub ca_file: Option<PathBuf>,
    /// The service account and its password; anonymous search when `None`.
    pub bind: Option<(String, String)>,
    pub base_dn: String,
    pub user_filter: String,
    pub group_dn: Option<String>,
    pub display_name_attr: String,
    pub recheck_every: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum DirectoryConfigError {
    #[error("--ldap-url must start with ldaps:// or ldap://, not {0:?}")]
    Scheme(String),
    #[error("--ldap-insecure is for ldap:// URLs (ldaps:// is always encrypted)")]
    InsecureLdaps,
    #[error("--ldap-base-dn is needed with --ldap-url")]
    NoBaseDn,
    #[error("--ldap-user-filter must contain {{username}} and be in parentheses: {0:?}")]
    Filter(String),
    #[error("--ldap-bind-dn needs --ldap-bind-password-file")]
    NoBindPassword,
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the bind password file {0} is empty")]
    EmptyBindPassword(PathBuf),
    #[error("--ldap-recheck-minutes must be at least 1")]
    Recheck,
}

impl LdapArgs {
    /// The checked configuration; `None` without `--ldap-url`.
    pub fn config(&self) -> Result<Option<DirectoryConfig>, DirectoryConfigError> {
        let Some(url) = self.url.clone() else {
            return Ok(None);
        };
        let lower = url.to_ascii_lowercase();
        let transport = if lower.starts_with("ldaps://") {
            if self.insecure {
                return Err(DirectoryConfigError::InsecureLdaps);
            }
            Transport::Ldaps
        } else if lower.starts_with("ldap://") {
            if self.insecure {
                Transport::Plain
            } else {
                Transport::StartTls
            }
        } else {
            return Err(DirectoryConfigError::Scheme(url));
        };
        let base_dn = self.base_dn.clone().ok_or(DirectoryConfigError::NoBaseDn)?;
        let filter = self.user_filter.trim();
        if !filter.contains("{username}") || !filter.starts_with('(') || !filter.ends_with(')') {
            return Err(DirectoryConfigError::Filter(self.user_filter.clone()));
        }
        let bind = match (&self.bind_dn, &self.bind_password_file) {
            (None, _) => None,
            (Some(_), None) => return Err(DirectoryConfigError::NoBindPassword),
            (Some(dn), Some(path)) => {
                let text =
                    std::fs::read_to_string(path).map_err(|source| DirectoryConfigError::Read {
                        path: path.clone(),
                        source,
                    })?;
                let password = text.lines().next().unwrap_or_default().to_owned();
                if password.is_empty() {
                    return Err(DirectoryConfigError::EmptyBindPassword(path.clone()));
                }
                Some((dn.clone(), password))
            }
        };
        if self.recheck_minutes == 0 {
            return Err(DirectoryConfigError::Recheck);
        }
        Ok(Some(DirectoryConfig {
            url,
            transport,
            ca_file: self.ca_file.clone(),
            bind,
            base_dn,
            user_filter: filter.to_owned(),
            group_dn: self.group_dn.clone(),
            display_name_attr: self.display_name_attr.clone(),
            recheck_every: Duration::from_secs(self.recheck_minutes * 60),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(url: &str) -> LdapArgs {
        LdapArgs {
            url: Some(url.into()),
            base_dn: Some("dc=example,dc=com".into()),
            user_filter: DEFAULT_USER_FILTER.into(),
            display_name_attr: "displayName".into(),
            recheck_minutes: 15,
            ..LdapArgs::default()
        }
    }

    #[test]
    fn the_url_decides_how_the_connection_is_protected() {
        let t = |a: LdapArgs| a.config().unwrap().unwrap().transport;
        assert_eq!(t(args("ldaps://dc1:636")), Transport::Ldaps);
        assert_eq!(t(args("ldap://dc1:389")), Transport::StartTls);
        let insecure = LdapArgs {
            insecure: true,
            ..args("ldap://dc1")
        };
        assert_eq!(t(insecure), Transport::Plain);
        let pointless = LdapArgs {
            insecure: true,
            ..args("ldaps://dc1")
        };
        assert!(matches!(
            pointless.config(),
            Err(DirectoryConfigError::InsecureLdaps)
        ));
        assert!(matches!(
            args("http://dc1").config(),
            Err(DirectoryConfigError::Scheme(_))
        ));
        assert!(LdapArgs::default().config().unwrap().is_none());
    }

    #[test]
    fn a_filter_must_take_the_username() {
        let bad = LdapArgs {
            user_filter: "(uid=alice)".into(),
            ..args("ldaps://dc1")
        };
        assert!(matches!(bad.config(), Err(DirectoryConfigError::Filter(_))));
        let no_base = LdapArgs {
            base_dn: None,
            ..args("ldaps://dc1")
        };
        assert!(matches!(
            no_base.config(),
            Err(DirectoryConfigError::NoBaseDn)
        ));
    }

    #[test]
    fn the_bind_password_is_the_files_first_line() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bind");
        std::fs::write(&file, "s3cret\nignored\n").unwrap();
        let a = LdapArgs {
            bind_dn: Some("cn=natter,dc=example,dc=com".into()),
            bind_password_file: Some(file.clone()),
            ..args("ldaps://dc1")
        };
        let (dn, password) = a.config().unwrap().unwrap().bind.unwrap();
        assert_eq!(
            (dn.as_str(), password.as_str()),
            ("cn=natter,dc=example,dc=com", "s3cret")
        );
        std::fs::write(&file, "\n").unwrap();
        assert!(matches!(
            a.config(),
            Err(DirectoryConfigError::EmptyBindPassword(_))
        ));
    }
}
