//! The frame of an example program: its errors, its log, the signals that stop it, and the
//! order of a clean stop (server, then refresher).

use std::future::Future;
use std::process::ExitCode;

use kvref::live::Live;
use tokio::task::JoinHandle;

/// Why a service could not start or serve.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A setting is missing or wrong; the message names it and says how to fix it.
    #[error("{0}")]
    Setting(String),
    /// Key Vault references could not be resolved (every failure, with its fix).
    #[error(transparent)]
    Live(#[from] kvref::live::LiveError),
    /// The resolver could not be built from the environment.
    #[error(transparent)]
    Kvref(#[from] kvref::Error),
    /// The listener or the server failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        source: std::io::Error,
    },
}

/// Logs each new snapshot with the versions it uses (the status follows a swap at once). Ends
/// when the refresher stops.
pub async fn log_snapshots<T>(live: Live<T>) {
    let mut updates = live.status_updates();
    let mut generation = updates.borrow().generation;
    while updates.changed().await.is_ok() {
        let status = updates.borrow_and_update().clone();
        if status.generation != generation {
            generation = status.generation;
            let versions: Vec<String> = status
                .versions
                .iter()
                .map(|v| format!("{}={}", v.key, v.version.as_deref().unwrap_or("none")))
                .collect();
            tracing::info!(generation, versions = %versions.join(","), "settings: new snapshot in use");
        }
    }
}

/// Waits until the refresher of `live` has stopped (its token was cancelled) and `watcher`
/// ([`log_snapshots`]) has ended, then says so in the log.
pub async fn stopped<T>(live: &Live<T>, watcher: JoinHandle<()>) {
    // The generation channel closes when the refresher task ends.
    let mut generations = live.subscribe();
    while generations.changed().await.is_ok() {}
    let _ = watcher.await;
    tracing::info!("stopped: server closed, refresher ended");
}

/// Completes on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM; Ctrl-C only");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
    tracing::info!("shutting down");
}

/// The program `name`: logs to stderr (`RUST_LOG`, default `info`), runs `service` on a
/// multi-threaded runtime; exit code 0 after a clean stop, 1 (and the error on stderr) if not.
pub fn main<F: Future<Output = Result<(), Error>>>(
    name: &str,
    service: impl FnOnce() -> F,
) -> ExitCode {
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("{name}: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(service()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{name}: {error}");
            ExitCode::FAILURE
        }
    }
}
