//! The Redis pub/sub driver under the socket.io adapter, one that survives a Redis restart.
//!
//! socketioxide-redis's own driver holds one connection with its subscriptions and never
//! replaces it: after Redis restarts, every broadcast and cross-node query of the node fails
//! until the node itself is restarted. This one notices the loss (redis-rs reports a dropped
//! connection to the push handler, commands fail, and a ping every second finds a silent
//! loss), reconnects with backoff, and subscribes again to every channel the adapter holds.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncCommands, PushInfo, PushKind};
use socketioxide_redis::drivers::{Driver, MessageStream};
use tokio::sync::{Notify, mpsc};

type ChanItem = (String, Vec<u8>);

const PING_EVERY: Duration = Duration::from_secs(1);
type Handlers = Arc<RwLock<HashMap<String, mpsc::Sender<ChanItem>>>>;

#[derive(Debug, thiserror::Error)]
#[error("redis: {0}")]
pub struct PubSubError(#[from] redis::RedisError);

#[derive(Clone)]
pub struct ReconnectingDriver {
    inner: Arc<Inner>,
}

struct Inner {
    conn: RwLock<MultiplexedConnection>,
    handlers: Handlers,
    /// Rung when the connection is found broken.
    lost: Notify,
    /// Connected with every subscription in place.
    up: AtomicBool,
}

fn on_push(msg: PushInfo, handlers: &Handlers, lost: &Arc<Notify>) {
    match msg.kind {
        PushKind::Disconnection => lost.notify_one(),
        PushKind::Message | PushKind::SMessage if msg.data.len() >= 2 => {
            let mut data = msg.data.into_iter();
            let (Some(chan), Some(payload)) = (data.next(), data.next()) else {
                return;
            };
            let (Ok(chan), Ok(payload)) = (
                redis::from_redis_value::<String>(chan),
                redis::from_redis_value::<Vec<u8>>(payload),
            ) else {
                tracing::warn!("unreadable pub/sub message");
                return;
            };
            let handlers = handlers.read().unwrap_or_else(|p| p.into_inner());
            if let Some(tx) = handlers.get(&chan)
                && let Err(e) = tx.try_send((chan, payload))
            {
                tracing::warn!(error = %e, "pub/sub channel full");
            }
        }
        _ => {}
    }
}

async fn connect(
    client: &redis::Client,
    handlers: &Handlers,
    lost: &Arc<Notify>,
) -> redis::RedisResult<MultiplexedConnection> {
    let (h, l) = (handlers.clone(), lost.clone());
    let config = redis::AsyncConnectionConfig::new().set_push_sender(move |msg| {
        on_push(msg, &h, &l);
        Ok::<(), std::convert::Infallible>(())
    });
    client
        .get_multiplexed_async_connection_with_config(&config)
        .await
}

impl ReconnectingDriver {
    pub async fn new(client: redis::Client) -> redis::RedisResult<Self> {
        let handlers: Handlers = Arc::default();
        let lost = Arc::new(Notify::new());
        let conn = connect(&client, &handlers, &lost).await?;
        let inner = Arc::new(Inner {
            conn: RwLock::new(conn),
            handlers: handlers.clone(),
            lost: Notify::new(),
            up: AtomicBool::new(true),
        });
        // A subscriber that never publishes only learns of a loss by asking.
        let weak = Arc::downgrade(&inner);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(PING_EVERY);
            loop {
                tick.tick().await;
                let Some(inner) = weak.upgrade() else { return };
                if !inner.up.load(Ordering::Relaxed) {
                    continue;
                }
                let mut conn = inner.conn.read().unwrap_or_else(|p| p.into_inner()).clone();
                let ping = tokio::time::timeout(
                    PING_EVERY,
                    redis::cmd("PING").query_async::<redis::Value>(&mut conn),
                )
                .await;
                if !matches!(ping, Ok(Ok(_))) {
                    inner.lost.notify_one();
                }
            }
        });
        // Both the push handler and failed commands ring the same bell.
        let (bell, weak) = (lost.clone(), Arc::downgrade(&inner));
        tokio::spawn(async move {
            loop {
                let Some(inner) = weak.upgrade() else { return };
                tokio::select! {
                    () = bell.notified() => {}
                    () = inner.lost.notified() => {}
                }
                inner.up.store(false, Ordering::Relaxed);
                tracing::warn!("lost the Redis pub/sub connection; reconnecting");
                let mut delay = Duration::from_millis(100);
                let conn = loop {
                    match connect(&client, &handlers, &bell).await {
                        Ok(conn) => break conn,
                        Err(e) => {
                            tracing::debug!(error = %e, ?delay, "Redis still unreachable");
                            tokio::time::sleep(delay).await;
                            delay = (delay * 2).min(Duration::from_secs(2));
                        }
                    }
                };
                let channels: Vec<String> = handlers
                    .read()
                    .unwrap_or_else(|p| p.into_inner())
                    .keys()
                    .cloned()
                    .collect();
                let mut resubscribed = conn.clone();
                let mut ok = true;
                for chan in &channels {
                    if let Err(e) = resubscribed.subscribe(chan.as_str()).await {
                        tracing::warn!(error = %e, chan, "could not subscribe again");
                        ok = false;
                    }
                }
                *inner.conn.write().unwrap_or_else(|p| p.into_inner()) = conn;
                if ok {
                    inner.up.store(true, Ordering::Relaxed);
                    tracing::info!(channels = channels.len(), "Redis pub/sub back");
                } else {
                    inner.lost.notify_one();
                }
            }
        });
        Ok(Self { inner })
    }

    /// Whether broadcasts and cross-node queries work now.
    pub fn is_up(&self) -> bool {
        self.inner.up.load(Ordering::Relaxed)
    }

    fn conn(&self) -> MultiplexedConnection {
        self.inner
            .conn
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// A failed command on a dropped connection starts the reconnection.
    fn check<T>(&self, result: redis::RedisResult<T>) -> Result<T, PubSubError> {
        if let Err(e) = &result
            && (e.is_connection_dropped() || e.is_io_error() || e.is_connection_refusal())
        {
            self.inner.lost.notify_one();
        }
        Ok(result?)
    }
}

impl Driver for ReconnectingDriver {
    type Error = PubSubError;

    async fn publish(&self, chan: String, val: Vec<u8>) -> Result<(), Self::Error> {
        let result = self.conn().publish::<_, _, redis::Value>(chan, val).await;
        self.check(result).map(|_| ())
    }

    async fn subscribe(
        &self,
        chan: String,
        size: usize,
    ) -> Result<MessageStream<ChanItem>, Self::Error> {
        let (tx, rx) = mpsc::channel(size);
        // Registered first, so a reconnection in between subscribes it too.
        self.inner
            .handlers
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(chan.clone(), tx);
        let result = self.conn().subscribe(chan.as_str()).await;
        self.check(result)?;
        Ok(MessageStream::new(rx))
    }

    async fn unsubscribe(&self, chan: String) -> Result<(), Self::Error> {
        self.inner
            .handlers
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&chan);
        let result = self.conn().unsubscribe(chan).await;
        self.check(result)
    }

    async fn num_serv(&self, chan: &str) -> Result<u16, Self::Error> {
        let result: redis::RedisResult<(String, u16)> = redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg(chan)
            .query_async(&mut self.conn())
            .await;
        self.check(result).map(|(_, n)| n)
    }
}
