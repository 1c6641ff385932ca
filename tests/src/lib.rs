//! Shared fixture for Natter's end-to-end tests: real `natter-server` processes on ephemeral
//! loopback ports with real SQLite files in temp dirs, and real clients.
//!
//! - [`server`]: start, stop and SIGKILL a server binary.
//! - [`window`]: the real desktop app in a real window, through tauri-driver.
//! - [`desktop_bus`]: stand-in desktop services on the session bus, for the window tests.
//! - [`client`]: a `rust_socketio` client (the crate the desktop app holds) that records events.
//! - [`http`]: HTTP requests for the file routes.
//! - [`js`]: scripts with the official socket.io JavaScript client.
//! - [`raw`]: a bare engine.io websocket, for what well-behaved clients never do.
//! - [`redis`]: a real `redis-server` for cluster tests.
//! - [`slapd`]: a real OpenLDAP directory for the directory sign-in tests.
//! - [`tls`]: pinned certificates and TLS streams, as the desktop app uses them.
//!
//! Servers run with TLS on (the default) unless a test passes `--no-tls`.

pub mod client;
pub mod desktop_bus;
pub mod http;
pub mod js;
pub mod raw;
pub mod redis;
pub mod server;
pub mod slapd;
pub mod tls;
pub mod window;

pub use client::{Login, SioClient};
pub use server::TestServer;

/// How long a test waits for something that should happen.
pub const WAIT: std::time::Duration = std::time::Duration::from_secs(10);
/// How long a test watches for something that must not happen.
pub const QUIET: std::time::Duration = std::time::Duration::from_millis(400);

/// A server on a new, empty data dir (deleted when the returned dir is dropped).
pub async fn fresh_server(args: &[&str]) -> (tempfile::TempDir, TestServer) {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = TestServer::start(dir.path(), args).await;
    (dir, server)
}
