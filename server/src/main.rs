//! The `natter-server` binary: configuration, logging, the listen banner and signals.

use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;

use clap::Parser;
use natter_server::{Config, Server};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("natter_server=info")),
        )
        .with_writer(std::io::stderr)
        .init();

    // Each client is a socket: lift the usual soft limit of 1024 open files as far as allowed.
    if let Err(e) = rlimit::increase_nofile_limit(u64::MAX) {
        tracing::warn!(error = %e, "could not raise the open-files limit");
    }
    let server = match Server::bind(&config).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::FAILURE;
        }
    };
    match server.local_addr() {
        Ok(addr) => print_banner(addr, &config),
        Err(e) => tracing::warn!(error = %e, "could not read the bound address"),
    }
    if let Err(e) = server.run(shutdown_signal()).await {
        tracing::error!("{e}");
        return ExitCode::FAILURE;
    }
    tracing::info!("stopped");
    ExitCode::SUCCESS
}

/// Tells the person who started the server what to type in the desktop app.
fn print_banner(addr: SocketAddr, config: &Config) {
    // Tests and scripts read this first line to learn the port.
    println!(
        "natter-server {} listening on http://{addr}",
        env!("CARGO_PKG_VERSION")
    );
    println!("data: {}", config.data_dir().display());
    let urls = reachable_urls(addr);
    if !urls.is_empty() {
        println!("people on your network can connect to:");
        for url in urls {
            println!("  {url}");
        }
    }
}

/// The URLs under which others can reach this server, read from the local interfaces.
fn reachable_urls(addr: SocketAddr) -> Vec<String> {
    let port = addr.port();
    let fmt = |ip: IpAddr| match ip {
        IpAddr::V4(v4) => format!("http://{v4}:{port}"),
        IpAddr::V6(v6) => format!("http://[{v6}]:{port}"),
    };
    if !addr.ip().is_unspecified() {
        return if addr.ip().is_loopback() {
            Vec::new()
        } else {
            vec![fmt(addr.ip())]
        };
    }
    let Ok(ifaces) = if_addrs::get_if_addrs() else {
        return Vec::new();
    };
    ifaces
        .into_iter()
        .map(|i| i.ip())
        .filter(|ip| !ip.is_loopback() && (ip.is_ipv4() || addr.is_ipv6()))
        .filter(|ip| !matches!(ip, IpAddr::V6(v6) if v6.segments()[0] & 0xffc0 == 0xfe80))
        .map(fmt)
        .collect()
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
