//! The accept loop: TCP (with TCP_NODELAY), TLS when on, HTTP/1.1 with upgrades, the client's
//! address in every request, and graceful shutdown.
//!
//! Our own loop instead of `axum::serve`, because that one runs hyper without a timer (so no
//! header timeout ever fires: an idle or trickling connection is kept for ever) and has no place
//! for a TLS handshake.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use futures_util::future::BoxFuture;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

/// How long a client may take to send a request's head (a slow-loris trickle is cut here).
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client may take to finish the TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long shutdown waits for requests in flight.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs before in-flight requests are drained (closes the socket.io sockets).
pub type Closer = Box<dyn FnOnce() -> BoxFuture<'static, ()> + Send>;

/// How connections are taken.
pub struct Options {
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Open connections one client address may hold; `None`: no cap.
    pub max_connections_per_ip: Option<usize>,
}

/// Open connections per client address; a connection holds its [`AddrSlot`] while it lives.
#[derive(Default)]
struct PerAddr(Mutex<HashMap<IpAddr, usize>>);

struct AddrSlot {
    map: Arc<PerAddr>,
    ip: IpAddr,
}

impl PerAddr {
    fn take(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<AddrSlot> {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let n = map.entry(ip).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(AddrSlot {
            map: self.clone(),
            ip,
        })
    }
}

impl Drop for AddrSlot {
    fn drop(&mut self) {
        let mut map = self.map.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = map.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

/// How long a write may wait on a client that reads nothing before the connection is closed:
/// its socket's queue would otherwise keep filling for it.
const WRITE_STALL: Duration = Duration::from_secs(20);

/// An accepted connection: holds its address's slot for as long as it is open, and ends it
/// when the client stops reading (a write pending for [`WRITE_STALL`]).
struct Conn {
    inner: tokio::net::TcpStream,
    peer: SocketAddr,
    _slot: Option<AddrSlot>,
    stalled: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
    /// Set once the client was found not reading: every later read and write fails.
    dead: bool,
}

fn stopped_reading() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::TimedOut, "the client stopped reading")
}

impl Conn {
    fn new(inner: tokio::net::TcpStream, peer: SocketAddr, slot: Option<AddrSlot>) -> Self {
        Self {
            inner,
            peer,
            _slot: slot,
            stalled: None,
            dead: false,
        }
    }

    /// Passes a write's outcome on; a write still pending after [`WRITE_STALL`] kills the
    /// connection. Failing the write alone is not enough: engineioxide's writer logs write
    /// errors and goes on, and only its reader ends the session, so the read side must fail too.
    fn watch<T>(
        &mut self,
        cx: &mut std::task::Context<'_>,
        poll: std::task::Poll<std::io::Result<T>>,
    ) -> std::task::Poll<std::io::Result<T>> {
        if poll.is_ready() {
            self.stalled = None;
            return poll;
        }
        let timer = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(WRITE_STALL)));
        if timer.as_mut().poll(cx).is_ready() {
            tracing::info!(peer = %self.peer, "closed: the client stopped reading");
            self.dead = true;
            self.stalled = None;
            // Wakes the task parked on reading this socket: it then sees the error below.
            let _ = socket2::SockRef::from(&self.inner).shutdown(std::net::Shutdown::Both);
            return std::task::Poll::Ready(Err(stopped_reading()));
        }
        std::task::Poll::Pending
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        if self.dead {
            return std::task::Poll::Ready(Err(stopped_reading()));
        }
        std::pin::Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        if self.dead {
            return std::task::Poll::Ready(Err(stopped_reading()));
        }
        let poll = std::pin::Pin::new(&mut self.inner).poll_write(cx, buf);
        self.watch(cx, poll)
    }

    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        if self.dead {
            return std::task::Poll::Ready(Err(stopped_reading()));
        }
        let poll = std::pin::Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.watch(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        if self.dead {
            return std::task::Poll::Ready(Err(stopped_reading()));
        }
        let poll = std::pin::Pin::new(&mut self.inner).poll_flush(cx);
        self.watch(cx, poll)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Refusals of the per-address cap, logged as a count now and then rather than a line each.
static CAPPED: AtomicU64 = AtomicU64::new(0);

/// Serves `router` on `listener` until `shutdown` resolves; then stops accepting, runs
/// `close`, and waits (bounded) for requests in flight.
pub async fn run(
    listener: TcpListener,
    router: Router,
    options: Options,
    shutdown: impl Future<Output = ()> + Send + 'static,
    close: Closer,
) -> std::io::Result<()> {
    let acceptor = options.tls.map(TlsAcceptor::from);
    let per_addr = Arc::new(PerAddr::default());
    let mut last_report = std::time::Instant::now();
    // Tells connections to finish (graceful shutdown); each holds a `done` sender, so the
    // receiver sees the channel close once the last one has ended.
    let (stop_tx, stop_rx) = watch::channel(false);
    let (done_tx, mut done_rx) = mpsc::channel::<()>(1);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT);
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors or a connection reset before accept: not fatal,
                    // and retrying at once would spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let slot = match options.max_connections_per_ip {
            Some(max) => match per_addr.take(peer.ip(), max) {
                Some(slot) => Some(slot),
                None => {
                    CAPPED.fetch_add(1, Ordering::Relaxed);
                    if last_report.elapsed() >= Duration::from_secs(10) {
                        last_report = std::time::Instant::now();
                        let n = CAPPED.swap(0, Ordering::Relaxed);
                        tracing::warn!(
                            refused = n,
                            last = %peer.ip(),
                            "connections refused: over --max-connections-per-ip"
                        );
                    }
                    drop(tcp);
                    continue;
                }
            },
            None => None,
        };
        // Without TCP_NODELAY, Nagle + delayed ACK holds about 1% of small frames ~40 ms.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
        let watcher = Watcher {
            stop: stop_rx.clone(),
            _done: done_tx.clone(),
        };
        let (router, http, acceptor) = (router.clone(), http.clone(), acceptor.clone());
        // The slot lives in the stream: an upgraded websocket outlives this HTTP connection.
        let tcp = Conn::new(tcp, peer, slot);
        tokio::spawn(async move {
            match acceptor {
                None => serve_connection(tcp, peer, router, http, watcher).await,
                Some(acceptor) => {
                    match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(tls)) => serve_connection(tls, peer, router, http, watcher).await,
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                }
            }
        });
    }
    drop(listener);
    tracing::info!("shutting down: closing every socket");
    close().await;
    let _ = stop_tx.send(true);
    drop(done_tx);
    if tokio::time::timeout(DRAIN_TIMEOUT, done_rx.recv())
        .await
        .is_err()
    {
        tracing::warn!("requests still in flight after {DRAIN_TIMEOUT:?}; stopping anyway");
    }
    Ok(())
}

async fn serve_connection<S>(
    stream: S,
    peer: SocketAddr,
    router: Router,
    http: hyper::server::conn::http1::Builder,
    watcher: Watcher,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    // Handlers read the client's address (throttling) from the request's extensions.
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        router.clone().oneshot(req)
    });
    let conn = http
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    let mut conn = std::pin::pin!(conn);
    let mut stop = watcher.stop;
    let result = tokio::select! {
        r = conn.as_mut() => r,
        () = async { let _ = stop.wait_for(|s| *s).await; } => {
            // Finish the request in flight, take no new one.
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(%peer, error = %e, "connection ended with an error");
    }
}

/// What a connection task holds: the stop signal, and its share of the "all done" channel.
struct Watcher {
    stop: watch::Receiver<bool>,
    _done: mpsc::Sender<()>,
}
