//! Where people reach this server: the addresses of the machine's interfaces under the bound
//! port, and the certificate they will see. The banner prints them, and `admin desktop-config`
//! turns them into the file an organisation deploys to its desktops.

use std::net::{IpAddr, SocketAddr};

use natter_protocol::Deployed;

/// The bound address and the certificate's fingerprint (`None` without TLS).
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub addr: SocketAddr,
    pub fingerprint: Option<String>,
}

impl Endpoint {
    pub fn scheme(&self) -> &'static str {
        if self.fingerprint.is_some() {
            "https"
        } else {
            "http"
        }
    }

    /// The URLs under which others can reach this server, read from the local interfaces
    /// (none when it listens on loopback only).
    pub fn reachable_urls(&self) -> Vec<String> {
        let (addr, scheme) = (self.addr, self.scheme());
        let port = addr.port();
        let fmt = |ip: IpAddr| match ip {
            IpAddr::V4(v4) => format!("{scheme}://{v4}:{port}"),
            IpAddr::V6(v6) => format!("{scheme}://[{v6}]:{port}"),
        };
        if !addr.ip().is_unspecified() {
            return if addr.ip().is_loopback() {
                Vec::new()
            } else {
                vec![fmt(addr.ip())]
            };
        }
        let Ok(ifaces) = if_addrs::get_if_addrs() else {
            return Vec::new();
        };
        ifaces
            .into_iter()
            .map(|i| i.ip())
            .filter(|ip| !ip.is_loopback() && (ip.is_ipv4() || addr.is_ipv6()))
            .filter(|ip| !matches!(ip, IpAddr::V6(v6) if v6.segments()[0] & 0xffc0 == 0xfe80))
            .map(fmt)
            .collect()
    }

    /// A `desktop.json` for this server: the `addresses` given (a host alone gets this
    /// server's port and scheme), else every address it is reachable under; its fingerprint;
    /// the address locked and discovery off, since the organisation names the server.
    pub fn desktop_config(&self, addresses: &[String]) -> Deployed {
        let servers = if addresses.is_empty() {
            match self.reachable_urls() {
                urls if urls.is_empty() => vec![format!("{}://{}", self.scheme(), self.addr)],
                urls => urls,
            }
        } else {
            addresses.iter().map(|a| self.complete(a)).collect()
        };
        Deployed {
            servers,
            fingerprint: self.fingerprint.clone(),
            lock_server: true,
            discovery: Some(false),
            autostart: None,
        }
    }

    /// `host`, `host:port` or a URL, with this server's scheme and port where it has none.
    fn complete(&self, address: &str) -> String {
        let address = address.trim();
        let (scheme, rest) = match address.split_once("://") {
            Some((s, r)) => (s.to_owned(), r),
            None => (self.scheme().to_owned(), address),
        };
        let has_port = match rest.rsplit_once(':') {
            // `[v6]:port`, `host:port`; a bare IPv6 address has colons but no brackets.
            Some((host, port)) => {
                port.chars().all(|c| c.is_ascii_digit())
                    && !port.is_empty()
                    && (host.ends_with(']') || !host.contains(':'))
            }
            None => false,
        };
        let host = if rest.contains(':') && !rest.starts_with('[') && !has_port {
            format!("[{rest}]")
        } else {
            rest.to_owned()
        };
        if has_port {
            format!("{scheme}://{host}")
        } else {
            format!("{scheme}://{host}:{}", self.addr.port())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(addr: &str, tls: bool) -> Endpoint {
        Endpoint {
            addr: addr.parse().unwrap(),
            fingerprint: tls.then(|| "AB:CD".to_owned()),
        }
    }

    #[test]
    fn addresses_get_the_servers_port_and_scheme() {
        let e = at("0.0.0.0:3000", true);
        let d = e.desktop_config(&[
            "chat.office.lan".into(),
            "10.0.0.5:4000".into(),
            "http://10.0.0.6".into(),
            "fd00::5".into(),
            "[fd00::6]:5000".into(),
        ]);
        assert_eq!(
            d.servers,
            [
                "https://chat.office.lan:3000",
                "https://10.0.0.5:4000",
                "http://10.0.0.6:3000",
                "https://[fd00::5]:3000",
                "https://[fd00::6]:5000",
            ]
        );
        assert_eq!(d.fingerprint.as_deref(), Some("AB:CD"));
        assert!(d.lock_server);
    }

    #[test]
    fn loopback_only_names_itself() {
        let d = at("127.0.0.1:4100", false).desktop_config(&[]);
        assert_eq!(d.servers, ["http://127.0.0.1:4100"]);
        assert_eq!(d.fingerprint, None);
    }
}
