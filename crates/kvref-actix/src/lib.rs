#![doc = include_str!("../README.md")]

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
