//! One connection to the directory: TLS (ldaps, or StartTLS before anything is sent) with the
//! operator's CA or the system's roots, bounded in time, bound as the service account (or
//! anonymous) for searching.

use std::sync::Arc;
use std::time::Duration;

use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, LdapError, Scope, SearchEntry};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use super::DirectoryError;
use super::config::{DirectoryConfig, Transport};
use super::entry::{Entry, member_filter, user_filter, wanted_attributes};

/// How long connecting (TCP and TLS) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one operation (bind, search) may take.
const OP_TIMEOUT: Duration = Duration::from_secs(10);

/// The TLS client configuration for the directory: its CA, or the system's roots.
pub(super) fn tls_config(
    config: &DirectoryConfig,
) -> Result<Option<Arc<rustls::ClientConfig>>, DirectoryError> {
    if config.transport == Transport::Plain {
        return Ok(None);
    }
    let mut roots = rustls::RootCertStore::empty();
    match &config.ca_file {
        Some(path) => {
            let bad = |e: String| DirectoryError::Ca(format!("{}: {e}", path.display()));
            for cert in CertificateDer::pem_file_iter(path).map_err(|e| bad(e.to_string()))? {
                roots
                    .add(cert.map_err(|e| bad(e.to_string()))?)
                    .map_err(|e| bad(e.to_string()))?;
            }
            if roots.is_empty() {
                return Err(bad("no CERTIFICATE block".into()));
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            for cert in found.certs {
                let _ = roots.add(cert);
            }
            if roots.is_empty() {
                return Err(DirectoryError::Ca(
                    "the system has no CA certificates; give --ldap-ca-file".into(),
                ));
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| DirectoryError::Ca(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Some(Arc::new(tls)))
}

/// An open connection, bound for searching.
pub(super) struct Connection {
    ldap: Ldap,
}

/// Runs `op` within [`OP_TIMEOUT`]; a directory that does not answer is unreachable.
async fn timed<T>(
    what: &str,
    op: impl Future<Output = Result<T, LdapError>>,
) -> Result<T, DirectoryError> {
    match tokio::time::timeout(OP_TIMEOUT, op).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(LdapError::LdapResult { result })) => Err(DirectoryError::Refused {
            what: what.to_owned(),
            code: result.rc,
            text: result.text,
        }),
        Ok(Err(e)) => Err(DirectoryError::Unreachable(format!("{what}: {e}"))),
        Err(_) => Err(DirectoryError::Unreachable(format!(
            "{what}: no answer in {} s",
            OP_TIMEOUT.as_secs()
        ))),
    }
}

/// `invalidCredentials`: the password (or the DN) is wrong.
pub(super) const INVALID_CREDENTIALS: u32 = 49;

impl Connection {
    /// Connects and binds as the service account (or stays anonymous).
    pub(super) async fn open(
        config: &DirectoryConfig,
        tls: Option<&Arc<rustls::ClientConfig>>,
    ) -> Result<Connection, DirectoryError> {
        let mut settings = LdapConnSettings::new()
            .set_conn_timeout(CONNECT_TIMEOUT)
            .set_starttls(config.transport == Transport::StartTls);
        if let Some(tls) = tls {
            settings = settings.set_config(tls.clone());
        }
        let (conn, ldap) = timed(
            "connecting",
            LdapConnAsync::with_settings(settings, &config.url),
        )
        .await?;
        tokio::spawn(async move {
            if let Err(e) = conn.drive().await {
                tracing::debug!(error = %e, "directory connection ended");
            }
        });
        let mut c = Connection { ldap };
        if let Some((dn, password)) = &config.bind {
            timed("binding as the service account", async {
                c.ldap.simple_bind(dn, password).await?.success()
            })
            .await
            .map_err(|e| match e {
                DirectoryError::Refused { code, .. } => DirectoryError::ServiceAccount(code),
                other => other,
            })?;
        }
        Ok(c)
    }

    /// The people `username` finds (none, one, or an ambiguous several).
    pub(super) async fn find(
        &mut self,
        config: &DirectoryConfig,
        username: &str,
    ) -> Result<Vec<Entry>, DirectoryError> {
        let filter = user_filter(&config.user_filter, username);
        let attrs = wanted_attributes(&config.display_name_attr);
        let (entries, _) = timed("searching", async {
            self.ldap
                .search(&config.base_dn, Scope::Subtree, &filter, attrs)
                .await?
                .success()
        })
        .await?;
        Ok(entries
            .into_iter()
            .map(|e| Entry::from(SearchEntry::construct(e)))
            .collect())
    }

    /// Whether `entry` is in `group_dn`: its `memberOf`, else the group's member lists.
    pub(super) async fn in_group(
        &mut self,
        group_dn: &str,
        entry: &Entry,
        login: &str,
    ) -> Result<bool, DirectoryError> {
        if entry.member_of(group_dn) {
            return Ok(true);
        }
        let filter = member_filter(&entry.dn, login);
        let found = timed("reading the group", async {
            self.ldap
                .search(group_dn, Scope::Base, &filter, vec!["1.1"])
                .await?
                .success()
        })
        .await;
        match found {
            Ok((entries, _)) => Ok(!entries.is_empty()),
            // noSuchObject: the group is not there.
            Err(DirectoryError::Refused { code: 32, .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Binds as `dn` with `password`; whether the directory took the password. The caller has
    /// refused an empty password already (that would be an unauthenticated bind, which most
    /// directories accept).
    pub(super) async fn check_password(
        &mut self,
        dn: &str,
        password: &str,
    ) -> Result<bool, DirectoryError> {
        debug_assert!(!password.is_empty());
        match timed("checking the password", async {
            self.ldap.simple_bind(dn, password).await?.success()
        })
        .await
        {
            Ok(_) => Ok(true),
            Err(DirectoryError::Refused {
                code: INVALID_CREDENTIALS,
                ..
            }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    pub(super) async fn close(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(1), self.ldap.unbind()).await;
    }
}
