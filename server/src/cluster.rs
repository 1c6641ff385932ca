//! Cluster mode: node liveness in Redis and repair of presence when a node dies.
//!
//! Each node refreshes an expiring heartbeat key. Every node also looks for nodes whose
//! heartbeat expired; one of them (a short Redis lock decides) takes the dead node's users,
//! and every user no longer on a live node is announced `user disconnected` to everyone.

use std::sync::Arc;
use std::time::Duration;

use natter_protocol::PresenceChange;
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;

use crate::ServerState;
use crate::handlers::Identity;
use crate::presence::{self, Joined};
use crate::store::redis::{RedisStore, keys};
use crate::store::{Presence, StoreResult};

/// How often a node says it is alive, and how long that lasts.
const HEARTBEAT: Duration = Duration::from_secs(1);
const ALIVE_FOR: Duration = Duration::from_secs(4);

/// Starts the heartbeat and the reaper of this node; both run until the process ends.
pub fn spawn<A: Adapter>(io: SocketIo<A>, store: Arc<RedisStore>, app: ServerState) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(HEARTBEAT);
        loop {
            tick.tick().await;
            if let Err(e) = beat(&store).await {
                tracing::warn!(error = %e, "heartbeat failed");
            }
            if let Err(e) = reassert(&io, &store, &app).await {
                tracing::warn!(error = %e, "presence refresh failed");
            }
            if let Err(e) = reap(&io, &store, &app.presence_batches).await {
                tracing::warn!(error = %e, "presence repair failed");
            }
        }
    });
}

/// After a stall long enough to be declared dead, this node's users were announced offline
/// and its presence set deleted. Put back every user it still serves, and announce them.
async fn reassert<A: Adapter>(
    io: &SocketIo<A>,
    store: &RedisStore,
    app: &ServerState,
) -> StoreResult<()> {
    let mut users: Vec<Arc<Identity>> = Vec::new();
    for s in io.local().sockets() {
        if let Some(me) = s.extensions.get::<Arc<Identity>>()
            && s.extensions.get::<Joined>().is_some()
            && !users.iter().any(|u| u.user_id == me.user_id)
        {
            users.push(me);
        }
    }
    if users.is_empty() {
        return Ok(());
    }
    let mut conn = store.connection();
    let key = keys::node_users(store.node());
    let present: Vec<bool> = redis::cmd("SMISMEMBER")
        .arg(&key)
        .arg(users.iter().map(|u| u.user_id.as_str()).collect::<Vec<_>>())
        .query_async(&mut conn)
        .await?;
    for (me, present) in users.into_iter().zip(present) {
        if present {
            continue;
        }
        // Under the user's presence lock, so a socket leaving right now is not re-added.
        let _presence = app.presence.lock(&me.user_id).await;
        let still_here = io
            .local()
            .within(me.user_id.clone())
            .sockets()
            .iter()
            .any(|s| s.connected());
        if !still_here {
            continue;
        }
        Presence::set_connected(store, &me.user_id, true).await?;
        tracing::warn!(user = %me.user_id, "presence restored after this node was declared dead");
        let change = PresenceChange::online(&me.user_id, &me.username);
        presence::announce(io, None, &app.presence_batches, change).await;
    }
    Ok(())
}

async fn beat(store: &RedisStore) -> StoreResult<()> {
    let mut conn = store.connection();
    redis::pipe()
        .cmd("SET")
        .arg(keys::node_alive(store.node()))
        .arg(1)
        .arg("PX")
        .arg(ALIVE_FOR.as_millis() as u64)
        .ignore()
        .sadd(keys::NODES, store.node())
        .ignore()
        .query_async::<()>(&mut conn)
        .await?;
    Ok(())
}

/// Takes over the presence of nodes whose heartbeat expired.
async fn reap<A: Adapter>(
    io: &SocketIo<A>,
    store: &RedisStore,
    batches: &Arc<presence::Batches>,
) -> StoreResult<()> {
    let mut conn = store.connection();
    let nodes: Vec<String> = redis::cmd("SMEMBERS")
        .arg(keys::NODES)
        .query_async(&mut conn)
        .await?;
    let live = store.live_nodes().await?;
    for dead in nodes.iter().filter(|n| !live.contains(n)) {
        let locked: Option<String> = redis::cmd("SET")
            .arg(keys::reap(dead))
            .arg(store.node())
            .arg("NX")
            .arg("PX")
            .arg(10_000)
            .query_async(&mut conn)
            .await?;
        if locked.is_none() {
            continue; // another node is on it
        }
        let users: Vec<String> = redis::cmd("SMEMBERS")
            .arg(keys::node_users(dead))
            .query_async(&mut conn)
            .await?;
        redis::pipe()
            .del(keys::node_users(dead))
            .srem(keys::NODES, dead)
            .query_async::<()>(&mut conn)
            .await?;
        tracing::warn!(node = %dead, users = users.len(), "node is gone: repairing presence");
        for user in users {
            if Presence::is_connected(store, &user).await? {
                continue;
            }
            presence::announce(io, None, batches, PresenceChange::offline(user)).await;
        }
    }
    Ok(())
}

/// For `/healthz`: whether Redis answers, and how many nodes are alive.
pub async fn health(store: &RedisStore) -> (bool, usize) {
    match store.live_nodes().await {
        Ok(nodes) => (true, nodes.len()),
        Err(_) => (false, 0),
    }
}
