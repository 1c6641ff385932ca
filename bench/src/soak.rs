//! The soak: a fresh natter-server under moderate load for a long time, with people leaving and
//! coming back all along. What it watches is what months of use would show: memory that only
//! grows, descriptors that leak, a WAL that never shrinks, messages that go missing.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use natter_protocol::Auth;
use tokio::sync::mpsc;

use crate::client::{self, Report};
use crate::proc::{ServerProcess, rss_kib};

pub struct SoakConfig {
    pub natter_bin: PathBuf,
    pub duration: Duration,
    /// Clients that stay connected and send to each other.
    pub clients: usize,
    /// Messages per second among them.
    pub rate: u64,
    /// Clients that leave and come back, resuming their session, all along.
    pub churn: usize,
}

/// How long a churning client stays, and stays away.
const STAY: Duration = Duration::from_secs(5);
const AWAY: Duration = Duration::from_secs(1);
const SAMPLE_EVERY: Duration = Duration::from_secs(10);

struct Sample {
    at: Duration,
    rss_kib: u64,
    fds: usize,
    wal_bytes: u64,
}

fn sample(at: Duration, pid: u32, data: &Path) -> Sample {
    Sample {
        at,
        rss_kib: rss_kib(pid).unwrap_or(0),
        fds: std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count()),
        wal_bytes: std::fs::metadata(data.join("natter.db-wal")).map_or(0, |m| m.len()),
    }
}

enum Churner {
    Away {
        since: Instant,
    },
    Here {
        _tx: mpsc::UnboundedSender<String>,
        since: Instant,
    },
}

pub async fn run(cfg: &SoakConfig) -> String {
    let data = tempfile::tempdir().expect("temp dir");
    let args = crate::proc::natter_args(data.path());
    let server = ServerProcess::start(Some(0), &cfg.natter_bin, &args, &[]).await;
    let clock = Instant::now();
    let (reports_tx, mut reports) = mpsc::unbounded_channel();

    // Everyone logs in once; the churners keep their sessionIDs to come back with.
    let total = cfg.clients + cfg.churn;
    let mut senders: Vec<_> = (0..total)
        .map(|i| {
            let auth = Auth {
                username: Some(format!("soak{i}")),
                ..Auth::default()
            };
            Some(client::spawn_plain(
                i,
                server.addr,
                &auth,
                clock,
                reports_tx.clone(),
            ))
        })
        .collect();
    let mut user_ids = vec![String::new(); total];
    let mut session_ids = vec![String::new(); total];
    let mut logged_in = 0;
    while logged_in < total {
        match tokio::time::timeout(Duration::from_secs(60), reports.recv()).await {
            Ok(Some(Report::LoggedIn {
                index,
                user_id,
                session_id,
                ..
            })) => {
                user_ids[index] = user_id;
                session_ids[index] = session_id;
                logged_in += 1;
            }
            Ok(Some(Report::Failed { index, error })) => panic!("client {index}: {error}"),
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => panic!("only {logged_in} of {total} logged in"),
        }
    }
    let mut churners: Vec<Churner> = (cfg.clients..total)
        .map(|i| Churner::Here {
            _tx: senders[i].take().expect("churner"),
            since: Instant::now(),
        })
        .collect();

    let mut samples = vec![sample(Duration::ZERO, server.pid, data.path())];
    let (mut sent, mut delivered, mut comebacks) = (0u64, 0u64, 0u64);
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    let mut below = |n: usize| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        (rng % n as u64) as usize
    };
    let start = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(5));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut next_sample = SAMPLE_EVERY;
    while start.elapsed() < cfg.duration {
        tokio::select! {
            _ = tick.tick() => {
                let due = (cfg.rate as f64 * start.elapsed().as_secs_f64()) as u64;
                while sent < due && cfg.clients >= 2 {
                    let from = below(cfg.clients);
                    let to = (from + 1 + below(cfg.clients - 1)) % cfg.clients;
                    if let Some(tx) = &senders[from] {
                        let now = clock.elapsed().as_nanos() as u64;
                        let _ = tx.send(client::message_frame(&user_ids[to], now));
                        sent += 1;
                    }
                }
                for (k, c) in churners.iter_mut().enumerate() {
                    match c {
                        Churner::Here { since, .. } if since.elapsed() >= STAY => {
                            // Dropping the sender ends the client: its TCP connection closes
                            // without a goodbye, as a laptop lid does.
                            *c = Churner::Away { since: Instant::now() };
                        }
                        Churner::Away { since } if since.elapsed() >= AWAY => {
                            let i = cfg.clients + k;
                            let auth = Auth {
                                session_id: Some(session_ids[i].clone()),
                                ..Auth::default()
                            };
                            let tx = client::spawn_plain(i, server.addr, &auth, clock, reports_tx.clone());
                            *c = Churner::Here { _tx: tx, since: Instant::now() };
                        }
                        _ => {}
                    }
                }
                if start.elapsed() >= next_sample {
                    samples.push(sample(start.elapsed(), server.pid, data.path()));
                    next_sample += SAMPLE_EVERY;
                }
            }
            Some(report) = reports.recv() => match report {
                Report::Delivered { .. } => delivered += 1,
                Report::LoggedIn { index, .. } if index >= cfg.clients => comebacks += 1,
                Report::Failed { index, error } => eprintln!("client {index}: {error}"),
                _ => {}
            },
        }
    }
    // What is still in flight arrives.
    let drain = tokio::time::Instant::now() + Duration::from_secs(5);
    while delivered < sent {
        match tokio::time::timeout_at(drain, reports.recv()).await {
            Ok(Some(Report::Delivered { .. })) => delivered += 1,
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => break,
        }
    }
    if samples
        .last()
        .is_none_or(|l| start.elapsed() - l.at > Duration::from_secs(1))
    {
        samples.push(sample(start.elapsed(), server.pid, data.path()));
    }
    drop(churners);
    drop(senders);
    server.stop().await;
    report(cfg, &samples, sent, delivered, comebacks)
}

