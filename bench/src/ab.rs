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
}

async fn one_run(bin: &Path, cfg: &AbConfig, rate: u64) -> LoadResult {
    let data = tempfile::tempdir().expect("temp dir");
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

/// One cell: the runs' figures, in the order they were measured.
fn cell(runs: &[LoadResult], figure: impl Fn(&LoadResult) -> String) -> String {
    runs.iter().map(figure).collect::<Vec<_>>().join(", ")
}

pub async fn run(cfg: &AbConfig) -> String {
    let mut before: Vec<Vec<LoadResult>> = vec![Vec::new(); cfg.rates.len()];
    let mut after: Vec<Vec<LoadResult>> = vec![Vec::new(); cfg.rates.len()];
    for _ in 0..cfg.rounds {
        for (i, &rate) in cfg.rates.iter().enumerate() {
            before[i].push(one_run(&cfg.before, cfg, rate).await);
            after[i].push(one_run(&cfg.after, cfg, rate).await);
        }
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| offered msgs/s | build | delivered/s | p50 ms | p99 ms | server CPU % |\n|---|---|---|---|---|---|"
    );
    for (i, rate) in cfg.rates.iter().enumerate() {
        for (name, runs) in [("before", &before[i]), ("after", &after[i])] {
            let _ = writeln!(
                out,
                "| {rate} | {name} | {} | {} | {} | {} |",
                cell(runs, |r| format!("{:.0}", r.delivered_per_s)),
                cell(runs, |r| format!("{:.2}", r.p50_ms)),
                cell(runs, |r| format!("{:.2}", r.p99_ms)),
                cell(runs, |r| format!("{:.0}", r.server_cpu_pct)),
            );
        }
    }
    out
}
