//! Running the emulator as a program: start, announce the ready line, serve until told to stop.
//! Shared by the `kvref-emulator` binary and `kvref emulator`.

use std::io::Write;

use crate::{Emulator, EmulatorConfig, EmulatorError};

/// Starts the emulator, writes its ready line (the JSON of [`Emulator::info`]) and a newline to
/// `ready`, then serves until SIGINT or SIGTERM, and shuts down.
///
/// ```no_run
/// # async fn demo() -> Result<(), kvref_emulator::EmulatorError> {
/// let config = kvref_emulator::EmulatorConfig::sample();
/// kvref_emulator::run(config, std::io::stdout()).await?;
/// # Ok(()) }
/// ```
pub async fn run(config: EmulatorConfig, mut ready: impl Write) -> Result<(), EmulatorError> {
    let emulator = Emulator::start(config).await?;
    writeln!(ready, "{}", emulator.info())
        .and_then(|()| ready.flush())
        .map_err(EmulatorError::ReadyLine)?;
    tracing::info!(
        https = %emulator.https_addr(),
        http = %emulator.http_addr(),
        "kvref emulator ready; set KVREF_EMULATOR=http://{} to use it",
        emulator.http_addr()
    );
    shutdown_signal().await;
    tracing::info!("kvref emulator shutting down");
    drop(emulator);
    Ok(())
}

#[cfg(unix)]
async fn shutdown_signal() {
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
async fn shutdown_signal() {
    let _ = tokio::signal::ctrl_c().await;
}
