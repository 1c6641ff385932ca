//! The login screen's list of servers on the LAN: browses mDNS for the app's life and sends
//! the list to the UI whenever it changes.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use natter_discovery::{Browser, Event, Scope};
use natter_protocol::ipc::{AppEvent, DiscoveredServer, EVENT};
use tauri::{AppHandle, Emitter, Runtime};

/// Set (to anything) to keep the app from browsing: tests on a machine whose network they must
/// not touch.
pub const OFF_ENV: &str = "NATTER_NO_DISCOVERY";

#[derive(Default, Clone)]
pub struct Lan(Arc<Mutex<BTreeMap<String, DiscoveredServer>>>);

impl Lan {
    pub fn servers(&self) -> Vec<DiscoveredServer> {
        let map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let mut list: Vec<DiscoveredServer> = map.values().cloned().collect();
        list.sort_by_key(|s| s.name.to_lowercase());
        list
    }

    /// Sends the current list to the UI.
    pub fn send<R: Runtime>(&self, app: &AppHandle<R>) {
        let event = AppEvent::Discovered {
            servers: self.servers(),
        };
        if let Err(e) = app.emit(EVENT, &event) {
            tracing::warn!(error = %e, "could not send the discovered servers");
        }
    }

    /// Browses in the background, unless turned off by [`OFF_ENV`].
    pub fn start<R: Runtime>(&self, app: AppHandle<R>) {
        if std::env::var_os(OFF_ENV).is_some() {
            return;
        }
        let browser = match Browser::start(Scope::Lan) {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "no LAN discovery");
                return;
            }
        };
        let lan = self.clone();
        tauri::async_runtime::spawn(async move {
            while let Some(event) = browser.next_async().await {
                {
                    let mut map = lan.0.lock().unwrap_or_else(|p| p.into_inner());
                    match event {
                        Event::Found(f) => {
                            map.insert(
                                f.instance.clone(),
                                DiscoveredServer {
                                    name: f.name,
                                    address: f.address,
                                    fingerprint: f.fingerprint,
                                },
                            );
                        }
                        Event::Gone { instance } => {
                            map.remove(&instance);
                        }
                    }
                }
                lan.send(&app);
            }
        });
    }
}
