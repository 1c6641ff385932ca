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

use axum::extract::State;
use socketioxide_redis::{RedisAdapter, RedisAdapterCtr};

use crate::store::{StoreError, redis::RedisStore, sqlite::SqliteStore};
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
    #[error("could not use Redis at {url}: {source}")]
    Redis {
        url: String,
        source: redis::RedisError,
    },
    #[error("serving failed: {0}")]
    Io(#[from] std::io::Error),
}

type Closer = Box<dyn FnOnce() -> futures_util::future::BoxFuture<'static, ()> + Send>;

/// A bound, ready-to-run server.
pub struct Server {
    listener: TcpListener,
    router: Router,
    close: Closer,
}

/// Connections waiting to be accepted. When a server restarts, every client reconnects at
/// once; with tokio's default of 1,024, a storm of 3,000 overflowed the queue and the dropped
/// connection attempts were retried by the clients' kernels only a second later. The kernel
/// caps this at `net.core.somaxconn` (4,096 by default).
const ACCEPT_BACKLOG: u32 = 4096;

fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    // As std and tokio do on Unix: a restarted server can bind while old connections linger.
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(ACCEPT_BACKLOG)
}

impl Server {
    /// Opens the store (SQLite, or Redis in cluster mode), builds the router and binds the
    /// listening socket.
    pub async fn bind(config: &Config) -> Result<Self, ServeError> {
        let (router, close) = match &config.redis {
            None => {
                let dir = config.data_dir();
                let store = SqliteStore::open(&dir).map_err(|source| ServeError::Store {
                    dir: dir.clone(),
                    source,
                })?;
                let state = AppState::new(Arc::new(store), Limits::from(config));
                let (layer, io) = socket_io(config).with_state(state).build_layer();
                handlers::register(&io);
                let close: Closer = Box::new(move || Box::pin(async move { io.close().await }));
                (router(layer, config, None), close)
            }
            Some(url) => cluster_router(config, url).await?,
        };
        let listener = listen(config.listen).map_err(|source| ServeError::Bind {
            addr: config.listen,
            source,
        })?;
        Ok(Self {
            listener,
            router,
            close,
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
        let close = self.close;
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
                close().await;
            })
            .await?;
        Ok(())
    }
}

/// Cluster mode: the Redis adapter for rooms and broadcasts, the Redis store, heartbeats.
async fn cluster_router(config: &Config, url: &str) -> Result<(Router, Closer), ServeError> {
    let redis_err = |source| ServeError::Redis {
        url: url.to_owned(),
        source,
    };
    let client = redis::Client::open(url).map_err(redis_err)?;
    let adapter = RedisAdapterCtr::new_with_redis(&client)
        .await
        .map_err(redis_err)?;
    let conn = client
        .get_multiplexed_async_connection()
        .await
        .map_err(redis_err)?;
    let node = crate::ids::new_user_id().map_err(|e| ServeError::Io(std::io::Error::other(e)))?;
    let store = Arc::new(RedisStore::new(conn, node));
    let state = AppState::new(store.clone(), Limits::from(config));
    let (layer, io) = socket_io(config)
        .with_adapter::<RedisAdapter<_>>(adapter)
        .with_state(state.clone())
        .build_layer();
    handlers::register(&io)
        .await
        .map_err(|e| ServeError::Io(std::io::Error::other(format!("redis adapter: {e}"))))?;
    crate::cluster::spawn(io.clone(), store.clone(), state);
    tracing::info!(node = store.node(), "cluster mode");
    let close: Closer = Box::new(move || Box::pin(async move { io.close().await }));
    Ok((router(layer, config, Some(store)), close))
}

const SOCKET_BUFFER_PACKETS: usize = 16 * 1024;

fn socket_io(config: &Config) -> socketioxide::SocketIoBuilder {
    let max_payload = (config.max_message_bytes as u64 * 2 + 4096).max(100_000);
    SocketIo::builder()
        .max_payload(max_payload)
        // Packets queued per socket before emits to it fail. The default (128) overflows when
        // hundreds of people log in at once (each login is one `user connected` to everyone);
        // the queue only takes memory while it is full.
        .max_buffer_size(SOCKET_BUFFER_PACKETS)
}

/// The whole HTTP surface around a socket.io layer.
fn router<L>(layer: L, config: &Config, cluster: Option<Arc<RedisStore>>) -> Router
where
    L: tower::Layer<axum::routing::Route> + Clone + Send + Sync + 'static,
    L::Service: tower::Service<axum::extract::Request, Error = std::convert::Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
    <L::Service as tower::Service<axum::extract::Request>>::Response:
        axum::response::IntoResponse + 'static,
    <L::Service as tower::Service<axum::extract::Request>>::Future: Send + 'static,
{
    Router::new()
        .route("/healthz", get(healthz))
        .with_state(cluster)
        .layer(layer)
        .layer(cors(&config.cors_origins))
}

async fn healthz(State(cluster): State<Option<Arc<RedisStore>>>) -> Json<serde_json::Value> {
    let version = env!("CARGO_PKG_VERSION");
    match cluster {
        None => Json(json!({ "status": "ok", "version": version })),
        Some(store) => {
            let (redis_ok, nodes) = crate::cluster::health(&store).await;
            Json(json!({
                "status": if redis_ok { "ok" } else { "degraded" },
                "version": version,
                "redis": if redis_ok { "ok" } else { "unreachable" },
                "nodes": nodes,
            }))
        }
    }
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
