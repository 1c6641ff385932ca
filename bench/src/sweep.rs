//! The full comparison: natter-server and the guide's Node server, each fresh per point, the
//! server on core 0 and this load generator on core 1; writes BENCHMARKS.md.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::history::{self, HistoryPoint};
use crate::load::{self, LoadConfig, LoadResult};
use crate::proc::ServerProcess;

#[derive(Debug, Clone)]
pub struct SweepConfig {
    pub natter_bin: PathBuf,
    pub baseline_dir: PathBuf,
    pub out: PathBuf,
    pub quick: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Natter,
    Baseline,
}

const INTERACTIVE_P99_MS: f64 = 50.0;
const INTERACTIVE_RATIO: f64 = 0.999;

#[derive(Default)]
struct Results {
    logins: Vec<LoadResult>,
    /// The same storms with every client taking the guide's presence events (natter only:
    /// the baseline has no other way).
    guide_logins: Vec<LoadResult>,
    rates: Vec<LoadResult>,
}

async fn start(kind: Kind, cfg: &SweepConfig, data: &Path) -> ServerProcess {
    match kind {
        Kind::Natter => {
            let args = crate::proc::natter_args(data);
            ServerProcess::start(Some(0), &cfg.natter_bin, &args, &[]).await
        }
        Kind::Baseline => {
            let script = cfg.baseline_dir.join("server.js").display().to_string();
            ServerProcess::start(
                Some(0),
                Path::new("node"),
                &[script],
                &[("PORT", "0".into())],
            )
            .await
        }
    }
}

async fn point(
    kind: Kind,
    cfg: &SweepConfig,
    clients: usize,
    rate: u64,
    duration: Duration,
) -> LoadResult {
    point_with(kind, cfg, clients, rate, duration, false).await
}

async fn point_with(
    kind: Kind,
    cfg: &SweepConfig,
    clients: usize,
    rate: u64,
    duration: Duration,
    guide_presence: bool,
) -> LoadResult {
    let data = tempfile::tempdir().expect("temp dir");
    let server = start(kind, cfg, data.path()).await;
    let result = load::run(&LoadConfig {
        addrs: vec![server.addr],
        clients,
        rate,
        duration,
        server_pid: Some(server.pid),
        tls: false,
        spread: false,
        guide_presence,
        app_shape: false,
    })
    .await;
    server.stop().await;
    eprintln!(
        "{kind:?} clients={clients} rate={rate} guide_presence={guide_presence}: {}",
        serde_json::to_string(&result).unwrap_or_default()
    );
    // Let sockets in TIME_WAIT and the other core calm down between points.
    tokio::time::sleep(Duration::from_secs(1)).await;
    result
}

pub async fn run(cfg: &SweepConfig) {
    let duration = Duration::from_secs(if cfg.quick { 4 } else { 10 });
    let login_sizes: &[usize] = if cfg.quick {
        &[1000]
    } else {
        &[1000, 3000, 10_000]
    };
    let rates: &[u64] = if cfg.quick {
        &[1000, 10_000, 40_000]
    } else {
        &[
            1000, 2500, 5000, 10_000, 15_000, 20_000, 25_000, 30_000, 40_000, 60_000, 80_000,
        ]
    };
    let mut natter = Results::default();
    let mut baseline = Results::default();
    for (kind, out) in [(Kind::Natter, &mut natter), (Kind::Baseline, &mut baseline)] {
        for &n in login_sizes {
            out.logins.push(point(kind, cfg, n, 0, duration).await);
            // Not at 10,000: a hundred million `user connected` frames outlast the deadline.
            if kind == Kind::Natter && n <= 3000 {
                let guide = point_with(kind, cfg, n, 0, duration, true).await;
                out.guide_logins.push(guide);
            }
        }
        for &rate in rates {
            out.rates.push(point(kind, cfg, 1000, rate, duration).await);
        }
    }
    let totals: &[u64] = if cfg.quick {
        &[0, 100_000]
    } else {
        &[0, 100_000, 1_000_000]
    };
    let mut hist = Vec::new();
    for &total in totals {
        let data = tempfile::tempdir().expect("temp dir");
        let seed_rate = history::seed(data.path(), total.max(1000)).await;
        let server = start(Kind::Natter, cfg, data.path()).await;
        let (p50, p95) = history::measure(&server, 30).await;
        server.stop().await;
        let p = HistoryPoint {
            stored_messages: total.max(1000),
            seed_messages_per_s: seed_rate,
            login_p50_ms: p50,
            login_p95_ms: p95,
        };
        eprintln!("history: {}", serde_json::to_string(&p).unwrap_or_default());
        hist.push(p);
    }
    let report = render(cfg, &natter, &baseline, &hist, duration);
    std::fs::write(&cfg.out, report).expect("write report");
    eprintln!("wrote {}", cfg.out.display());
}

