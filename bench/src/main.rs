//! `natter-bench`: a load generator for natter-server (and any server speaking the socket.io
//! private-messaging guide's protocol), and the sweep that writes BENCHMARKS.md.

mod ab;
mod changes;
mod client;
mod conversations;
mod history;
mod load;
mod proc;
mod soak;
mod sweep;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "natter-bench", about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// One load point against a running server; prints the figures as JSON.
    Load {
        /// The server, or several nodes of one cluster (comma-separated): clients are spread.
        #[arg(
            long,
            env = "NATTER_BENCH_ADDR",
            value_delimiter = ',',
            required = true
        )]
        addr: Vec<SocketAddr>,
        #[arg(long, default_value_t = 1000)]
        clients: usize,
        /// Total private messages per second (0: logins only).
        #[arg(long, default_value_t = 1000)]
        rate: u64,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// The server's process id, for its memory figures.
        #[arg(long)]
        server_pid: Option<u32>,
        /// Connect over TLS (a server without --no-tls).
        #[arg(long)]
        tls: bool,
        /// Connect from many loopback addresses (20 clients each): for a server with its
        /// per-address limits on.
        #[arg(long)]
        spread: bool,
        /// Take presence the guide's way (one `user connected` per login) instead of batched
        /// as Natter's app does.
        #[arg(long)]
        guide_presence: bool,
        /// Send messages as Natter's app does (ack asked for, `clientId` given).
        #[arg(long)]
        app_shape: bool,
    },
    /// Hours of use in minutes: moderate load with reconnect churn against a fresh
    /// natter-server; prints RSS growth, descriptors, WAL size and lost messages (Markdown).
    Soak {
        #[arg(long)]
        natter_bin: PathBuf,
        #[arg(long, default_value_t = 30)]
        minutes: u64,
        /// Clients that stay and send.
        #[arg(long, default_value_t = 200)]
        clients: usize,
        /// Total private messages per second among them.
        #[arg(long, default_value_t = 200)]
        rate: u64,
        /// Clients that keep leaving and coming back (resuming their session).
        #[arg(long, default_value_t = 100)]
        churn: usize,
    },
    /// Search latency over many stored messages and group fan-out cost; prints Markdown.
    Conversations {
        #[arg(long)]
        natter_bin: PathBuf,
        #[arg(long, default_value_t = 1_000_000)]
        messages: u64,
        #[arg(long, default_value_t = 200)]
        members: usize,
    },
    /// Two natter-server builds against each other at the same loads, interleaved run by run;
    /// prints a Markdown table (each cell: the runs in the order measured).
    Ab(ab::AbConfig),
    /// Edits and reactions at saturation beside sends, acked in a closed loop against a fresh
    /// natter-server; prints a Markdown table.
    Changes(changes::ChangesConfig),
    /// natter-server against the Node baseline over a sweep of loads; writes a Markdown report.
    Sweep {
        #[arg(long)]
        natter_bin: PathBuf,
        #[arg(long, default_value = "bench/baseline")]
        baseline_dir: PathBuf,
        #[arg(long, default_value = "BENCHMARKS.md")]
        out: PathBuf,
        /// Fewer and shorter points.
        #[arg(long)]
        quick: bool,
    },
}

#[tokio::main]
async fn main() {
    // Thousands of sockets need more descriptors than the usual soft limit of 1024.
    if let Err(e) = rlimit::increase_nofile_limit(u64::MAX) {
        eprintln!("could not raise the open-files limit: {e}");
    }
    // The work runs as a task on the runtime's workers, beside the clients it drives: on
    // `#[tokio::main]`'s own thread, every report a client sends it was a cross-thread wake-up
    // (a fifth of the generator's core went to context switches).
    let command = Cli::parse().command;
    if let Err(e) = tokio::spawn(run(command)).await {
        eprintln!("natter-bench failed: {e}");
        std::process::exit(1);
    }
}

async fn run(command: Command) {
    match command {
        Command::Load {
            addr,
            clients,
            rate,
            seconds,
            server_pid,
            tls,
            spread,
            guide_presence,
            app_shape,
        } => {
            let r = load::run(&load::LoadConfig {
                addrs: addr,
                clients,
                rate,
                duration: Duration::from_secs(seconds),
                server_pid,
                tls,
                spread,
                guide_presence,
                app_shape,
            })
            .await;
            println!("{}", serde_json::to_string_pretty(&r).unwrap_or_default());
        }
        Command::Soak {
            natter_bin,
            minutes,
            clients,
            rate,
            churn,
        } => {
            let report = soak::run(&soak::SoakConfig {
                natter_bin,
                duration: Duration::from_secs(minutes * 60),
                clients,
                rate,
                churn,
            })
            .await;
            println!("{report}");
        }
        Command::Conversations {
            natter_bin,
            messages,
            members,
        } => {
            let report = conversations::run(&conversations::Config {
                natter_bin,
                messages,
                members,
            })
            .await;
            println!("{report}");
        }
        Command::Ab(config) => print!("{}", ab::run(&config).await),
        Command::Changes(config) => print!("{}", changes::run(&config).await),
        Command::Sweep {
            natter_bin,
            baseline_dir,
            out,
            quick,
        } => {
            sweep::run(&sweep::SweepConfig {
                natter_bin,
                baseline_dir,
                out,
                quick,
            })
            .await;
        }
    }
}