fn report(
    cfg: &SoakConfig,
    samples: &[Sample],
    sent: u64,
    delivered: u64,
    comebacks: u64,
) -> String {
    // Memory is compared from the end of the warm-up, the first third of the run: allocator
    // pools fill, and SQLite's page caches grow with the database up to their fixed ceilings
    // (24 MiB in all; about 10 minutes at 200 msgs/s). The per-minute table shows it all.
    let warm = cfg.duration.div_f64(3.0);
    let base = samples.iter().find(|s| s.at >= warm).unwrap_or(&samples[0]);
    let last = samples.last().expect("samples");
    let growth = (last.rss_kib as f64 - base.rss_kib as f64) / base.rss_kib.max(1) as f64 * 100.0;
    let max_wal = samples.iter().map(|s| s.wal_bytes).max().unwrap_or(0);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Soak: {} min, {} clients sending {} msgs/s in all, {} more leaving and resuming every {} s.\n",
        cfg.duration.as_secs() / 60,
        cfg.clients,
        cfg.rate,
        cfg.churn,
        (STAY + AWAY).as_secs()
    );
    let _ = writeln!(s, "| figure | value |\n|---|---|");
    let _ = writeln!(
        s,
        "| RSS after warm-up ({} s) → end | {} → {} KiB ({growth:+.1} %) |",
        base.at.as_secs(),
        base.rss_kib,
        last.rss_kib
    );
    let _ = writeln!(
        s,
        "| open descriptors after warm-up → end | {} → {} |",
        base.fds, last.fds
    );
    let _ = writeln!(
        s,
        "| WAL size at the end / largest seen | {} / {} KiB |",
        last.wal_bytes / 1024,
        max_wal / 1024
    );
    let _ = writeln!(
        s,
        "| messages sent / delivered / lost | {sent} / {delivered} / {} |",
        sent.saturating_sub(delivered)
    );
    let _ = writeln!(s, "| sessions resumed (churn) | {comebacks} |");
    let _ = writeln!(
        s,
        "\n| minute | RSS KiB | fds | WAL KiB |\n|---|---|---|---|"
    );
    for smp in samples
        .iter()
        .filter(|x| x.at.as_secs() % 60 < SAMPLE_EVERY.as_secs())
    {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} |",
            smp.at.as_secs() / 60,
            smp.rss_kib,
            smp.fds,
            smp.wal_bytes / 1024
        );
    }
    s
}
