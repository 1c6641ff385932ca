//! TLS for test clients: each server's certificate is pinned (the only root trusted, host
//! names not checked), as the desktop app does after the person trusted its fingerprint.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// A byte stream, plain or TLS.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

static PINNED: Mutex<Option<HashMap<String, Vec<u8>>>> = Mutex::new(None);

/// Trusts `cert_pem` (only) for the server at `url` (`https://host:port`).
pub fn pin(url: &str, cert_pem: Vec<u8>) {
    PINNED
        .lock()
        .unwrap()
        .get_or_insert_with(HashMap::new)
        .insert(url.trim_end_matches('/').to_owned(), cert_pem);
}

/// The certificate pinned for `url`.
pub fn pinned(url: &str) -> Vec<u8> {
    let origin = url.splitn(4, '/').take(3).collect::<Vec<_>>().join("/");
    PINNED
        .lock()
        .unwrap()
        .as_ref()
        .and_then(|m| m.get(&origin).cloned())
        .unwrap_or_else(|| panic!("no certificate pinned for {origin}"))
}

/// A connector that trusts exactly this certificate, whatever name or address it is used
/// under.
pub fn pinned_connector(cert_pem: &[u8]) -> native_tls::TlsConnector {
    let cert = native_tls::Certificate::from_pem(cert_pem).expect("PEM certificate");
    native_tls::TlsConnector::builder()
        .disable_built_in_roots(true)
        .add_root_certificate(cert)
        .danger_accept_invalid_hostnames(true)
        .build()
        .expect("TLS connector")
}

/// A connector that accepts any certificate: only for reading what a server presents.
pub fn any_cert_connector() -> native_tls::TlsConnector {
    native_tls::TlsConnector::builder()
        .danger_accept_invalid_certs(true)
        .danger_accept_invalid_hostnames(true)
        .build()
        .expect("TLS connector")
}

/// A TCP connection to `addr` from `local` (any 127.0.0.0/8 address plays another client
/// machine), wrapped in TLS with `connector` when given.
pub async fn connect(
    addr: SocketAddr,
    local: Option<std::net::IpAddr>,
    connector: Option<native_tls::TlsConnector>,
) -> std::io::Result<Box<dyn Io>> {
    let tcp = match local {
        Some(ip) => {
            let socket = tokio::net::TcpSocket::new_v4()?;
            socket.bind(SocketAddr::new(ip, 0))?;
            socket.connect(addr).await?
        }
        None => TcpStream::connect(addr).await?,
    };
    tcp.set_nodelay(true)?;
    match connector {
        None => Ok(Box::new(tcp)),
        Some(c) => {
            let tls = tokio_native_tls::TlsConnector::from(c)
                .connect("natter", tcp)
                .await
                .map_err(std::io::Error::other)?;
            Ok(Box::new(tls))
        }
    }
}
