//! `kvref-emulator --config FILE`: runs the emulator until SIGINT or SIGTERM.
//!
//! When it is ready it prints one JSON line on stdout (addresses, CA path, tenant, and the
//! environment for each identity source); logs go to stderr (`RUST_LOG`, default `info`).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use kvref_emulator::{Emulator, EmulatorConfig};

/// A local emulator of Azure Key Vault secrets, the managed identity endpoints and Entra ID.
#[derive(Parser)]
#[command(name = "kvref-emulator", version)]
struct Args {
    /// The configuration file (TOML): tenant, identities, vaults, secrets, role assignments.
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// Serve HTTPS (Key Vault, Entra ID, Service Fabric) on this port instead of a free one.
    #[arg(long, value_name = "P", default_value_t = 0)]
    https_port: u16,
    /// Serve HTTP (identity endpoints, control API) on this port instead of a free one.
    #[arg(long, value_name = "Q", default_value_t = 0)]
    http_port: u16,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();

    let config = match EmulatorConfig::from_file(&args.config) {
        Ok(config) => config
            .with_https_port(args.https_port)
            .with_http_port(args.http_port),
        Err(e) => {
            eprintln!("kvref-emulator: invalid configuration: {e}");
            return ExitCode::from(2);
        }
    };
    let emulator = match Emulator::start(config).await {
        Ok(emulator) => emulator,
        Err(e) => {
            eprintln!("kvref-emulator: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    {
        let mut stdout = std::io::stdout().lock();
        if writeln!(stdout, "{}", emulator.info())
            .and_then(|()| stdout.flush())
            .is_err()
        {
            return ExitCode::FAILURE;
        }
    }
    wait_for_shutdown().await;
    tracing::info!("shutting down");
    drop(emulator);
    ExitCode::SUCCESS
}

#[cfg(unix)]
async fn wait_for_shutdown() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut terminate) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(not(unix))]
async fn wait_for_shutdown() {
    let _ = tokio::signal::ctrl_c().await;
}
