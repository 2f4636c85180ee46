//! `kvref-emulator --config FILE`: runs the emulator until SIGINT or SIGTERM.
//!
//! When it is ready it prints one JSON line on stdout (addresses, CA path, tenant, and the
//! environment for each identity source); logs go to stderr (`RUST_LOG`, default `info`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use kvref_emulator::EmulatorConfig;

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
    match kvref_emulator::run(config, std::io::stdout()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kvref-emulator: {e}");
            ExitCode::FAILURE
        }
    }
}
