//! TLS: the server's certificate (made on first start, or the operator's), its fingerprint as
//! people compare it, and the rustls configuration the accept loop uses.
//!
//! A LAN server has no name a public CA would sign, so by default it makes a self-signed
//! certificate once and keeps it in the data dir; clients pin its SHA-256 fingerprint on first
//! contact (trust on first use), and a later different certificate is refused by them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};

use crate::datadir;

/// The self-signed certificate's file names in the data dir.
pub const CERT_FILE: &str = "cert.pem";
pub const KEY_FILE: &str = "key.pem";

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} holds no usable {what}: {reason}")]
    Pem {
        path: PathBuf,
        what: &'static str,
        reason: String,
    },
    #[error("making a self-signed certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("writing {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the certificate and key do not make a TLS configuration: {0}")]
    Config(#[from] rustls::Error),
}

/// What the server serves: the rustls configuration and the leaf certificate's fingerprint.
pub struct Tls {
    pub config: Arc<rustls::ServerConfig>,
    pub fingerprint: String,
}

/// Where the certificate comes from.
pub enum Source<'a> {
    /// `--tls-cert` / `--tls-key`: the operator's (cluster nodes share one).
    Files { cert: &'a Path, key: &'a Path },
    /// The self-signed certificate in the data dir, made on first start.
    SelfSigned { data_dir: &'a Path },
}

impl Tls {
    pub fn load(source: Source<'_>) -> Result<Self, TlsError> {
        let (cert, key) = match source {
            Source::Files { cert, key } => (cert.to_owned(), key.to_owned()),
            Source::SelfSigned { data_dir } => {
                let (cert, key) = (data_dir.join(CERT_FILE), data_dir.join(KEY_FILE));
                if !cert.exists() || !key.exists() {
                    generate(&cert, &key)?;
                }
                (cert, key)
            }
        };
        let chain = read_chain(&cert)?;
        let key_der = PrivateKeyDer::from_pem_file(&key).map_err(|e| TlsError::Pem {
            path: key.clone(),
            what: "private key",
            reason: e.to_string(),
        })?;
        let fingerprint = fingerprint(&chain[0]);
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(chain, key_der)?;
        // Plain HTTP/1.1 only: socket.io's websocket upgrade and long-polling both use it.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self {
            config: Arc::new(config),
            fingerprint,
        })
    }
}

fn read_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem_err = |reason: String| TlsError::Pem {
        path: path.to_owned(),
        what: "certificate",
        reason,
    };
    let bytes = std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_owned(),
        source,
    })?;
    let chain = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_err(e.to_string()))?;
    if chain.is_empty() {
        return Err(pem_err("no CERTIFICATE block".into()));
    }
    Ok(chain)
}

/// Makes a self-signed certificate for this host and writes it with its key (both 0600).
fn generate(cert_path: &Path, key_path: &Path) -> Result<(), TlsError> {
    let host = hostname();
    let mut names = vec!["natter".to_owned(), "localhost".to_owned()];
    if let Some(h) = host.filter(|h| !names.contains(h)) {
        names.push(h);
    }
    let certified = rcgen::generate_simple_self_signed(names)?;
    let write = |path: &Path, text: String| {
        datadir::write_private(path, text.as_bytes()).map_err(|source| TlsError::Write {
            path: path.to_owned(),
            source,
        })
    };
    write(key_path, certified.signing_key.serialize_pem())?;
    write(cert_path, certified.cert.pem())?;
    tracing::info!(cert = %cert_path.display(), "made a self-signed TLS certificate");
    Ok(())
}

fn hostname() -> Option<String> {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
}

/// SHA-256 of a certificate, as `openssl x509 -fingerprint -sha256` prints it: uppercase hex
/// pairs joined by colons.
pub fn fingerprint(cert_der: &[u8]) -> String {
    natter_protocol::format_fingerprint(&Sha256::digest(cert_der))
}

/// The fingerprint of the first certificate of a PEM chain (the server's own).
pub fn fingerprint_of_pem(pem: &[u8]) -> Result<String, String> {
    let first = CertificateDer::pem_slice_iter(pem)
        .next()
        .ok_or("no CERTIFICATE block")?
        .map_err(|e| e.to_string())?;
    Ok(fingerprint(&first))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_self_signed_certificate_is_made_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = Tls::load(Source::SelfSigned {
            data_dir: dir.path(),
        })
        .unwrap();
        let again = Tls::load(Source::SelfSigned {
            data_dir: dir.path(),
        })
        .unwrap();
        assert_eq!(first.fingerprint, again.fingerprint);
        assert_eq!(first.fingerprint.len(), 32 * 3 - 1);
        assert!(
            first
                .fingerprint
                .split(':')
                .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()))
        );
        use std::os::unix::fs::PermissionsExt;
        for f in [CERT_FILE, KEY_FILE] {
            let mode = std::fs::metadata(dir.path().join(f))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{f}");
        }
    }

    #[test]
    fn a_missing_or_broken_operator_certificate_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("c.pem");
        std::fs::write(&cert, "not a certificate").unwrap();
        let err = Tls::load(Source::Files {
            cert: &cert,
            key: &dir.path().join("missing.pem"),
        })
        .err()
        .unwrap()
        .to_string();
        assert!(err.contains("c.pem"), "{err}");
    }
}
