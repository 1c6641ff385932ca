//! One load point: N clients log in at once, then send private messages to random peers at a
//! fixed total rate; delivery and latency are measured at the recipients.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use natter_protocol::Auth;
use serde::Serialize;
use tokio::sync::mpsc;

use crate::client::{self, Report};
use crate::proc::{cpu_seconds, rss_kib, write_bytes};

#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// Client i connects to `addrs[i % len]` (several nodes of one cluster).
    pub addrs: Vec<SocketAddr>,
    pub clients: usize,
    /// Total messages per second over all clients; 0 = logins only.
    pub rate: u64,
    pub duration: Duration,
    /// The server process, for its memory figures.
    pub server_pid: Option<u32>,
    /// Connect over TLS (wss).
    pub tls: bool,
    /// Spread the clients over loopback addresses (20 per address, as people on a LAN come
    /// from their own machines), so a server with its per-address limits on can be measured.
    pub spread: bool,
    /// Clients take presence the guide's way (`user connected` per login) rather than
    /// batched (`batchPresence`, as Natter's app asks; the baseline ignores it).
    pub guide_presence: bool,
    /// Messages in the shape Natter's app sends: an ack asked for and a `clientId` given,
    /// rather than the guide's bare event.
    pub app_shape: bool,
}

/// The loopback address client `i` connects from when spread.
pub fn spread_address(i: usize) -> std::net::IpAddr {
    let n = i / 20;
    std::net::IpAddr::V4(std::net::Ipv4Addr::new(
        127,
        1,
        (n / 250) as u8,
        (n % 250 + 2) as u8,
    ))
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct LoadResult {
    pub clients: usize,
    pub connected: usize,
    /// From the first connect to the last client holding its `users` list.
    pub login_all_ms: f64,
    pub rate: u64,
    pub sent: u64,
    pub delivered: u64,
    pub delivered_ratio: f64,
    pub delivered_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub rss_before_kib: u64,
    /// Resident memory once idle after the logins (see [`wait_idle`]).
    pub rss_logged_in_kib: u64,
    /// How long after the last login the server became idle.
    pub settle_ms: f64,
    pub rss_per_connection_kib: f64,
    pub rss_under_load_kib: u64,
    /// CPU used while messages were sent, in % of one core: the server's, and this load
    /// generator's own (near 100% means the generator, not the server, set the pace).
    pub server_cpu_pct: f64,
    pub generator_cpu_pct: f64,
    /// Bytes the server wrote to storage while messages were sent (WAL, checkpoints).
    pub server_write_bytes: u64,
}

/// A small, fast generator for picking peers (xorshift64*).
struct Rng(u64);

impl Rng {
    fn new() -> Self {
        let mut b = [0u8; 8];
        let _ = getrandom::fill(&mut b);
        Self(u64::from_le_bytes(b) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Waits until process `pid` has used under 2 % of a core for two seconds in a row (at most
/// twenty seconds); how long that took.
async fn wait_idle(pid: u32) -> Duration {
    let started = Instant::now();
    let pid = pid.to_string();
    let mut last = cpu_seconds(&pid).unwrap_or(0.0);
    let mut quiet = 0;
    while quiet < 4 && started.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = cpu_seconds(&pid).unwrap_or(0.0);
        quiet = if (now - last) / 0.5 < 0.02 {
            quiet + 1
        } else {
            0
        };
        last = now;
    }
    started.elapsed()
}

pub async fn run(cfg: &LoadConfig) -> LoadResult {
    let rss = |pid: Option<u32>| pid.and_then(rss_kib).unwrap_or(0);
    let mut result = LoadResult {
        clients: cfg.clients,
        rate: cfg.rate,
        rss_before_kib: rss(cfg.server_pid),
        ..Default::default()
    };
    let clock = Instant::now();
    let (reports_tx, mut reports) = mpsc::unbounded_channel();
    let senders: Vec<_> = (0..cfg.clients)
        .map(|i| {
            let addr = cfg.addrs[i % cfg.addrs.len()];
            let auth = Auth {
                username: Some(format!("bench{i}")),
                batch_presence: !cfg.guide_presence,
                ..Auth::default()
            };
            client::spawn(
                i,
                addr,
                cfg.spread.then(|| spread_address(i)),
                cfg.tls,
                &auth,
                clock,
                reports_tx.clone(),
            )
        })
        .collect();
    drop(reports_tx);

    // Logins.
    let mut user_ids = vec![String::new(); cfg.clients];
    let mut last_login = clock;
    let mut failed = 0;
    let login_deadline = tokio::time::Instant::now() + Duration::from_secs(180);
    while result.connected + failed < cfg.clients {
        match tokio::time::timeout_at(login_deadline, reports.recv()).await {
            Ok(Some(Report::LoggedIn {
                index, user_id, at, ..
            })) => {
                user_ids[index] = user_id;
                result.connected += 1;
                last_login = last_login.max(at);
            }
            Ok(Some(Report::Failed { index, error })) => {
                failed += 1;
                eprintln!("client {index} failed: {error}");
            }
            Ok(Some(Report::Delivered { .. } | Report::Acked { .. })) => {}
            Ok(None) | Err(_) => break,
        }
    }
    result.login_all_ms = ms(last_login - clock);
    // Memory is read once the server is idle: the storm's `user connected` broadcasts are
    // still being written for a while after the last `users` arrived, and a runtime may hand
    // freed memory back to the system only then (glibc's through natter's trimmer, Node's GC).
    result.settle_ms = match cfg.server_pid {
        Some(pid) => ms(wait_idle(pid).await),
        None => 0.0,
    };
    result.rss_logged_in_kib = rss(cfg.server_pid);
    if result.connected > 0 {
        result.rss_per_connection_kib = result
            .rss_logged_in_kib
            .saturating_sub(result.rss_before_kib) as f64
            / result.connected as f64;
    }
    let online: Vec<usize> = (0..cfg.clients)
        .filter(|&i| !user_ids[i].is_empty())
        .collect();
    if cfg.rate == 0 || online.len() < 2 {
        return result;
    }

    // Load: a central pacer keeps the total rate exact.
    let mut latencies_us: Vec<u32> =
        Vec::with_capacity((cfg.rate * cfg.duration.as_secs().max(1)) as usize);
    let mut rng = Rng::new();
    let start = clock.elapsed();
    let server_pid = cfg.server_pid.map(|p| p.to_string());
    let cpu = || {
        (
            server_pid.as_deref().and_then(cpu_seconds),
            cpu_seconds("self"),
        )
    };
    let cpu_at_start = cpu();
    let written = || server_pid.as_deref().and_then(write_bytes).unwrap_or(0);
    let written_at_start = written();
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut sampled = false;
    let mut last_delivery = clock.elapsed();
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let elapsed = clock.elapsed() - start;
                if elapsed >= cfg.duration {
                    let pct = |a: Option<f64>, b: Option<f64>| match (a, b) {
                        (Some(a), Some(b)) => (b - a) / elapsed.as_secs_f64() * 100.0,
                        _ => f64::NAN,
                    };
                    let cpu_at_end = cpu();
                    result.server_cpu_pct = pct(cpu_at_start.0, cpu_at_end.0);
                    result.generator_cpu_pct = pct(cpu_at_start.1, cpu_at_end.1);
                    result.server_write_bytes = written().saturating_sub(written_at_start);
                    break;
                }
                if !sampled && elapsed >= cfg.duration / 2 {
                    result.rss_under_load_kib = rss(cfg.server_pid);
                    sampled = true;
                }
                let due = (cfg.rate as f64 * elapsed.as_secs_f64()) as u64;
                while result.sent < due {
                    let from = online[rng.below(online.len())];
                    let mut to = online[rng.below(online.len())];
                    if to == from { to = online[(online.iter().position(|&x| x == from).unwrap_or(0) + 1) % online.len()]; }
                    let now = clock.elapsed().as_nanos() as u64;
                    let frame = if cfg.app_shape {
                        client::app_message_frame(&user_ids[to], now, result.sent, rng.next())
                    } else {
                        client::message_frame(&user_ids[to], now)
                    };
                    let _ = senders[from].send(frame);
                    result.sent += 1;
                }
            }
            Some(report) = reports.recv() => {
                if let Report::Delivered { sent_ns, received_ns } = report {
                    record(&mut result, &mut latencies_us, sent_ns, received_ns);
                    last_delivery = clock.elapsed();
                }
            }
        }
    }
    // Drain what is still in flight.
    let drain_deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    while result.delivered < result.sent {
        match tokio::time::timeout_at(drain_deadline, reports.recv()).await {
            Ok(Some(Report::Delivered {
                sent_ns,
                received_ns,
            })) => {
                record(&mut result, &mut latencies_us, sent_ns, received_ns);
                last_delivery = clock.elapsed();
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => break,
        }
    }
    let span = (last_delivery - start)
        .as_secs_f64()
        .max(cfg.duration.as_secs_f64());
    result.delivered_per_s = result.delivered as f64 / span;
    result.delivered_ratio = result.delivered as f64 / result.sent.max(1) as f64;
    latencies_us.sort_unstable();
    let pct = |p: f64| -> f64 {
        if latencies_us.is_empty() {
            return f64::NAN;
        }
        let i = ((latencies_us.len() as f64 - 1.0) * p).round() as usize;
        latencies_us[i] as f64 / 1000.0
    };
    (result.p50_ms, result.p99_ms, result.p999_ms) = (pct(0.50), pct(0.99), pct(0.999));
    drop(senders);
    result
}

fn record(result: &mut LoadResult, latencies: &mut Vec<u32>, sent_ns: u64, received_ns: u64) {
    result.delivered += 1;
    latencies.push((received_ns.saturating_sub(sent_ns) / 1000).min(u32::MAX as u64) as u32);
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
