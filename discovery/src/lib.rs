//! Finding Natter servers on the LAN: DNS-SD over multicast DNS, service type
//! [`SERVICE_TYPE`]. The server advertises itself ([`Advertisement`]); the app and
//! `natter-server discover` browse ([`Browser`]). Discovery does not cross subnets: typing an
//! address always works.
//!
//! Where it is heard follows the listen address: a server on `0.0.0.0` is announced on every
//! LAN interface (never loopback); one bound to an address, on that address's interface only
//! (`127.0.0.1`: loopback, for tests in a network namespace).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use mdns_sd::{IfKind, ServiceDaemon, ServiceEvent, ServiceInfo};
use serde::{Deserialize, Serialize};

pub const SERVICE_TYPE: &str = "_natter._tcp.local.";
/// TXT keys.
const NAME: &str = "name";
const VERSION: &str = "version";
const FINGERPRINT: &str = "fp";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("mDNS: {0}")]
    Mdns(#[from] mdns_sd::Error),
}

/// Which interfaces to announce on or listen to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every interface but loopback.
    Lan,
    /// The interface holding this address (loopback for 127.0.0.0/8).
    Interface(IpAddr),
}

impl Scope {
    /// The interfaces a server listening on `listen` can be reached through.
    pub fn of_listen_address(listen: IpAddr) -> Scope {
        if listen.is_unspecified() {
            Scope::Lan
        } else {
            Scope::Interface(listen)
        }
    }

    fn apply(self, daemon: &ServiceDaemon) -> Result<(), Error> {
        match self {
            Scope::Lan => daemon.disable_interface(vec![IfKind::LoopbackV4, IfKind::LoopbackV6])?,
            Scope::Interface(ip) => {
                daemon.disable_interface(IfKind::All)?;
                let kind = match ip {
                    IpAddr::V4(v4) if v4.is_loopback() => IfKind::LoopbackV4,
                    IpAddr::V6(v6) if v6.is_loopback() => IfKind::LoopbackV6,
                    other => IfKind::Addr(other),
                };
                daemon.enable_interface(kind)?;
            }
        }
        Ok(())
    }
}

/// A server found on the network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Found {
    /// The DNS-SD instance name, which identifies it (also in [`Event::Gone`]).
    pub instance: String,
    /// The server's name (`--name`).
    pub name: String,
    /// `host:port` to type into the app.
    pub address: String,
    pub version: String,
    /// Its TLS certificate's SHA-256 fingerprint, when it uses TLS.
    pub fingerprint: Option<String>,
}

/// What browsing hears.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    Found(Found),
    Gone { instance: String },
}

/// The server's announcement; withdrawn (with a goodbye, so browsers drop it at once) by
/// [`Advertisement::stop`] or when dropped.
pub struct Advertisement {
    daemon: ServiceDaemon,
    fullname: String,
}

/// The machine's host name, the default server name.
pub fn host_name() -> String {
    let name = gethostname::gethostname().to_string_lossy().into_owned();
    if name.is_empty() {
        "natter".to_owned()
    } else {
        name
    }
}

impl Advertisement {
    pub fn start(
        name: &str,
        listen: SocketAddr,
        version: &str,
        fingerprint: Option<&str>,
    ) -> Result<Advertisement, Error> {
        let daemon = ServiceDaemon::new()?;
        Scope::of_listen_address(listen.ip()).apply(&daemon)?;
        let host = format!("{}.local.", dns_label(&host_name()));
        let mut txt = vec![(NAME, name), (VERSION, version)];
        if let Some(fp) = fingerprint {
            txt.push((FINGERPRINT, fp));
        }
        let addresses: Vec<IpAddr> = if listen.ip().is_unspecified() {
            Vec::new()
        } else {
            vec![listen.ip()]
        };
        let mut info = ServiceInfo::new(
            SERVICE_TYPE,
            name,
            &host,
            addresses.as_slice(),
            listen.port(),
            txt.as_slice(),
        )?;
        if listen.ip().is_unspecified() {
            // The interfaces' own addresses, kept current as they change (DHCP).
            info = info.enable_addr_auto();
        }
        let fullname = info.get_fullname().to_owned();
        daemon.register(info)?;
        Ok(Advertisement { daemon, fullname })
    }

    /// Withdraws the announcement and waits (briefly) for the goodbye to go out.
    pub fn stop(self) {
        if let Ok(done) = self.daemon.unregister(&self.fullname) {
            let _ = done.recv_timeout(Duration::from_secs(2));
        }
        if let Ok(done) = self.daemon.shutdown() {
            let _ = done.recv_timeout(Duration::from_secs(2));
        }
    }
}

/// Host names are DNS labels: letters, digits and hyphens.
fn dns_label(name: &str) -> String {
    let label: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(63)
        .collect();
    if label.trim_matches('-').is_empty() {
        "natter".to_owned()
    } else {
        label
    }
}

/// Listens for Natter servers until dropped.
pub struct Browser {
    daemon: ServiceDaemon,
    events: mdns_sd::Receiver<ServiceEvent>,
}

impl Browser {
    pub fn start(scope: Scope) -> Result<Browser, Error> {
        let daemon = ServiceDaemon::new()?;
        scope.apply(&daemon)?;
        let events = daemon.browse(SERVICE_TYPE)?;
        Ok(Browser { daemon, events })
    }

    /// The next server found or gone, waiting at most `within`; `None` when nothing came.
    pub fn next(&self, within: Duration) -> Option<Event> {
        let deadline = std::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let event = self.events.recv_timeout(left).ok()?;
            if let Some(e) = translate(event) {
                return Some(e);
            }
        }
    }

    /// Like [`Browser::next`], for async code: the wait runs on a blocking thread's terms.
    pub async fn next_async(&self) -> Option<Event> {
        loop {
            let event = self.events.recv_async().await.ok()?;
            if let Some(e) = translate(event) {
                return Some(e);
            }
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.daemon.shutdown();
    }
}

fn translate(event: ServiceEvent) -> Option<Event> {
    match event {
        ServiceEvent::ServiceResolved(info) => {
            let instance = info.get_fullname().to_owned();
            let ip = info
                .get_addresses_v4()
                .into_iter()
                .min()
                .map(IpAddr::V4)
                .or_else(|| info.get_addresses().iter().next().map(|s| s.to_ip_addr()))?;
            let address = SocketAddr::new(ip, info.get_port()).to_string();
            let txt = |k| info.get_property_val_str(k).map(str::to_owned);
            Some(Event::Found(Found {
                name: txt(NAME).unwrap_or_else(|| instance.clone()),
                version: txt(VERSION).unwrap_or_default(),
                fingerprint: txt(FINGERPRINT),
                address,
                instance,
            }))
        }
        ServiceEvent::ServiceRemoved(_, instance) => Some(Event::Gone { instance }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listen_address_decides_where_it_is_announced() {
        assert_eq!(
            Scope::of_listen_address("0.0.0.0".parse().unwrap()),
            Scope::Lan
        );
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(Scope::of_listen_address(lo), Scope::Interface(lo));
    }

    #[test]
    fn host_names_become_dns_labels() {
        assert_eq!(dns_label("office-pc"), "office-pc");
        assert_eq!(dns_label("Büro PC"), "B-ro-PC");
        assert_eq!(dns_label("..."), "natter");
    }
}
