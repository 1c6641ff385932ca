//! Login time against stored history: does connect → `users` stay flat as the total number of
//! stored messages grows? The measured user always has the same own history.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use natter_server::store::sqlite::SqliteStore;
use natter_server::store::{Identities, Messages, NewMessage};
use serde::Serialize;

use crate::proc::ServerProcess;

const PEERS: usize = 10;
const PER_PEER: usize = 100;
const OTHERS: usize = 200;
const SESSION: &str = "bench-history-session-0000000000";

#[derive(Debug, Clone, Serialize)]
pub struct HistoryPoint {
    pub stored_messages: u64,
    pub seed_messages_per_s: f64,
    pub login_p50_ms: f64,
    pub login_p95_ms: f64,
}

/// Fills `dir` with the measured user, its peers and `total` messages in all.
pub async fn seed(dir: &Path, total: u64) -> f64 {
    let store = Arc::new(SqliteStore::open(dir).expect("open store"));
    store
        .create_user(new_user(SESSION, "me"))
        .await
        .expect("store")
        .expect("a free name");
    let user = |i: usize| format!("u{i}");
    for i in 0..PEERS + OTHERS {
        let sid = format!("bench-session-{i:020}");
        store
            .create_user(new_user(&sid, &user(i)))
            .await
            .expect("store")
            .expect("a free name");
    }
    let own = (PEERS * PER_PEER) as u64;
    let messages = (0..total).map(|n| {
        let (from, to) = if n < own {
            ("me".to_owned(), user(n as usize % PEERS))
        } else {
            let a = PEERS + (n as usize * 7919) % OTHERS;
            let b = PEERS + (n as usize * 104_729 + 1) % OTHERS;
            (
                user(a),
                user(if a == b {
                    PEERS + (b + 1 - PEERS) % OTHERS
                } else {
                    b
                }),
            )
        };
        (
            from,
            to,
            format!("message {n} with some ordinary length of text"),
        )
    });
    insert_all(&store, messages).await
}

/// Stores `(from, to, content)` messages through the store, many in flight at once (group
/// commit); returns how many per second were committed.
pub async fn insert_all(
    store: &Arc<SqliteStore>,
    messages: impl Iterator<Item = (String, String, String)>,
) -> f64 {
    let started = Instant::now();
    let mut pending = Vec::new();
    let mut total = 0u64;
    for (from, to, content) in messages {
        total += 1;
        let s = store.clone();
        pending.push(async move {
            s.insert_message(NewMessage {
                from,
                to,
                content,
                client_id: None,
                attachment: None,
                ..NewMessage::default()
            })
            .await
            .expect("insert")
        });
        if pending.len() == 4096 {
            join_all(pending.drain(..)).await;
        }
    }
    join_all(pending).await;
    total as f64 / started.elapsed().as_secs_f64().max(1e-9)
}

pub fn new_user(session_id: &str, name: &str) -> natter_server::store::NewUser {
    natter_server::store::NewUser {
        session_id: session_id.into(),
        user_id: name.into(),
        username: name.into(),
        ..Default::default()
    }
}

/// Logs in `samples` times as the measured user and returns (p50, p95) in ms.
pub async fn measure(server: &ServerProcess, samples: usize) -> (f64, f64) {
    let mut times = Vec::with_capacity(samples);
    for _ in 0..samples {
        let started = Instant::now();
        let (reports, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let clock = Instant::now();
        // Resume as the measured user: auth by sessionID.
        let auth = natter_protocol::Auth {
            session_id: Some(SESSION.into()),
            ..Default::default()
        };
        let tx = crate::client::spawn_plain(0, server.addr, &auth, clock, reports);
        loop {
            match tokio::time::timeout(Duration::from_secs(30), rx.recv()).await {
                Ok(Some(crate::client::Report::LoggedIn { .. })) => break,
                Ok(Some(crate::client::Report::Failed { error, .. })) => {
                    panic!("login failed: {error}")
                }
                Ok(Some(_)) => {}
                _ => panic!("login timed out"),
            }
        }
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        drop(tx);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    times.sort_by(f64::total_cmp);
    let at = |p: f64| times[((times.len() - 1) as f64 * p).round() as usize];
    (at(0.5), at(0.95))
}
