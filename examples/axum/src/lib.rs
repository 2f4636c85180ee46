//! An axum service whose settings hold Key Vault references: `kvref-config` resolves them at
//! start-up with the app's managed identity and keeps them fresh in a [`Live<Settings>`], by
//! polling and by Azure Event Grid push.
//!
//! ```sh
//! kvref emulator --config examples/emulator.toml      # prints its http address
//! KVREF_EMULATOR=http://127.0.0.1:PORT cargo run -p kvref-example-axum
//! ```
//!
//! On Azure the same binary runs unchanged without `KVREF_EMULATOR`: give the app a managed
//! identity with the Key Vault Secrets User role, set `APP__EVENTS__TENANT_ID`, and point an
//! Event Grid subscription (Entra-protected delivery for `events.application_id`) at
//! `/events/keyvault`.
//!
//! - `GET /v1/receipt?order=ID` a JSON receipt signed with the HMAC key `signing.key`
//!   (`x-signature`, `x-signature-key-version`); the key never leaves the process.
//! - `GET /health` the refresher's status and the secret versions in use, never a value.
//! - `POST`/`OPTIONS /events/keyvault` the Event Grid webhook ([`kvref_axum`]).
//!
//! Settings come from `settings.toml` (or the file `$APP_SETTINGS` names) with `APP__...`
//! overrides; `listen` (`APP__LISTEN`) is where it listens, port 0 for a free one. Once it
//! serves it prints one JSON line on stdout, [`Ready`]. SIGTERM or Ctrl-C stops it: it finishes
//! the requests under way, stops the refresher and exits 0.

pub mod health;
pub mod receipt;
pub mod settings;

use std::future::Future;
use std::path::PathBuf;
use std::process::ExitCode;

use axum::Router;
use axum::extract::{FromRef, Request};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use kvref::Resolver;
use kvref::events::Webhook;
use kvref::live::Live;
use kvref_example_support::settings::Refresh;
use kvref_example_support::{Error, Ready, events, print_ready, shutdown_signal};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::settings::Settings;

/// What the handlers share: the live settings and the webhook (for its counters).
#[derive(Clone)]
pub struct AppState {
    /// The settings, kept fresh.
    pub live: Live<Settings>,
    /// The Event Grid webhook.
    pub webhook: Webhook,
}

impl FromRef<AppState> for Live<Settings> {
    fn from_ref(state: &AppState) -> Self {
        state.live.clone()
    }
}

impl FromRef<AppState> for Webhook {
    fn from_ref(state: &AppState) -> Self {
        state.webhook.clone()
    }
}

/// The routes, over `state`.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health::health))
        .route("/v1/receipt", get(receipt::receipt))
        .route(events::PATH, kvref_axum::webhook(state.webhook.clone()))
        .layer(middleware::from_fn(trace))
        .with_state(state)
}

/// One log line per request: method, path (not the query: it may hold a shared secret), status.
async fn trace(request: Request, next: Next) -> Response {
    let (method, path) = (request.method().clone(), request.uri().path().to_owned());
    let response = next.run(request).await;
    tracing::info!(%method, path, status = response.status().as_u16(), "request");
    response
}

/// A service that resolved its settings and bound its listener, ready to [`run`](Self::run).
pub struct Service {
    listener: TcpListener,
    state: AppState,
    ready: Ready,
    stop: CancellationToken,
    watcher: JoinHandle<()>,
}

impl Service {
    /// Reads the settings in `file` (with `APP__...` overrides), resolves their references
    /// (managed identity, or the emulator `KVREF_EMULATOR` names), starts the refresher, and
    /// binds `listen`.
    pub async fn start(file: PathBuf) -> Result<Service, Error> {
        let sources = settings::sources(file);
        // The poll interval is needed before the settings are resolved: read it plainly.
        let interval = sources()
            .build()
            .and_then(|c| c.get::<Refresh>("refresh"))
            .unwrap_or_default()
            .interval();
        let resolver = Resolver::from_env().await?;
        let stop = CancellationToken::new();
        let token = stop.clone();
        let live = kvref_config::live::<Settings>(sources)
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
        let listener = TcpListener::bind(&listen)
            .await
            .map_err(|source| Error::Io {
                what: format!("cannot listen on {listen} (setting listen, APP__LISTEN)"),
                source,
            })?;
        let listening = listener.local_addr().map_err(|source| Error::Io {
            what: "cannot read the listening address".into(),
            source,
        })?;
        let watcher = tokio::spawn(kvref_example_support::log_snapshots(live.clone()));
        Ok(Service {
            listener,
            ready: Ready::new(listening, application_id),
            state: AppState { live, webhook },
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
        &self.state.live
    }

    /// Serves until `shutdown` completes, then finishes the requests under way, stops the
    /// refresher and returns once it has stopped.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), Error> {
        let Service {
            listener,
            state,
            stop,
            watcher,
            ..
        } = self;
        let live = state.live.clone();
        let served = axum::serve(listener, app(state))
            .with_graceful_shutdown(shutdown)
            .await;
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
    kvref_example_support::main("kvref-example-axum", || async {
        let service = Service::start(settings::file()).await?;
        print_ready(service.ready());
        service.run(shutdown_signal()).await
    })
}
