//! The `natter-server` binary: configuration, logging, the listen banner and signals.

use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;

use clap::Parser;
use natter_server::config::Command;
use natter_server::endpoint::Endpoint;
use natter_server::{Config, Server, admin, datadir};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    // Before the runtime starts its threads.
    natter_server::memory::limit_arenas();
    match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime.block_on(run()),
        Err(e) => {
            eprintln!("could not start the async runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> ExitCode {
    let config = Config::parse();
    match &config.command {
        Some(Command::Admin { action }) => return run_admin(&config, action.clone()).await,
        Some(Command::Discover { interface, seconds }) => return discover(*interface, *seconds),
        Some(Command::Restore { file, force }) => return restore(&config, file, *force),
        None => {}
    }
    datadir::restrict_new_files();
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
    let endpoint = server.endpoint();
    print_banner(endpoint, &config);
    if let Some(directory) = server.directory() {
        println!("people sign in with the directory: {directory}");
    }
    let announced = (!config.no_discovery)
        .then(|| announce(&config, endpoint.addr, endpoint.fingerprint.as_deref()))
        .flatten();
    let result = server.run(shutdown_signal()).await;
    if let Some(a) = announced {
        a.stop();
    }
    if let Err(e) = result {
        tracing::error!("{e}");
        return ExitCode::FAILURE;
    }
    tracing::info!("stopped");
    ExitCode::SUCCESS
}

/// Announces the server on the LAN, so apps list it; a failure only costs that.
fn announce(
    config: &Config,
    addr: SocketAddr,
    fingerprint: Option<&str>,
) -> Option<natter_discovery::Advertisement> {
    let name = config.server_name();
    match natter_discovery::Advertisement::start(
        &name,
        addr,
        env!("CARGO_PKG_VERSION"),
        fingerprint,
    ) {
        Ok(a) => {
            tracing::info!(%name, "announced on the LAN (mDNS); --no-discovery turns it off");
            Some(a)
        }
        Err(e) => {
            tracing::warn!(error = %e, "not announced on the LAN");
            None
        }
    }
}

/// `natter-server discover`: what is announced on the LAN, as JSON lines.
fn discover(interface: Option<IpAddr>, seconds: u64) -> ExitCode {
    let scope = interface.map_or(
        natter_discovery::Scope::Lan,
        natter_discovery::Scope::Interface,
    );
    let browser = match natter_discovery::Browser::start(scope) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return ExitCode::SUCCESS;
        }
        if let Some(event) = browser.next(left)
            && let Ok(line) = serde_json::to_string(&event)
        {
            println!("{line}");
        }
    }
}

/// `natter-server restore FILE`: the archive checked, then put in the data dir.
fn restore(config: &Config, file: &std::path::Path, force: bool) -> ExitCode {
    datadir::restrict_new_files();
    let data_dir = config.data_dir();
    match natter_server::backup::restore(file, &data_dir, force) {
        Ok(manifest) => {
            let c = manifest.counts;
            natter_server::audit::Audit::new(natter_server::audit::AuditConfig {
                dir: data_dir.clone(),
                ..config.audit()
            })
            .record(
                "restore",
                serde_json::json!({"file": file.display().to_string(),
                    "created_ms": manifest.created_ms, "counts": c}),
            );
            println!(
                "restored {} into {}: {} users, {} sessions, {} messages, {} groups, {} files{}",
                file.display(),
                data_dir.display(),
                c.users,
                c.sessions,
                c.messages,
                c.groups,
                c.files,
                manifest
                    .fingerprint
                    .map(|f| format!("; certificate {f}"))
                    .unwrap_or_default()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `natter-server admin audit`: the audit log's records, one JSON line each.
fn print_audit(config: &Config, since: Option<&str>, user: Option<String>) -> ExitCode {
    let since_ms = match since.map(natter_server::audit::parse_since).transpose() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: --since: {e}");
            return ExitCode::FAILURE;
        }
    };
    let filter = natter_server::audit::Filter { since_ms, user };
    match natter_server::audit::read(&config.data_dir(), &filter) {
        Ok(records) => {
            for r in records {
                println!("{r}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!(
                "error: reading the audit log in {}: {e}",
                config.data_dir().display()
            );
            ExitCode::FAILURE
        }
    }
}

/// `natter-server admin …`: one request to the running server's admin socket.
async fn run_admin(config: &Config, mut action: admin::Action) -> ExitCode {
    if let admin::Action::Audit { since, user } = &action {
        return print_audit(config, since.as_deref(), user.clone());
    }
    // The server writes the archive: a path relative to here means nothing to it.
    if let admin::Action::Backup { file } | admin::Action::Export { file, .. } = &mut action {
        match std::path::absolute(&*file) {
            Ok(abs) => *file = abs,
            Err(e) => {
                eprintln!("error: {}: {e}", file.display());
                return ExitCode::FAILURE;
            }
        }
    }
    if let admin::Action::ResetPassword { password, .. } = &mut action {
        eprintln!("new password (one line on standard input):");
        let mut line = String::new();
        if let Err(e) = std::io::stdin().read_line(&mut line) {
            eprintln!("error: reading the password: {e}");
            return ExitCode::FAILURE;
        }
        *password = line.trim_end_matches(['\n', '\r']).to_owned();
    }
    match admin::request(&config.data_dir(), &action).await {
        Ok(answer) => {
            admin::print(&answer);
            if answer.ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Tells the person who started the server what to type in the desktop app, and the
/// fingerprint they should see there.
fn print_banner(endpoint: &Endpoint, config: &Config) {
    // Tests and scripts read this first line to learn the port.
    println!(
        "natter-server {} listening on {}://{}",
        env!("CARGO_PKG_VERSION"),
        endpoint.scheme(),
        endpoint.addr
    );
    println!("data: {}", config.data_dir().display());
    match &endpoint.fingerprint {
        Some(fp) => {
            println!("TLS certificate fingerprint (SHA-256), for people to compare in the app:");
            println!("  {fp}");
        }
        None => println!(
            "TLS is off (--no-tls): traffic is NOT encrypted; use this only behind a \
             TLS-terminating proxy or on a trusted network"
        ),
    }
    let urls = endpoint.reachable_urls();
    if !urls.is_empty() {
        println!("people on your network can connect to:");
        for url in urls {
            println!("  {url}");
        }
    }
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
