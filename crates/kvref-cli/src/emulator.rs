//! `kvref emulator`: runs the kvref emulator in this process, as the `kvref-emulator` binary does.
//!
//! Prints the emulator's ready line (one JSON object: addresses, CA certificate, tenant, the
//! environment of each identity source) on stdout once it listens, then serves until Ctrl-C or
//! SIGTERM.

use std::io::Write;

use kvref_emulator::{Emulator, EmulatorConfig};

use crate::cli::EmulatorArgs;
use crate::{CliError, EXIT_OK};

pub(crate) async fn run(args: EmulatorArgs) -> Result<u8, CliError> {
    // The configuration error names the file and line itself.
    let mut config = EmulatorConfig::from_file(&args.config)
        .map_err(|e| CliError(format!("invalid emulator configuration: {e}")))?;
    if let Some(port) = args.https_port {
        config = config.with_https_port(port);
    }
    if let Some(port) = args.http_port {
        config = config.with_http_port(port);
    }
    let emulator = Emulator::start(config)
        .await
        .map_err(|e| CliError(format!("cannot start the emulator: {e}")))?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{}", emulator.info())?;
    stdout.flush()?;
    drop(stdout);
    eprintln!(
        "kvref emulator ready: vaults at https://{}, control API and identity endpoints at http://{}; \
         set KVREF_EMULATOR=http://{} to use it; Ctrl-C stops it",
        emulator.https_addr(),
        emulator.http_addr(),
        emulator.http_addr()
    );
    shutdown_signal().await;
    tracing::info!("kvref emulator stopping");
    drop(emulator);
    Ok(EXIT_OK)
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
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
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
