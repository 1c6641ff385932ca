//! Signing people in with the office directory (LDAP: OpenLDAP, Active Directory, FreeIPA,
//! Samba AD), on ldap3.
//!
//! - [`config`]: the `--ldap-*` flags and the checked configuration.
//! - `connect`: one connection (TLS or StartTLS, timeouts, the service account's bind), the
//!   searches and the password check.
//! - `entry`: what an entry says (login and display names, groups, disabled) and the escaped
//!   filters; plain functions with tests.
//! - [`recheck`]: people who left, left the group or were disabled lose their sessions.
//!
//! A sign-in finds the person with the service account, checks their password by binding as
//! them, and only then says whether they may use this server: someone without the password
//! learns nothing about membership. The password is never stored or logged; it goes only to
//! the directory, over TLS unless the operator said `--ldap-insecure`.

pub mod config;
mod connect;
mod entry;
pub mod recheck;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use config::{DirectoryConfig, LdapArgs, Transport};
use connect::Connection;
use entry::Entry;

/// Why the directory could not answer (never about the person's credentials).
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error("directory unreachable: {0}")]
    Unreachable(String),
    #[error("the directory refused {what} (LDAP result {code}: {text})")]
    Refused {
        what: String,
        code: u32,
        text: String,
    },
    #[error("the directory refused the service account's bind (LDAP result {0})")]
    ServiceAccount(u32),
    #[error("the directory's CA: {0}")]
    Ca(String),
}

/// A person the directory vouches for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// Their login name, as the directory spells it.
    pub login: String,
    pub display_name: Option<String>,
}

/// What a sign-in came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignIn {
    Allowed(Person),
    /// No such person in the directory (or the name finds several).
    Unknown,
    WrongPassword,
    /// The password is right, but they are outside the server's group or disabled.
    NotAllowed,
}

/// Whether someone signed in may go on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    Allowed(Person),
    /// Gone from the directory.
    Gone,
    /// No longer in the server's group.
    OutOfGroup,
    Disabled,
}

impl Standing {
    /// Why they may not go on (`None`: they may).
    pub fn refusal(&self) -> Option<&'static str> {
        match self {
            Standing::Allowed(_) => None,
            Standing::Gone => Some("no longer in the directory"),
            Standing::OutOfGroup => Some("no longer in the group"),
            Standing::Disabled => Some("disabled in the directory"),
        }
    }
}

/// How long a reachability answer is reused for `/healthz`.
const HEALTH_TTL: Duration = Duration::from_secs(2);

/// The office directory of this server.
pub struct Directory {
    config: DirectoryConfig,
    tls: Option<Arc<rustls::ClientConfig>>,
    /// When reachability was last seen, and what it was.
    health: Mutex<Option<(Instant, bool)>>,
}

impl Directory {
    pub fn new(config: DirectoryConfig) -> Result<Self, DirectoryError> {
        let tls = connect::tls_config(&config)?;
        Ok(Self {
            config,
            tls,
            health: Mutex::new(None),
        })
    }

    pub fn config(&self) -> &DirectoryConfig {
        &self.config
    }

    async fn open(&self) -> Result<Connection, DirectoryError> {
        let opened = Connection::open(&self.config, self.tls.as_ref()).await;
        self.saw(opened.is_ok());
        opened
    }

    fn saw(&self, reachable: bool) {
        *self.health.lock().unwrap_or_else(|p| p.into_inner()) = Some((Instant::now(), reachable));
    }

    /// The one person `username` finds, if exactly one.
    async fn find_one(
        &self,
        conn: &mut Connection,
        username: &str,
    ) -> Result<Option<Entry>, DirectoryError> {
        let mut found = conn.find(&self.config, username).await?;
        if found.len() > 1 {
            tracing::warn!(
                people = found.len(),
                "a directory name finds several entries: nobody is signed in with it \
                 (check --ldap-user-filter)"
            );
            return Ok(None);
        }
        Ok(found.pop())
    }

    /// Whether `entry` may use this server: in the group (when one is set) and not disabled.
    async fn may_use(
        &self,
        conn: &mut Connection,
        entry: &Entry,
        login: &str,
    ) -> Result<Standing, DirectoryError> {
        if let Some(group) = &self.config.group_dn
            && !conn.in_group(group, entry, login).await?
        {
            return Ok(Standing::OutOfGroup);
        }
        if entry.disabled() {
            return Ok(Standing::Disabled);
        }
        Ok(Standing::Allowed(Person {
            login: login.to_owned(),
            display_name: entry.display_name(&self.config.display_name_attr),
        }))
    }

    /// Signs `username` in with `password` (never empty: see [`Connection::check_password`]).
    pub async fn sign_in(&self, username: &str, password: &str) -> Result<SignIn, DirectoryError> {
        let mut conn = self.open().await?;
        let result = async {
            let Some(entry) = self.find_one(&mut conn, username).await? else {
                return Ok(SignIn::Unknown);
            };
            let login = entry.login_name(username);
            // Asked before the bind below changes who the connection is.
            let standing = self.may_use(&mut conn, &entry, &login).await?;
            match conn.check_password(&entry.dn, password).await {
                Ok(true) => {}
                Ok(false) => return Ok(SignIn::WrongPassword),
                Err(DirectoryError::Refused { code, text, .. }) => {
                    tracing::info!(code, %text, "the directory refused a sign-in's bind");
                    return Ok(SignIn::WrongPassword);
                }
                Err(e) => return Err(e),
            }
            Ok(match standing {
                Standing::Allowed(person) => SignIn::Allowed(person),
                _ => SignIn::NotAllowed,
            })
        }
        .await;
        conn.close().await;
        if let Err(DirectoryError::Unreachable(_)) = &result {
            self.saw(false);
        }
        result
    }

    /// Whether the person with login name `login` may still use this server.
    pub async fn standing(&self, login: &str) -> Result<Standing, DirectoryError> {
        let mut conn = self.open().await?;
        let result = self.standing_on(&mut conn, login).await;
        conn.close().await;
        result
    }

    /// [`Directory::standing`] on an open connection (a recheck asks about many people).
    async fn standing_on(
        &self,
        conn: &mut Connection,
        login: &str,
    ) -> Result<Standing, DirectoryError> {
        let Some(entry) = self.find_one(conn, login).await? else {
            return Ok(Standing::Gone);
        };
        let login = entry.login_name(login);
        self.may_use(conn, &entry, &login).await
    }

    /// Whether the directory answers now (a connection and the service account's bind),
    /// remembered for a moment: `/healthz` may be asked often.
    pub async fn reachable(&self) -> bool {
        let recent = *self.health.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((at, ok)) = recent
            && at.elapsed() < HEALTH_TTL
        {
            return ok;
        }
        match self.open().await {
            Ok(conn) => {
                conn.close().await;
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "the directory does not answer");
                false
            }
        }
    }

    /// For the banner: where the directory is and how the connection is protected.
    pub fn describe(&self) -> String {
        let how = match self.config.transport {
            Transport::Ldaps => "TLS",
            Transport::StartTls => "StartTLS",
            Transport::Plain => {
                "NOT ENCRYPTED (--ldap-insecure): passwords cross the network in clear"
            }
        };
        let group = self
            .config
            .group_dn
            .as_deref()
            .map_or_else(String::new, |g| format!(", members of {g} only"));
        format!("{} ({how}{group})", self.config.url)
    }
}
