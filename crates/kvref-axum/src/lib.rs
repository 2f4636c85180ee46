//! Mounts kvref's Azure Event Grid webhook ([`kvref::events::Webhook`]) in an axum router, at
//! any path, in one line.
//!
//! The adapter only carries the request to the webhook and its answer back: the method, URI
//! (query included), headers and body go to [`Webhook::handle`] unchanged, and its status,
//! headers and body come back unchanged. Every decision (handshakes, authentication, size,
//! parsing, the push into [`Live`](kvref::live::Live)) stays in kvref. The body is read up to
//! [`Webhook::max_body`]; a longer one is answered 413 without being read further.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use kvref::events::{Event, PushTarget, PushUnavailable, Pushed, SharedSecret, Webhook};
//! use kvref::secrecy::SecretString;
//!
//! # struct Nothing;
//! # impl PushTarget for Nothing {
//! #     fn push(&self, _: &[Event]) -> Result<Pushed, PushUnavailable> { Ok(Pushed::default()) }
//! # }
//! # let live = Nothing;
//! // `live` is a kvref::live::Live<Settings> in an app.
//! let secret = SharedSecret::query("code", [SecretString::from("from-a-vault-too")]);
//! let webhook = Webhook::builder(live).shared_secret(secret).build().unwrap();
//! let app: axum::Router = axum::Router::new().route("/events/keyvault", kvref_axum::webhook(webhook));
//!
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
//! let addr = listener.local_addr().unwrap();
//! tokio::spawn(async move { axum::serve(listener, app).await });
//!
//! // Event Grid's CloudEvents handshake, then a POST without the secret.
//! let client = reqwest::Client::new();
//! let url = format!("http://{addr}/events/keyvault");
//! let handshake = client
//!     .request(reqwest::Method::OPTIONS, &url)
//!     .header("WebHook-Request-Origin", "eventgrid.azure.net")
//!     .send()
//!     .await
//!     .unwrap();
//! assert_eq!(handshake.status(), 200);
//! assert_eq!(handshake.headers()["webhook-allowed-origin"], "eventgrid.azure.net");
//! let forged = client.post(&url).body("[]").send().await.unwrap();
//! assert_eq!(forged.status(), 401);
//! # });
//! ```

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use axum::routing::{MethodRouter, any};
use http::StatusCode;
use kvref::events::Webhook;

/// A route that answers every method with `webhook`: mount it at any path with
/// [`Router::route`](axum::Router::route). See the [crate] docs for an example.
pub fn webhook<S>(webhook: Webhook) -> MethodRouter<S>
where
    S: Clone + Send + Sync + 'static,
{
    any(move |request: Request| {
        let webhook = webhook.clone();
        async move { handle(&webhook, request).await }
    })
}

/// A router with `webhook` at `path`, to [`merge`](axum::Router::merge) or
/// [`nest`](axum::Router::nest) into an app.
///
/// ```
/// # use kvref::events::{Event, PushTarget, PushUnavailable, Pushed, Webhook};
/// # struct Nothing;
/// # impl PushTarget for Nothing {
/// #     fn push(&self, _: &[Event]) -> Result<Pushed, PushUnavailable> { Ok(Pushed::default()) }
/// # }
/// # let webhook = Webhook::builder(Nothing).insecure_without_authentication().build().unwrap();
/// let app: axum::Router = axum::Router::new().merge(kvref_axum::router("/events/keyvault", webhook));
/// ```
pub fn router<S>(path: &str, webhook: Webhook) -> axum::Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    axum::Router::new().route(path, self::webhook(webhook))
}

/// Answers one request with `webhook`: for handlers that do more around it (a span, a metric).
pub async fn handle(webhook: &Webhook, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, webhook.max_body()).await else {
        // Over the limit (or the client went away): nothing was handed to the webhook.
        let mut too_large = Response::new(Body::empty());
        *too_large.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
        return too_large;
    };
    webhook
        .handle(&http::Request::from_parts(parts, body))
        .await
        .map(Body::from)
}
