//! Edits and reactions at saturation, beside sends measured the same way: a fresh server,
//! clients in pairs, each keeping a few acked requests in flight for the whole run (a closed
//! loop: the server sets the pace). Each client changes a message of its own conversation
//! (edits its own, reacts to its partner's, 👍 on and off so every reaction is a change);
//! the partner gets each change as an event. Prints a Markdown table.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use natter_protocol::{Auth, event};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::client::{self, Report, event_with_ack};
use crate::proc::{ServerProcess, cpu_seconds, natter_args};

#[derive(Debug, Clone, clap::Args)]
pub struct ChangesConfig {
    #[arg(long)]
    pub natter_bin: PathBuf,
    /// Clients (an even number: they talk in pairs).
    #[arg(long, default_value_t = 200)]
    pub clients: usize,
    /// Acked requests each client keeps in flight.
    #[arg(long, default_value_t = 4)]
    pub in_flight: usize,
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Runs of each kind, interleaved kind by kind.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// What to measure.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "send,edit,react"
    )]
    pub kinds: Vec<Kind>,
}

/// What the clients do for a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    Send,
    Edit,
    React,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Send => "send (`private message`)",
            Kind::Edit => "edit (`edit message`)",
            Kind::React => "react (`react`, on and off)",
        }
    }
}

#[derive(Debug, Default, Clone)]
struct RunResult {
    acked_per_s: f64,
    /// Acks that were not `ok` (must be 0).
    refused: u64,
    p50_ms: f64,
    p99_ms: f64,
    server_cpu_pct: f64,
}

/// A client of the run: its partner, and the messages it changes.
struct Peer {
    tx: mpsc::UnboundedSender<String>,
    partner: usize,
    user_id: String,
    /// Its own message (to edit).
    own: u64,
    /// Its partner's message (to react to).
    theirs: u64,
    /// Whether its 👍 is on the partner's message now.
    reacted: bool,
    seq: u64,
}

/// Ack ids carry the client: `seq * clients + index`.
fn ack_id(seq: u64, index: usize, clients: usize) -> u64 {
    seq * clients as u64 + index as u64
}

fn request(kind: Kind, p: &mut Peer, peers_user: &str) -> (&'static str, Value) {
    p.seq += 1;
    match kind {
        Kind::Send => (
            event::PRIVATE_MESSAGE,
            json!({"to": peers_user, "content": format!("message {}", p.seq)}),
        ),
        Kind::Edit => (
            event::EDIT_MESSAGE,
            json!({"id": p.own, "content": format!("edited {}", p.seq)}),
        ),
        Kind::React => {
            p.reacted = !p.reacted;
            (
                event::REACT,
                json!({"id": p.theirs, "emoji": "👍", "on": p.reacted}),
            )
        }
    }
}

async fn one_run(cfg: &ChangesConfig, kind: Kind) -> RunResult {
    let data = tempfile::tempdir().expect("temp dir");
    let server =
        ServerProcess::start(Some(0), &cfg.natter_bin, &natter_args(data.path()), &[]).await;
    let result = drive(cfg, kind, &server).await;
    server.stop().await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    result
}

/// Waits for the ack of `ack_id` among the reports (logins are done by then).
async fn wait_ack(reports: &mut mpsc::UnboundedReceiver<Report>, want: u64) -> Value {
    loop {
        match tokio::time::timeout(Duration::from_secs(30), reports.recv()).await {
            Ok(Some(Report::Acked {
                ack_id, payload, ..
            })) if ack_id == want => return payload,
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => panic!("no ack {want}"),
        }
    }
}

