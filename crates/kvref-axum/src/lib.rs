#![doc = include_str!("../README.md")]

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
