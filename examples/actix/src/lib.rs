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

pub mod health;
pub mod report;
pub mod settings;

use std::future::Future;
use std::path::PathBuf;
use std::process::ExitCode;

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::middleware::{self, Next};
use actix_web::{App, HttpServer, web};
use kvref::Resolver;
use kvref::live::Live;
use kvref_example_support::settings::Refresh;
use kvref_example_support::{Error, Ready, events, print_ready, shutdown_signal};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::settings::Settings;

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
            .extract_inner::<Refresh>("refresh")
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
        let webhook = events::webhook(&live, &live.load().events, &resolver)?;
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
        let watcher = tokio::spawn(kvref_example_support::log_snapshots(live.clone()));
        Ok(Service {
            server: http.run(),
            live,
            ready: Ready::new(listening, application_id),
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
        kvref_example_support::stopped(&live, watcher).await;
        served.map_err(|source| Error::Io {
            what: "the server failed".into(),
            source,
        })
    }
}

/// The program: logs to stderr (`RUST_LOG`, default `info`), starts, prints [`Ready`] on
/// stdout, serves until SIGTERM or Ctrl-C. Exit code 0 after a clean stop, 1 on an error.
pub fn main() -> ExitCode {
    kvref_example_support::main("kvref-example-actix", || async {
        let service = Service::start(settings::file()).await?;
        print_ready(service.ready());
        service.run(shutdown_signal()).await
    })
}