async fn drive(cfg: &ChangesConfig, kind: Kind, server: &ServerProcess) -> RunResult {
    let n = cfg.clients & !1;
    let clock = Instant::now();
    let (reports_tx, mut reports) = mpsc::unbounded_channel();
    let txs: Vec<_> = (0..n)
        .map(|i| {
            let auth = Auth {
                username: Some(format!("changes{i}")),
                batch_presence: true,
                ..Auth::default()
            };
            client::spawn_plain(i, server.addr, &auth, clock, reports_tx.clone())
        })
        .collect();
    drop(reports_tx);
    let mut user_ids = vec![String::new(); n];
    let mut logged_in = 0;
    while logged_in < n {
        match tokio::time::timeout(Duration::from_secs(60), reports.recv()).await {
            Ok(Some(Report::LoggedIn { index, user_id, .. })) => {
                user_ids[index] = user_id;
                logged_in += 1;
            }
            Ok(Some(Report::Failed { index, error })) => panic!("client {index}: {error}"),
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => panic!("{logged_in} of {n} clients logged in"),
        }
    }
    // Every client's own message in its pair's conversation, sent one by one.
    let mut own = vec![0u64; n];
    for i in 0..n {
        let partner = i ^ 1;
        let id = ack_id(0, i, n);
        let frame = event_with_ack(
            id,
            event::PRIVATE_MESSAGE,
            &json!({"to": user_ids[partner], "content": format!("seed {i}")}),
        );
        let _ = txs[i].send(frame);
        own[i] = wait_ack(&mut reports, id).await["id"]
            .as_u64()
            .expect("the seed message stored");
    }
    let mut peers: Vec<Peer> = txs
        .into_iter()
        .enumerate()
        .map(|(i, tx)| Peer {
            tx,
            partner: i ^ 1,
            user_id: user_ids[i].clone(),
            own: own[i],
            theirs: own[i ^ 1],
            reacted: false,
            seq: 0,
        })
        .collect();

    let mut sent_at: HashMap<u64, u64> = HashMap::new();
    let mut latencies_us: Vec<u32> = Vec::new();
    let mut result = RunResult::default();
    let issue = |peers: &mut Vec<Peer>, i: usize, sent_at: &mut HashMap<u64, u64>| {
        let partner_user = peers[peers[i].partner].user_id.clone();
        let (name, payload) = request(kind, &mut peers[i], &partner_user);
        let id = ack_id(peers[i].seq, i, n);
        sent_at.insert(id, clock.elapsed().as_nanos() as u64);
        let _ = peers[i].tx.send(event_with_ack(id, name, &payload));
    };
    let pid = server.pid.to_string();
    let cpu_start = cpu_seconds(&pid);
    let start = Instant::now();
    for i in 0..n {
        for _ in 0..cfg.in_flight {
            issue(&mut peers, i, &mut sent_at);
        }
    }
    let duration = Duration::from_secs(cfg.seconds);
    let mut acked = 0u64;
    while start.elapsed() < duration {
        let Ok(Some(report)) = tokio::time::timeout(Duration::from_secs(5), reports.recv()).await
        else {
            break;
        };
        let Report::Acked {
            ack_id,
            received_ns,
            payload,
        } = report
        else {
            continue;
        };
        let Some(sent) = sent_at.remove(&ack_id) else {
            continue;
        };
        acked += 1;
        if payload["ok"] != true && payload.get("id").is_none() {
            result.refused += 1;
        }
        latencies_us.push((received_ns.saturating_sub(sent) / 1000).min(u32::MAX as u64) as u32);
        issue(&mut peers, (ack_id % n as u64) as usize, &mut sent_at);
    }
    let elapsed = start.elapsed().as_secs_f64();
    result.acked_per_s = acked as f64 / elapsed;
    result.server_cpu_pct = match (cpu_start, cpu_seconds(&pid)) {
        (Some(a), Some(b)) => (b - a) / elapsed * 100.0,
        _ => f64::NAN,
    };
    latencies_us.sort_unstable();
    let pct = |p: f64| {
        latencies_us
            .get(((latencies_us.len().max(1) - 1) as f64 * p).round() as usize)
            .map_or(f64::NAN, |&us| us as f64 / 1000.0)
    };
    (result.p50_ms, result.p99_ms) = (pct(0.5), pct(0.99));
    eprintln!("{kind:?}: {result:?}");
    result
}

fn cell(runs: &[RunResult], figure: impl Fn(&RunResult) -> String) -> String {
    runs.iter().map(figure).collect::<Vec<_>>().join(", ")
}

pub async fn run(cfg: &ChangesConfig) -> String {
    let kinds = &cfg.kinds;
    let mut runs: Vec<Vec<RunResult>> = vec![Vec::new(); kinds.len()];
    for _ in 0..cfg.rounds {
        for (i, &kind) in kinds.iter().enumerate() {
            runs[i].push(one_run(cfg, kind).await);
        }
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| request | acked/s | p50 ms | p99 ms | server CPU % | refused |\n|---|---|---|---|---|---|"
    );
    for (kind, runs) in kinds.iter().zip(&runs) {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            kind.name(),
            cell(runs, |r| format!("{:.0}", r.acked_per_s)),
            cell(runs, |r| format!("{:.2}", r.p50_ms)),
            cell(runs, |r| format!("{:.2}", r.p99_ms)),
            cell(runs, |r| format!("{:.0}", r.server_cpu_pct)),
            cell(runs, |r| r.refused.to_string()),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ack_ids_name_their_client_and_reactions_alternate() {
        assert_eq!(ack_id(7, 3, 200) % 200, 3);
        assert_ne!(ack_id(7, 3, 200), ack_id(8, 3, 200));
        let (tx, _rx) = mpsc::unbounded_channel();
        let mut p = Peer {
            tx,
            partner: 1,
            user_id: "u0".into(),
            own: 10,
            theirs: 11,
            reacted: false,
            seq: 0,
        };
        let (name, first) = request(Kind::React, &mut p, "u1");
        let (_, second) = request(Kind::React, &mut p, "u1");
        assert_eq!(name, event::REACT);
        assert_eq!((&first["on"], &second["on"]), (&json!(true), &json!(false)));
        assert_eq!(first["id"], 11, "the partner's message");
        let (name, edit) = request(Kind::Edit, &mut p, "u1");
        assert_eq!((name, &edit["id"]), (event::EDIT_MESSAGE, &json!(10)));
    }
}