/// The highest offered rate that was delivered in full (≥ 99.9%) with p99 under 50 ms.
fn interactive(rates: &[LoadResult]) -> Option<u64> {
    rates
        .iter()
        .filter(|r| r.delivered_ratio >= INTERACTIVE_RATIO && r.p99_ms < INTERACTIVE_P99_MS)
        .map(|r| r.rate)
        .max()
}

fn saturation(rates: &[LoadResult]) -> f64 {
    rates.iter().map(|r| r.delivered_per_s).fold(0.0, f64::max)
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    // Not available_parallelism(): this process is pinned to one core.
    let cores = std::fs::read_to_string("/proc/cpuinfo")
        .map(|s| s.lines().filter(|l| l.starts_with("processor")).count())
        .unwrap_or(0);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .next()
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|k| k.parse::<u64>().ok())
        })
        .map(|k| format!("{:.0} GiB", k as f64 / 1024.0 / 1024.0))
        .unwrap_or_default();
    format!("{cpu}, {cores} cores, {mem} RAM")
}

fn fmt_opt(v: Option<u64>) -> String {
    v.map(|v| v.to_string()).unwrap_or_else(|| "none".into())
}

fn render(
    cfg: &SweepConfig,
    n: &Results,
    b: &Results,
    hist: &[HistoryPoint],
    duration: Duration,
) -> String {
    let mut s = String::new();
    let ratio = |a: f64, b: f64| {
        if b > 0.0 {
            format!("{:.1}×", a / b)
        } else {
            "—".into()
        }
    };
    let at = |rs: &[LoadResult], rate: u64| rs.iter().find(|r| r.rate == rate).cloned();
    let _ = writeln!(s, "# Benchmarks\n");
    let _ = writeln!(
        s,
        "natter-server against the baseline: a Node.js + socket.io 4 server doing what the \
         socket.io guide's part III server does (in-memory stores, nothing persisted; \
         `bench/baseline/server.js`). Same load generator, same run, fresh server per point, \
         server pinned to core 0 and load generator to core 1. natter-server commits every \
         message to SQLite (`synchronous=FULL`) before acking or delivering it.\n"
    );
    let _ = writeln!(s, "- Machine: {}", machine());
    let _ = writeln!(
        s,
        "- Load: 1,000 clients (websocket), private messages to random peers, {} s per point{}",
        duration.as_secs(),
        if cfg.quick { " (quick run)" } else { "" }
    );
    let _ = writeln!(
        s,
        "- Reproduce: `./bench/run.sh` (or `./bench/run.sh --quick`)\n"
    );

    let (ni, bi) = (interactive(&n.rates), interactive(&b.rates));
    let (ns, bs) = (saturation(&n.rates), saturation(&b.rates));
    let _ = writeln!(s, "## Against the targets\n");
    let _ = writeln!(
        s,
        "Capacities: higher is better. Times, latencies and memory: lower is better.\n"
    );
    let _ = writeln!(
        s,
        "| figure | natter-server | baseline | natter/baseline | target |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|");
    let _ = writeln!(
        s,
        "| interactive capacity (msgs/s with ≥ 99.9% delivered, p99 < 50 ms) | {} | {} | {} | ≥ 3× |",
        fmt_opt(ni),
        fmt_opt(bi),
        match (ni, bi) {
            (Some(a), Some(b)) => ratio(a as f64, b as f64),
            _ => "—".into(),
        }
    );
    let _ = writeln!(
        s,
        "| raw capacity (delivered msgs/s at saturation) | {ns:.0} | {bs:.0} | {} | ≥ 1× |",
        ratio(ns, bs)
    );
    if let (Some(a), Some(b)) = (at(&n.rates, 10_000), at(&b.rates, 10_000)) {
        let _ = writeln!(
            s,
            "| p99 at 10k msgs/s, 1,000 clients | {:.2} ms | {:.2} ms | {} | ≤ 3 ms |",
            a.p99_ms,
            b.p99_ms,
            ratio(a.p99_ms, b.p99_ms)
        );
    }
    for (nl, bl) in n.logins.iter().zip(&b.logins) {
        let _ = writeln!(
            s,
            "| {} clients logging in at once: all hold `users` after | {:.0} ms ({} connected) | {:.0} ms ({} connected) | {} | {} |",
            nl.clients,
            nl.login_all_ms,
            nl.connected,
            bl.login_all_ms,
            bl.connected,
            ratio(nl.login_all_ms, bl.login_all_ms),
            match nl.clients {
                ..=1000 => "< 1 s",
                1001..=3000 => "< 2 s",
                _ => "measured",
            }
        );
    }
    for nl in &n.guide_logins {
        let _ = writeln!(
            s,
            "| the same, every client taking the guide's `user connected` events: {} clients | {:.0} ms ({} connected) | — | — | — |",
            nl.clients, nl.login_all_ms, nl.connected,
        );
    }
    if let (Some(nl), Some(bl)) = (n.logins.first(), b.logins.first()) {
        let _ = writeln!(
            s,
            "| RSS per idle connection (1,000 logged in) | {:.1} KiB | {:.1} KiB | {} | ≤ ½ |",
            nl.rss_per_connection_kib,
            bl.rss_per_connection_kib,
            ratio(nl.rss_per_connection_kib, bl.rss_per_connection_kib)
        );
    }
    if let Some(h) = hist.last() {
        let _ = writeln!(
            s,
            "| login (connect → `users`) with {} stored messages, p50 | {:.1} ms | — | — | < 50 ms |",
            h.stored_messages, h.login_p50_ms
        );
    }

    let _ = writeln!(s, "\n## Sweep (1,000 clients)\n");
    let _ = writeln!(
        s,
        "| offered msgs/s | natter delivered/s | delivered | p50 | p99 | p99.9 | server RSS | server / generator CPU | baseline delivered/s | delivered | p50 | p99 | p99.9 | server RSS | server / generator CPU |"
    );
    let _ = writeln!(
        s,
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    );
    for r in &n.rates {
        let bl = at(&b.rates, r.rate).unwrap_or_default();
        let _ = writeln!(
            s,
            "| {} | {:.0} | {:.2}% | {:.2} ms | {:.2} ms | {:.2} ms | {} MiB | {:.0}% / {:.0}% | {:.0} | {:.2}% | {:.2} ms | {:.2} ms | {:.2} ms | {} MiB | {:.0}% / {:.0}% |",
            r.rate,
            r.delivered_per_s,
            r.delivered_ratio * 100.0,
            r.p50_ms,
            r.p99_ms,
            r.p999_ms,
            r.rss_under_load_kib / 1024,
            r.server_cpu_pct,
            r.generator_cpu_pct,
            bl.delivered_per_s,
            bl.delivered_ratio * 100.0,
            bl.p50_ms,
            bl.p99_ms,
            bl.p999_ms,
            bl.rss_under_load_kib / 1024,
            bl.server_cpu_pct,
            bl.generator_cpu_pct
        );
    }

    let _ = writeln!(s, "\n## Login against stored history (natter-server)\n");
    let _ = writeln!(
        s,
        "The measured user always has the same own history (10 conversations × 100 messages); the rest belongs to 200 other users.\n"
    );
    let _ = writeln!(
        s,
        "| stored messages | login p50 | login p95 | seeding rate (committed msgs/s) |"
    );
    let _ = writeln!(s, "|---|---|---|---|");
    for h in hist {
        let _ = writeln!(
            s,
            "| {} | {:.1} ms | {:.1} ms | {:.0} |",
            h.stored_messages, h.login_p50_ms, h.login_p95_ms, h.seed_messages_per_s
        );
    }
    s
}
