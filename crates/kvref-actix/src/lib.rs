//! Mounts kvref's Azure Event Grid webhook ([`kvref::events::Webhook`]) in an actix-web app, at
//! any path, in one line.
//!
//! The adapter only carries the request to the webhook and its answer back: the method, URI
//! (query included), headers and body go to [`Webhook::handle`] unchanged, and its status,
//! headers and body come back unchanged. Every decision (handshakes, authentication, size,
//! parsing, the push into [`Live`](kvref::live::Live)) stays in kvref. The body is read up to
//! [`Webhook::max_body`] (not actix's default 256 KiB); a longer one is answered 413, with an
//! empty body as the webhook's own 413 has.
//!
//! actix-web 4 speaks the `http` 0.2 types and kvref the `http` 1 ones: the request and the
//! answer are copied across field by field, bytes for bytes.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use actix_web::{App, HttpServer};
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
//! let server = HttpServer::new(move || {
//!     App::new().service(kvref_actix::webhook("/events/keyvault", webhook.clone()))
//! })
//! .workers(1)
//! .bind("127.0.0.1:0")
//! .unwrap();
//! let addr = server.addrs()[0];
//! let server = server.run();
//! let stop = server.handle();
//! tokio::spawn(server);
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
//! stop.stop(true).await;
//! # });
//! ```

use actix_web::http::StatusCode;
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse, Resource};
use kvref::events::Webhook;

/// A resource at `path` that answers every method with `webhook`: register it with
/// [`App::service`](actix_web::App::service). See the [crate] docs for an example.
pub fn webhook(path: &str, webhook: Webhook) -> Resource {
    web::resource(path).default_service(web::to(
        move |request: HttpRequest, payload: web::Payload| {
            let webhook = webhook.clone();
            async move {
                match payload.to_bytes_limited(webhook.max_body()).await {
                    Ok(Ok(body)) => handle(&webhook, &request, body).await,
                    // The client went away or sent a broken body: nothing reached the webhook.
                    Ok(Err(_)) => HttpResponse::BadRequest().finish(),
                    Err(_) => HttpResponse::build(StatusCode::PAYLOAD_TOO_LARGE).finish(),
                }
            }
        },
    ))
}

/// Answers one request with `webhook`, given its whole body (read at most
/// [`Webhook::max_body`] of it): for handlers that do more around it (a span, a metric).
pub async fn handle(webhook: &Webhook, request: &HttpRequest, body: Bytes) -> HttpResponse {
    let Some(request) = to_http(request, body) else {
        // actix parsed it, so this cannot happen with a well-formed request; say so plainly.
        return HttpResponse::BadRequest().finish();
    };
    from_http(webhook.handle(&request).await)
}

/// The request as `http` 1 types: the same method, URI, headers and body.
fn to_http(request: &HttpRequest, body: Bytes) -> Option<http::Request<Bytes>> {
    let mut builder = http::Request::builder()
        .method(request.method().as_str())
        .uri(request.uri().to_string());
    for (name, value) in request.headers() {
        builder = builder.header(name.as_str(), value.as_bytes());
    }
    builder.body(body).ok()
}

/// The webhook's answer as actix's: the same status, headers and body.
fn from_http(response: http::Response<Vec<u8>>) -> HttpResponse {
    let (parts, body) = response.into_parts();
    let status =
        StatusCode::from_u16(parts.status.as_u16()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut answer = HttpResponse::build(status);
    for (name, value) in &parts.headers {
        answer.append_header((name.as_str(), value.as_bytes()));
    }
    answer.body(body)
}
