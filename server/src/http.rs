//! The HTTP side: one axum router carrying the socket.io layer, `/healthz`, the Origin check
//! and CORS; binding the server (data dir, TLS, store, admin socket) and running it.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use socketioxide::SocketIo;
use socketioxide_redis::{CustomRedisAdapter, RedisAdapterConfig, RedisAdapterCtr};
use tokio::net::TcpListener;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::datadir::{DataDir, DataDirError};
use crate::directory::Directory;
use crate::file_dir::FileDir;
use crate::files::{Files, FilesInner};
use crate::serve::Closer;
use crate::store::{StoreError, redis::RedisStore, sqlite::SqliteStore};
use crate::tls::{Tls, TlsError};
use crate::{Config, JoinPolicy, Limits, MessagePolicy, Parts, ServerState, admin, handlers};
use natter_protocol::AuthInfo;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("could not listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    DataDir(#[from] DataDirError),
    #[error("TLS: {0}")]
    Tls(#[from] TlsError),
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
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
    #[error(transparent)]
    Directory(#[from] crate::directory::DirectoryError),
}

/// A bound, ready-to-run server.
pub struct Server {
    listener: TcpListener,
    router: Router,
    close: Closer,
    tls: Option<Tls>,
    max_connections_per_ip: Option<usize>,
    /// Where people sign in, for the banner (`--ldap-url`).
    directory: Option<String>,
    /// The bound address and the certificate people will see.
    endpoint: crate::endpoint::Endpoint,
    /// Held for the process's life: the data dir's lock.
    _data_dir: DataDir,
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
    /// Locks the data dir, loads (or makes) the TLS certificate, opens the store (SQLite, or
    /// Redis in cluster mode), builds the router, opens the admin socket and binds.
    pub async fn bind(config: &Config) -> Result<Self, ServeError> {
        let data_dir = DataDir::open(&config.data_dir())?;
        crate::memory::spawn_trimmer();
        let tls = match (&config.tls_cert, &config.tls_key, config.no_tls) {
            (_, _, true) => None,
            (Some(cert), Some(key), false) => {
                Some(Tls::load(crate::tls::Source::Files { cert, key })?)
            }
            _ => Some(Tls::load(crate::tls::Source::SelfSigned {
                data_dir: data_dir.path(),
            })?),
        };
        let policy = JoinPolicy {
            join_password: config.join_password()?,
            require_password: config.require_password,
        };
        let directory = match config
            .ldap
            .config()
            .map_err(crate::config::ConfigError::from)?
        {
            Some(c) => Some(Arc::new(Directory::new(c)?)),
            None => None,
        };
        let auth_info = AuthInfo {
            directory: directory.is_some(),
            name: config.server_name(),
        };
        let described = directory.as_ref().map(|d| d.describe());
        let audit = Arc::new(crate::audit::Audit::new(crate::audit::AuditConfig {
            dir: data_dir.path().to_owned(),
            ..config.audit()
        }));
        let admin_path = data_dir.path().join(admin::SOCKET_FILE);
        let listener = listen(config.listen).map_err(|source| ServeError::Bind {
            addr: config.listen,
            source,
        })?;
        let endpoint = crate::endpoint::Endpoint {
            addr: listener.local_addr()?,
            fingerprint: tls.as_ref().map(|t| t.fingerprint.clone()),
        };
        let (router, close) = match &config.redis {
            None => {
                let dir = data_dir.path().to_owned();
                let store =
                    SqliteStore::open(&dir).map_err(|source| ServeError::Store { dir, source })?;
                let store = Arc::new(store);
                let health = Health {
                    store: store.clone(),
                    cluster: None,
                    directory: directory.clone(),
                };
                let state = ServerState::new(Parts {
                    store,
                    limits: Limits::from(config),
                    auth: policy,
                    policy: MessagePolicy::from(config),
                    files: FileDir::new(config.files_dir()),
                    directory,
                    audit,
                    data_dir: data_dir.path().to_owned(),
                    shared_limits: None,
                });
                state
                    .refusals
                    .clone()
                    .spawn_summary(std::time::Duration::from_secs(10));
                let files = files_for(config, &state)?;
                let (layer, io) = socket_io(config).with_state(state.clone()).build_layer();
                handlers::register(&io);
                crate::directory::recheck::spawn(state.clone(), io.clone());
                if let Some(days) = config.retention_days {
                    crate::retention::spawn(state.clone(), days);
                }
                admin::spawn(&admin_path, io.clone(), state, endpoint.clone())?;
                (router(layer, config, health, auth_info, files), closer(io))
            }
            Some(url) => {
                let shared = Shared {
                    data_dir: data_dir.path().to_owned(),
                    policy,
                    directory,
                    audit,
                    auth_info,
                    endpoint: endpoint.clone(),
                };
                cluster_router(config, url, shared, &admin_path).await?
            }
        };
        Ok(Self {
            listener,
            router,
            close,
            tls,
            max_connections_per_ip: (!config.no_limits).then_some(config.max_connections_per_ip),
            directory: described,
            endpoint,
            _data_dir: data_dir,
        })
    }

    /// Where people sign in (`--ldap-url`), as the banner says it.
    pub fn directory(&self) -> Option<&str> {
        self.directory.as_deref()
    }

    /// Where it listens and the certificate it serves (`fingerprint: None` without TLS).
    pub fn endpoint(&self) -> &crate::endpoint::Endpoint {
        &self.endpoint
    }

    /// Serves until `shutdown` resolves, then closes every socket and waits for requests in
    /// flight to finish.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        let tls = self.tls.map(|t| t.config);

        crate::serve::run(
            self.listener,
            self.router,
            crate::serve::Options {
                tls,
                max_connections_per_ip: self.max_connections_per_ip,
            },
            shutdown,
            self.close,
        )
        .await?;
        Ok(())
    }
}

/// Cluster mode: the Redis adapter for rooms and broadcasts, the Redis store, heartbeats.
/// What a node is given besides its store: made the same way in both modes.
struct Shared {
    data_dir: std::path::PathBuf,
    policy: JoinPolicy,
    directory: Option<Arc<Directory>>,
    audit: Arc<crate::audit::Audit>,
    auth_info: AuthInfo,
    endpoint: crate::endpoint::Endpoint,
}

async fn cluster_router(
    config: &Config,
    url: &str,
    shared: Shared,
    admin_path: &std::path::Path,
) -> Result<(Router, Closer), ServeError> {
    let Shared {
        data_dir,
        policy,
        directory,
        audit,
        auth_info,
        endpoint,
    } = shared;
    if config.retention_days.is_some() {
        return Err(ServeError::Io(std::io::Error::other(
            crate::store::redis::upkeep::RETENTION_IN_CLUSTER_MODE,
        )));
    }
    let redis_err = |source| ServeError::Redis {
        url: url.to_owned(),
        source,
    };
    let client = redis::Client::open(url).map_err(redis_err)?;
    // Both reconnect by themselves after a Redis restart: the adapter's pub/sub through our
    // driver, the store's commands through redis-rs's connection manager.
    let driver = crate::pubsub::ReconnectingDriver::new(client.clone())
        .await
        .map_err(redis_err)?;
    let adapter = RedisAdapterCtr::new_with_driver(driver.clone(), RedisAdapterConfig::default());
    let conn = redis::aio::ConnectionManager::new_with_config(
        client,
        redis::aio::ConnectionManagerConfig::new()
            .set_max_delay(Duration::from_secs(2))
            .set_number_of_retries(1)
            .set_response_timeout(Some(Duration::from_secs(2)))
            .set_connection_timeout(Some(Duration::from_secs(2))),
    )
    .await
    .map_err(redis_err)?;
    let node = crate::ids::new_user_id().map_err(|e| ServeError::Io(std::io::Error::other(e)))?;
    let store = Arc::new(RedisStore::new(conn, node));
    store.migrate().await.map_err(|source| ServeError::Store {
        dir: url.into(),
        source,
    })?;
    let state = ServerState::new(Parts {
        store: store.clone(),
        limits: Limits::from(config),
        auth: policy,
        policy: MessagePolicy::from(config),
        files: FileDir::new(config.files_dir()),
        directory: directory.clone(),
        audit,
        data_dir,
        shared_limits: Some(crate::limits::SharedLimits::new(store.connection())),
    });
    state
        .refusals
        .clone()
        .spawn_summary(std::time::Duration::from_secs(10));
    let (layer, io) = socket_io(config)
        .with_adapter::<CustomRedisAdapter<_, crate::pubsub::ReconnectingDriver>>(adapter)
        .with_state(state.clone())
        .build_layer();
    handlers::register(&io)
        .await
        .map_err(|e| ServeError::Io(std::io::Error::other(format!("redis adapter: {e}"))))?;
    crate::cluster::spawn(io.clone(), store.clone(), state.clone());
    crate::directory::recheck::spawn(state.clone(), io.clone());
    admin::spawn(admin_path, io.clone(), state.clone(), endpoint)?;
    tracing::info!(node = store.node(), "cluster mode");
    let health = Health {
        store: store.clone(),
        cluster: Some((store, driver)),
        directory,
    };
    let files = files_for(config, &state)?;
    Ok((router(layer, config, health, auth_info, files), closer(io)))
}

fn files_for(config: &Config, state: &ServerState) -> Result<Files, ServeError> {
    Ok(Files::open(FilesInner {
        store: state.store.clone(),
        dir: state.files.clone(),
        max_bytes: config.max_file_bytes,
        quota_bytes: config.files_quota_bytes,
        rate: state.message_rate.clone(),
    })?)
}

/// Shutdown: every socket of this node gets a socket.io DISCONNECT first (clients such as
/// rust_socketio report that, but not the bare end of the transport), then the engine closes.
fn closer<A: socketioxide::adapter::Adapter>(io: SocketIo<A>) -> Closer {
    Box::new(move || {
        Box::pin(async move {
            if let Err(e) = io.local().disconnect().await {
                tracing::warn!(error = ?e, "could not disconnect every socket");
            }
            io.close().await
        })
    })
}

const SOCKET_BUFFER_PACKETS: usize = 16 * 1024;

/// How long a client has between opening the engine.io session and its socket.io CONNECT
/// being handled. It runs on the server's clock, not the client's: in a storm of 10,000 logins
/// CONNECTs sent at once waited their turn for more than 5 s, and were closed for it.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

/// The largest packet a client may send: a message at `--max-message-bytes` with every
/// character escaped in JSON, plus its envelope. Enforced by the transports before anything
/// is parsed (tungstenite for websockets, engineioxide for polling), also before the
/// handshake.
pub fn max_packet_bytes(max_message_bytes: usize) -> usize {
    max_message_bytes.saturating_mul(2).saturating_add(4096)
}

fn socket_io(config: &Config) -> socketioxide::SocketIoBuilder {
    let max_packet = max_packet_bytes(config.max_message_bytes);
    SocketIo::builder()
        .max_payload(max_packet as u64)
        .ws_max_message_size(max_packet)
        .ws_max_frame_size(max_packet)
        .connect_timeout(CONNECT_TIMEOUT)
        // Packets queued per socket before emits to it fail. The default (128) overflows when
        // hundreds of people log in at once (each login is one `user connected` to everyone);
        // the queue only takes memory while it is full.
        .max_buffer_size(SOCKET_BUFFER_PACKETS)
        // Each socket's websocket read buffer, for the life of the socket: most frames are a
        // few hundred bytes. tungstenite reads at most this much per call, so a message at the
        // 16 KiB default limit takes about 32 reads instead of 16 (at typing rates, nothing).
        .ws_read_buffer_size(WS_READ_BUFFER_BYTES)
}

/// See [`socket_io`]: engineioxide's default is 4 KiB.
const WS_READ_BUFFER_BYTES: usize = 512;

/// The whole HTTP surface around a socket.io layer.
fn router<L>(layer: L, config: &Config, health: Health, auth_info: AuthInfo, files: Files) -> Router
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
    let origins = Arc::new(Origins::new(&config.cors_origins));
    let auth_info = Arc::new(auth_info);
    Router::new()
        .route("/healthz", get(healthz))
        .with_state(health)
        .route(
            natter_protocol::AUTH_INFO_PATH,
            get(move || {
                let info = auth_info.clone();
                async move { Json((*info).clone()) }
            }),
        )
        .merge(files.router())
        .layer(layer)
        .layer(axum::middleware::from_fn(trim_upgrade_head))
        .layer(axum::middleware::from_fn_with_state(
            origins.clone(),
            origin_guard,
        ))
        .layer(cors(origins))
}

