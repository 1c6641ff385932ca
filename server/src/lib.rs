//! natter-server: the socket.io "Private messaging" guide's server, on socketioxide + axum,
//! persisted in an embedded SQLite file.
//!
//! - [`config`]: the command line, parsed once.
//! - [`handlers`]: socket events (auth, connect, messages, disconnect).
//! - [`store`]: sessions, users, presence and messages behind one trait.
//! - [`presence`]: ordering of one user's online/offline transitions.
//! - [`http`]: the axum router (socket.io layer, `/healthz`, CORS) and serving.
//! - [`cluster`]: several nodes over Redis: heartbeats and presence repair.

pub mod cluster;
pub mod config;
pub mod handlers;
pub mod http;
pub mod ids;
pub mod presence;
pub mod store;

use std::sync::Arc;

pub use config::Config;
pub use http::{ServeError, Server};

/// Limits taken from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_message_bytes: usize,
    pub history_per_chat: u32,
    pub max_page: u32,
}

impl From<&Config> for Limits {
    fn from(c: &Config) -> Self {
        Self {
            max_message_bytes: c.max_message_bytes,
            history_per_chat: c.history_per_chat,
            max_page: c.max_page(),
        }
    }
}

/// What every handler shares: the store, the limits and the presence locks.
#[derive(Clone)]
pub struct AppState(Arc<AppInner>);

pub struct AppInner {
    pub store: Arc<dyn store::Store>,
    pub limits: Limits,
    pub presence: presence::PresenceLocks,
}

impl AppState {
    pub fn new(store: Arc<dyn store::Store>, limits: Limits) -> Self {
        Self(Arc::new(AppInner {
            store,
            limits,
            presence: presence::PresenceLocks::default(),
        }))
    }
}

impl std::ops::Deref for AppState {
    type Target = AppInner;
    fn deref(&self) -> &AppInner {
        &self.0
    }
}
