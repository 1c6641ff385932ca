//! The HTTP side: one axum router carrying the socket.io layer, `/healthz` and CORS, and the
//! serving loop with graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::http::{HeaderValue, Method, header};
use axum::routing::get;
use axum::serve::ListenerExt;
use axum::{Json, Router};
use serde_json::json;
use socketioxide::SocketIo;
use tokio::net::TcpListener;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::store::{StoreError, sqlite::SqliteStore};
use crate::{AppState, Config, Limits, handlers};

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("could not listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("could not open the store in {dir}: {source}")]
    Store {
        dir: std::path::PathBuf,
        source: StoreError,
    },
    #[error("serving failed: {0}")]
    Io(#[from] std::io::Error),
}

/// A bound, ready-to-run server.
pub struct Server {
    listener: TcpListener,
    router: Router,
    io: SocketIo,
}

impl Server {
    /// Opens the store, builds the router and binds the listening socket.
    pub async fn bind(config: &Config) -> Result<Self, ServeError> {
        let dir = config.data_dir();
        let store = SqliteStore::open(&dir).map_err(|source| ServeError::Store {
            dir: dir.clone(),
            source,
        })?;
        let state = AppState::new(Arc::new(store), Limits::from(config));
        let (router, io) = router(state, config);
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| ServeError::Bind {
                    addr: config.listen,
                    source,
                })?;
        Ok(Self {
            listener,
            router,
            io,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` resolves, then closes every socket and waits for requests in
    /// flight to finish.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        let io = self.io.clone();
        // Without TCP_NODELAY, Nagle + delayed ACK holds about 1% of small frames ~40 ms.
        let listener = self.listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "could not set TCP_NODELAY");
            }
        });
        axum::serve(listener, self.router)
            .with_graceful_shutdown(async move {
                shutdown.await;
                tracing::info!("shutting down: closing every socket");
                io.close().await;
            })
            .await?;
        Ok(())
    }
}

const SOCKET_BUFFER_PACKETS: usize = 16 * 1024;

/// The whole HTTP surface, for the binary and for tests.
pub fn router(state: AppState, config: &Config) -> (Router, SocketIo) {
    let max_payload = (config.max_message_bytes as u64 * 2 + 4096).max(100_000);
    let (layer, io) = SocketIo::builder()
        .max_payload(max_payload)
        // Packets queued per socket before emits to it fail. The default (128) overflows when
        // hundreds of people log in at once (each login is one `user connected` to everyone);
        // the queue only takes memory while it is full.
        .max_buffer_size(SOCKET_BUFFER_PACKETS)
        .with_state(state)
        .build_layer();
    handlers::register(&io);

    let router = Router::new()
        .route("/healthz", get(healthz))
        .layer(layer)
        .layer(cors(&config.cors_origins));
    (router, io)
}

async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}

/// Browser clients (the guide's web client) need CORS for the polling transport; the desktop
/// app talks from Rust and needs none, but its webview origins are allowed too.
fn cors(configured: &[String]) -> CorsLayer {
    let base = CorsLayer::new()
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::CONTENT_TYPE]);
    if configured.iter().any(|o| o == "*") {
        return base.allow_origin(AllowOrigin::any());
    }
    let configured: Vec<HeaderValue> = configured
        .iter()
        .filter_map(|o| HeaderValue::from_str(o.trim()).ok())
        .collect();
    base.allow_origin(AllowOrigin::predicate(move |origin, _| {
        configured.contains(origin) || origin.to_str().is_ok_and(is_default_origin)
    }))
}

/// The desktop app's webview origins and pages served from this machine.
fn is_default_origin(origin: &str) -> bool {
    if matches!(
        origin,
        "tauri://localhost" | "http://tauri.localhost" | "https://tauri.localhost"
    ) {
        return true;
    }
    let Some(rest) = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
    else {
        return false;
    };
    let host = match rest.rsplit_once(':') {
        Some((host, port)) if port.parse::<u16>().is_ok() => host,
        _ => rest,
    };
    matches!(host, "localhost" | "127.0.0.1" | "[::1]")
}

#[cfg(test)]
mod tests {
    use super::is_default_origin;

    #[test]
    fn default_origins() {
        for ok in [
            "tauri://localhost",
            "http://tauri.localhost",
            "http://localhost:1420",
            "http://127.0.0.1",
            "https://[::1]:8443",
        ] {
            assert!(is_default_origin(ok), "{ok}");
        }
        for bad in [
            "http://evil.example",
            "http://localhost.evil.example",
            "http://127.0.0.1.evil:80",
            "null",
        ] {
            assert!(!is_default_origin(bad), "{bad}");
        }
    }
}