/// engineioxide keeps a websocket's upgrade request head (`Parts`) for the socket's life. As
/// hyper parsed it, its headers and URI are slices of the connection's 8 KiB read buffer, which
/// would stay allocated as long as the socket lives, and most of it is never read again.
async fn trim_upgrade_head(req: Request, next: Next) -> Response {
    let upgrading = req
        .headers()
        .get(header::UPGRADE)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"));
    if !upgrading {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    next.run(Request::from_parts(upgrade_head(parts), body))
        .await
}

/// What a websocket keeps of its upgrade request, in allocations of its own: the URI (its query
/// names the engine.io version and session), the `Sec-WebSocket-Key` the 101 answers, hyper's
/// upgrade and the client's address (throttling). Nothing reads the other headers or
/// extensions after the handshake; they would cost a socket about 1 KiB for its whole life.
fn upgrade_head(parts: axum::http::request::Parts) -> axum::http::request::Parts {
    let axum::http::request::Parts {
        method,
        uri,
        version,
        headers,
        mut extensions,
        ..
    } = parts;
    let (mut head, ()) = Request::new(()).into_parts();
    head.method = method;
    head.version = version;
    head.uri = axum::http::Uri::try_from(uri.to_string()).unwrap_or(uri);
    if let Some(key) = headers
        .get(header::SEC_WEBSOCKET_KEY)
        .and_then(|k| HeaderValue::from_bytes(k.as_bytes()).ok())
    {
        head.headers = axum::http::HeaderMap::with_capacity(1);
        head.headers.insert(header::SEC_WEBSOCKET_KEY, key);
    }
    if let Some(upgrade) = extensions.remove::<hyper::upgrade::OnUpgrade>() {
        head.extensions.insert(upgrade);
    }
    if let Some(peer) = extensions.remove::<axum::extract::ConnectInfo<SocketAddr>>() {
        head.extensions.insert(peer);
    }
    head
}

/// What `/healthz` looks at.
#[derive(Clone)]
struct Health {
    store: Arc<dyn crate::store::Store>,
    /// In cluster mode: the shared store and the adapter's pub/sub.
    cluster: Option<(Arc<RedisStore>, crate::pubsub::ReconnectingDriver)>,
    /// The office directory (`--ldap-url`): reported, never a reason for 503 (messages can
    /// still be stored; only new sign-ins wait for it).
    directory: Option<Arc<Directory>>,
}

/// 200 when a message could be stored now; 503 when not (writer gone, disk full, Redis
/// unreachable), so a load balancer or a monitor stops trusting the node.
async fn healthz(State(health): State<Health>) -> Response {
    let version = env!("CARGO_PKG_VERSION");
    let mut writable = health.store.check_writable().await;
    if let Some((_, pubsub)) = &health.cluster
        && writable.is_ok()
        && !pubsub.is_up()
    {
        writable = Err(crate::store::StoreError::Redis(
            "the pub/sub connection is down: other nodes cannot be reached".into(),
        ));
    }
    let mut body = json!({
        "status": if writable.is_ok() { "ok" } else { "unavailable" },
        "version": version,
    });
    if let Err(e) = &writable {
        tracing::warn!(error = %e, "health check: the store cannot write");
        body["error"] = json!(e.to_string());
    }
    if let Some(directory) = &health.directory {
        let ok = directory.reachable().await;
        body["directory"] = json!(if ok { "ok" } else { "unreachable" });
    }
    if let Some((store, _)) = &health.cluster {
        let (redis_ok, nodes) = crate::cluster::health(store).await;
        body["redis"] = json!(if redis_ok { "ok" } else { "unreachable" });
        body["nodes"] = json!(nodes);
    }
    let status = if writable.is_ok() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

/// The browser origins allowed to talk to the server: the configured ones (or any, with
/// `*`), the desktop app's webviews and pages served from this machine.
struct Origins {
    any: bool,
    configured: Vec<HeaderValue>,
}

impl Origins {
    fn new(configured: &[String]) -> Self {
        Self {
            any: configured.iter().any(|o| o == "*"),
            configured: configured
                .iter()
                .filter_map(|o| HeaderValue::from_str(o.trim()).ok())
                .collect(),
        }
    }

    fn allows(&self, origin: &HeaderValue) -> bool {
        self.any || self.configured.contains(origin) || origin.to_str().is_ok_and(is_default_origin)
    }
}

/// A web page's requests carry its `Origin`: a page from anywhere else must not open a
/// socket.io session (by WebSocket or polling) in the name of whoever is browsing it. Native
/// clients (the desktop app) send no `Origin` and pass.
async fn origin_guard(State(origins): State<Arc<Origins>>, req: Request, next: Next) -> Response {
    if req.uri().path().starts_with("/socket.io")
        && let Some(origin) = req.headers().get(header::ORIGIN)
        && !origins.allows(origin)
    {
        tracing::info!(?origin, "refused a request from a foreign origin");
        return (StatusCode::FORBIDDEN, "origin not allowed\n").into_response();
    }
    next.run(req).await
}

/// Browser clients (the guide's web client) need CORS for the polling transport; the desktop
/// app talks from Rust and needs none, but its webview origins are allowed too.
fn cors(origins: Arc<Origins>) -> CorsLayer {
    CorsLayer::new()
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::CONTENT_TYPE])
        .allow_origin(AllowOrigin::predicate(move |origin, _| {
            origins.allows(origin)
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
    use super::{is_default_origin, upgrade_head};
    use axum::extract::{ConnectInfo, OriginalUri, Request};
    use axum::http::header;
    use std::net::SocketAddr;

    #[test]
    fn an_upgrade_keeps_only_what_is_read_after_the_handshake() {
        let uri = "/socket.io/?EIO=4&transport=websocket";
        let peer: SocketAddr = "192.0.2.7:50000".parse().unwrap();
        let (mut parts, ()) = Request::builder()
            .uri(uri)
            .header(header::HOST, "natter.lan:3000")
            .header(header::UPGRADE, "websocket")
            .header(header::CONNECTION, "Upgrade")
            .header(header::USER_AGENT, "a browser with a long name")
            .header(header::SEC_WEBSOCKET_KEY, "dGhlIHNhbXBsZSBub25jZQ==")
            .header(header::SEC_WEBSOCKET_VERSION, "13")
            .body(())
            .unwrap()
            .into_parts();
        parts.extensions.insert(ConnectInfo(peer));
        parts.extensions.insert(OriginalUri(uri.parse().unwrap()));

        let head = upgrade_head(parts);
        assert_eq!(head.uri, uri);
        assert_eq!(head.headers.len(), 1);
        assert_eq!(
            head.headers[header::SEC_WEBSOCKET_KEY],
            "dGhlIHNhbXBsZSBub25jZQ=="
        );
        assert_eq!(
            head.extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0),
            Some(peer)
        );
        assert!(head.extensions.get::<OriginalUri>().is_none());
    }

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
