//! An actix-web service whose settings hold Key Vault references: `kvref-figment` resolves them
//! at start-up with the app's managed identity and keeps them fresh in a [`Live<Settings>`], by
//! polling and by Azure Event Grid push.
//!
//! ```sh
//! kvref emulator --config examples/emulator.toml      # prints its http address
//! KVREF_EMULATOR=http://127.0.0.1:PORT cargo run -p kvref-example-actix
//! ```
//!
//! On Azure the same binary runs unchanged without `KVREF_EMULATOR`: give the app a managed
//! identity with the Key Vault Secrets User role, set `APP__EVENTS__TENANT_ID`, and point an
//! Event Grid subscription (Entra-protected delivery for `events.application_id`) at
//! `/events/keyvault`.
//!
//! - `GET /v1/report` a report for callers presenting the API key `api.key` in `x-api-key`.
//! - `GET /health` the refresher's status and the secret versions in use, never a value.
//! - `POST`/`OPTIONS /events/keyvault` the Event Grid webhook ([`kvref_actix`]).
//!
//! Settings come from `settings.toml` (or the file `$APP_SETTINGS` names) with `APP__...`
//! overrides; `listen` (`APP__LISTEN`) is where it listens, port 0 for a free one. Once it
//! serves it prints one JSON line on stdout, [`Ready`]. SIGTERM or Ctrl-C stops it: it finishes
//! the requests under way, stops the refresher and exits 0.

pub mod events;
pub mod health;
pub mod report;
pub mod settings;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::middleware::{self, Next};
use actix_web::{App, HttpServer, web};
use kvref::Resolver;
use kvref::live::Live;
use serde::Serialize;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::settings::Settings;

/// Why the service could not start or serve.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A setting is missing or wrong; the message names it and says how to fix it.
    #[error("{0}")]
    Setting(String),
    /// Key Vault references could not be resolved (every failure, with its fix).
    #[error(transparent)]
    Live(#[from] kvref::live::LiveError),
    /// Local mode (`KVREF_EMULATOR`) could not reach or use the emulator.
    #[error(transparent)]
    Local(#[from] kvref::local::LocalError),
    /// The resolver could not be built from the environment.
    #[error(transparent)]
    Kvref(#[from] kvref::Error),
    /// The listener failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        source: std::io::Error,
    },
}

/// The line printed on stdout once the service serves:
/// `{"listening": "127.0.0.1:P", "events": {"path": "/events/keyvault", "application_id": ID}}`.
#[derive(Debug, Clone, Serialize)]
pub struct Ready {
    /// The address it serves on.
    pub listening: SocketAddr,
    /// Where Event Grid delivers, and for which Entra application.
    pub events: ReadyEvents,
}

/// The webhook part of [`Ready`].
#[derive(Debug, Clone, Serialize)]
pub struct ReadyEvents {
    /// The webhook's path.
    pub path: &'static str,
    /// The Entra application deliveries must have tokens for.
    pub application_id: String,
}

/// One log line per request: method, path (not the query: it may hold a shared secret), status.
async fn trace(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let (method, path) = (request.method().clone(), request.path().to_owned());
    let response = next.call(request).await?;
    tracing::info!(%method, path, status = response.status().as_u16(), "request");
    Ok(response)
}

/// A service that resolved its settings and bound its listener, ready to [`run`](Self::run).
pub struct Service {
    server: Server,
    live: Live<Settings>,
    ready: Ready,
    stop: CancellationToken,
    watcher: JoinHandle<()>,
}

impl Service {
    /// Reads the settings in `file` (with `APP__...` overrides), resolves their references
    /// (managed identity, or the emulator `KVREF_EMULATOR` names), starts the refresher, and
    /// binds `listen`.
    pub async fn start(file: PathBuf) -> Result<Service, Error> {
        let figment = settings::figment(file);
        // The poll interval is needed before the settings are resolved: read it plainly.
        let interval = figment
            .extract_inner::<settings::Refresh>("refresh")
            .unwrap_or_default()
            .interval();
        let resolver = Resolver::from_env().await?;
        let stop = CancellationToken::new();
        let token = stop.clone();
        let live = kvref_figment::live::<Settings>(figment)
            .resolver(&resolver)
            .options(move |live| live.interval(interval).cancel_on(token))
            .start()
            .await?;
        let (listen, application_id) = {
            let settings = live.load();
            (
                settings.listen.clone(),
                settings.events.application_id.clone(),
            )
        };
        let webhook = events::webhook(&live, &live.load().events, &resolver).await?;
        let (live_data, webhook_data) = (
            web::Data::new(live.clone()),
            web::Data::new(webhook.clone()),
        );
        let http = HttpServer::new(move || {
            App::new()
                .wrap(middleware::from_fn(trace))
                .app_data(live_data.clone())
                .app_data(webhook_data.clone())
                .route("/health", web::get().to(health::health))
                .route("/v1/report", web::get().to(report::report))
                .service(kvref_actix::webhook(events::PATH, webhook.clone()))
        })
        .workers(2)
        // Signals are ours: the refresher must stop too.
        .disable_signals()
        .bind(&listen)
        .map_err(|source| Error::Io {
            what: format!("cannot listen on {listen} (setting listen, APP__LISTEN)"),
            source,
        })?;
        let listening = http.addrs().first().copied().ok_or_else(|| Error::Io {
            what: format!("{listen} named no address (setting listen, APP__LISTEN)"),
            source: std::io::Error::from(std::io::ErrorKind::AddrNotAvailable),
        })?;
        let watcher = tokio::spawn(log_snapshots(live.clone()));
        Ok(Service {
            server: http.run(),
            live,
            ready: Ready {
                listening,
                events: ReadyEvents {
                    path: events::PATH,
                    application_id,
                },
            },
            stop,
            watcher,
        })
    }

    /// What it will print once serving.
    pub fn ready(&self) -> &Ready {
        &self.ready
    }

    /// The live settings (for tests that watch them).
    pub fn live(&self) -> &Live<Settings> {
        &self.live
    }

    /// Serves until `shutdown` completes, then finishes the requests under way, stops the
    /// refresher and returns once it has stopped.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), Error> {
        let Service {
            server,
            live,
            stop,
            watcher,
            ..
        } = self;
        let handle = server.handle();
        let stopper = tokio::spawn(async move {
            shutdown.await;
            handle.stop(true).await;
        });
        let served = server.await;
        stopper.abort();
        stop.cancel();
        // The generation channel closes when the refresher task ends.
        let mut generations = live.subscribe();
        while generations.changed().await.is_ok() {}
        let _ = watcher.await;
        tracing::info!("stopped: server closed, refresher ended");
        served.map_err(|source| Error::Io {
            what: "the server failed".into(),
            source,
        })
    }
}

/// Logs each new snapshot with the versions it uses (the status follows a swap at once).
async fn log_snapshots(live: Live<Settings>) {
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

/// The program: logs to stderr (`RUST_LOG`, default `info`), starts, prints [`Ready`] on
/// stdout, serves until SIGTERM or Ctrl-C. Exit code 0 after a clean stop, 1 on an error.
pub fn main() -> ExitCode {
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
            eprintln!("kvref-example-actix: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let service = Service::start(settings::file()).await?;
        print_ready(service.ready());
        service.run(shutdown_signal()).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("kvref-example-actix: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Prints the ready line and flushes it, so that a parent reading a pipe sees it at once.
fn print_ready(ready: &Ready) {
    use std::io::Write;
    let line = serde_json::to_string(ready).unwrap_or_default();
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{line}");
    let _ = stdout.flush();
}
