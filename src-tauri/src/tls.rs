//! Trust on first use: read the certificate a server presents, compare its fingerprint with
//! the one the person trusted, and build a TLS connector that accepts that certificate only.
//!
//! Natter servers use self-signed certificates (a LAN host has no name a public CA would
//! sign). The connector trusts no built-in root, only the pinned certificate, and does not
//! check host names, so a server whose DHCP address changed is still recognised.

use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::net::TcpStream;
use url::Url;

/// How long reading a server's certificate may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// What a server presented.
#[derive(Debug, Clone)]
pub struct Presented {
    pub fingerprint: String,
    /// The certificate (DER), to pin for the connection that follows.
    pub der: Vec<u8>,
}

/// The fingerprint of a DER certificate, as the server's banner prints it.
pub fn fingerprint(der: &[u8]) -> String {
    natter_protocol::format_fingerprint(&Sha256::digest(der))
}

/// Opens a TLS connection to `url` (`https://host:port`) accepting any certificate, only to
/// read the one presented; nothing is sent over it.
pub async fn presented(url: &str) -> Result<Presented, String> {
    let parsed = Url::parse(url).map_err(|e| e.to_string())?;
    let host = parsed.host_str().ok_or("no host")?.to_owned();
    let port = parsed.port_or_known_default().ok_or("no port")?;
    let reading = async {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let tcp = TcpStream::connect((host, port))
            .await
            .map_err(|e| e.to_string())?;
        let connector = native_tls::TlsConnector::builder()
            .danger_accept_invalid_certs(true)
            .danger_accept_invalid_hostnames(true)
            // Nothing is verified here: loading the system's CA bundle would only cost time.
            .disable_built_in_roots(true)
            .build()
            .map_err(|e| e.to_string())?;
        let tls = tokio_native_tls::TlsConnector::from(connector)
            .connect(host, tcp)
            .await
            .map_err(|e| format!("TLS handshake: {e}"))?;
        let cert = tls
            .get_ref()
            .peer_certificate()
            .map_err(|e| e.to_string())?
            .ok_or("the server presented no certificate")?;
        cert.to_der().map_err(|e| e.to_string())
    };
    let der = tokio::time::timeout(PROBE_TIMEOUT, reading)
        .await
        .map_err(|_| "no answer in time".to_owned())??;
    Ok(Presented {
        fingerprint: fingerprint(&der),
        der,
    })
}

/// A connector that trusts exactly this certificate.
pub fn pinned_connector(der: &[u8]) -> Result<native_tls::TlsConnector, String> {
    let cert = native_tls::Certificate::from_der(der).map_err(|e| e.to_string())?;
    native_tls::TlsConnector::builder()
        .disable_built_in_roots(true)
        .add_root_certificate(cert)
        .danger_accept_invalid_hostnames(true)
        .build()
        .map_err(|e| e.to_string())
}
