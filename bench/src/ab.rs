//! Two builds of natter-server measured against each other: the same load points, a fresh
//! server per run, the builds interleaved run by run (this machine's speed drifts by a fifth
//! within an hour, so only pairs measured side by side are compared). Prints a Markdown table.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::load::{self, LoadConfig, LoadResult};
use crate::proc::ServerProcess;

#[derive(Debug, Clone, clap::Args)]
pub struct AbConfig {
    /// The build before the change.
    #[arg(long)]
    pub before: PathBuf,
    /// The build after it.
    #[arg(long)]
    pub after: PathBuf,
    /// Offered msgs/s, one point each.
    #[arg(long, value_delimiter = ',', default_value = "10000,20000")]
    pub rates: Vec<u64>,
    /// Runs of each build at each point.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    #[arg(long, default_value_t = 1000)]
    pub clients: usize,
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Messages as Natter's app sends them (ack asked for, `clientId` given).
    #[arg(long)]
    pub app_shape: bool,
    /// The after build's runs start on a copy of a data dir holding this many messages
    /// (seeded once, by this binary's store); the before build's on an empty one. With the
    /// same build on both sides: does the message path slow down as the store fills?
    #[arg(long)]
    pub seed_after: Option<u64>,
    /// What the two columns are called in the table.
    #[arg(long, value_delimiter = ',', default_value = "before,after")]
    pub labels: Vec<String>,
}

async fn one_run(bin: &Path, cfg: &AbConfig, rate: u64, seeded: Option<&Path>) -> LoadResult {
    let data = tempfile::tempdir().expect("temp dir");
    if let Some(seeded) = seeded {
        for entry in std::fs::read_dir(seeded).expect("seeded dir") {
            let entry = entry.expect("seeded file");
            std::fs::copy(entry.path(), data.path().join(entry.file_name())).expect("copy");
        }
    }
    let args = crate::proc::natter_args(data.path());
    let server = ServerProcess::start(Some(0), bin, &args, &[]).await;
    let result = load::run(&LoadConfig {
        addrs: vec![server.addr],
        clients: cfg.clients,
        rate,
        duration: Duration::from_secs(cfg.seconds),
        server_pid: Some(server.pid),
        tls: false,
        spread: false,
        guide_presence: false,
        app_shape: cfg.app_shape,
    })
    .await;
    server.stop().await;
    eprintln!(
        "{} rate={rate}: {}",
        bin.display(),
        serde_json::to_string(&result).unwrap_or_default()
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    result
}

/// The server's CPU time per delivered message, in µs (the private message's one delivery).
fn cpu_us_per_message(r: &LoadResult) -> f64 {
    r.server_cpu_pct / 100.0 * 1e6 / r.delivered_per_s.max(1.0)
}

/// Bytes the server wrote to storage per message sent.
fn disk_bytes_per_message(r: &LoadResult) -> f64 {
    r.server_write_bytes as f64 / r.sent.max(1) as f64
}

/// One cell: the runs' figures, in the order they were measured.
fn cell(runs: &[LoadResult], figure: impl Fn(&LoadResult) -> String) -> String {
    runs.iter().map(figure).collect::<Vec<_>>().join(", ")
}

pub async fn run(cfg: &AbConfig) -> String {
    let seeded = match cfg.seed_after {
        Some(total) => {
            let dir = tempfile::tempdir().expect("temp dir");
            let per_s = crate::history::seed(dir.path(), total).await;
            eprintln!("seeded {total} messages at {per_s:.0}/s");
            // The store is dropped: let its writer and checkpoint threads finish before copies.
            tokio::time::sleep(Duration::from_secs(2)).await;
            Some(dir)
        }
        None => None,
    };
    let mut before: Vec<Vec<LoadResult>> = vec![Vec::new(); cfg.rates.len()];
    let mut after: Vec<Vec<LoadResult>> = vec![Vec::new(); cfg.rates.len()];
    for _ in 0..cfg.rounds {
        for (i, &rate) in cfg.rates.iter().enumerate() {
            before[i].push(one_run(&cfg.before, cfg, rate, None).await);
            let seeded = seeded.as_ref().map(|d| d.path());
            after[i].push(one_run(&cfg.after, cfg, rate, seeded).await);
        }
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| offered msgs/s | build | delivered/s | p50 ms | p99 ms | server CPU % | CPU µs/msg | disk bytes/msg |\n|---|---|---|---|---|---|---|---|"
    );
    for (i, rate) in cfg.rates.iter().enumerate() {
        let label =
            |i: usize, default: &'static str| cfg.labels.get(i).map_or(default, |l| l.as_str());
        for (name, runs) in [
            (label(0, "before"), &before[i]),
            (label(1, "after"), &after[i]),
        ] {
            let _ = writeln!(
                out,
                "| {rate} | {name} | {} | {} | {} | {} | {} | {} |",
                cell(runs, |r| format!("{:.0}", r.delivered_per_s)),
                cell(runs, |r| format!("{:.2}", r.p50_ms)),
                cell(runs, |r| format!("{:.2}", r.p99_ms)),
                cell(runs, |r| format!("{:.0}", r.server_cpu_pct)),
                cell(runs, |r| format!("{:.1}", cpu_us_per_message(r))),
                cell(runs, |r| format!("{:.0}", disk_bytes_per_message(r))),
            );
        }
    }
    out
}
