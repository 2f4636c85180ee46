//! The control API's Event Grid part, under `/_emulator/eventgrid/`:
//! `POST subscriptions` (201 once the handshake passed, 4xx saying why not), `GET subscriptions`
//! (no secret values), `DELETE subscriptions/{name}`.

use axum::body::Body;
use http::{Method, Response, StatusCode};
use serde_json::json;

use super::Subscription;
use crate::http::{Req, empty, json};
use crate::state::Shared;

fn failure(status: StatusCode, message: &str) -> Response<Body> {
    json(status, &json!({"error": message}))
}

/// Serves one request whose path is below `/_emulator/eventgrid/`; `None` for other paths.
pub(crate) async fn handle(shared: &Shared, req: &Req) -> Option<Response<Body>> {
    let rest = req
        .path
        .strip_prefix("/_emulator/eventgrid/")?
        .trim_end_matches('/');
    let segments: Vec<&str> = rest.split('/').collect();
    let grid = &shared.eventgrid;
    Some(match (&req.method, segments.as_slice()) {
        (&Method::POST, ["subscriptions"]) => {
            let subscription: Subscription = match serde_json::from_slice(&req.body) {
                Ok(subscription) => subscription,
                Err(e) => {
                    // serde quotes offending values, and a body may hold a secret.
                    let message = crate::config::without_values(&e.to_string());
                    return Some(failure(
                        StatusCode::BAD_REQUEST,
                        &format!(
                            "invalid subscription: {message}; expected {{\"name\", \"endpoint\", \"schema\": \"eventgrid\"|\"cloudevents\", \"auth\"?, \"event_types\"?}}"
                        ),
                    ));
                }
            };
            match grid.add(shared, subscription).await {
                Ok(info) => json(
                    StatusCode::CREATED,
                    &serde_json::to_value(info).unwrap_or_default(),
                ),
                Err(e) => failure(
                    StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST),
                    &e.message,
                ),
            }
        }
        (&Method::GET, ["subscriptions"]) => json(
            StatusCode::OK,
            &serde_json::to_value(grid.list()).unwrap_or_default(),
        ),
        (&Method::DELETE, ["subscriptions", name]) => {
            if grid.remove(name) {
                empty(StatusCode::NO_CONTENT)
            } else {
                failure(
                    StatusCode::NOT_FOUND,
                    &format!("no subscription named {name:?}"),
                )
            }
        }
        _ => failure(
            StatusCode::NOT_FOUND,
            &format!(
                "unknown control request {} {}; see the kvref-emulator README (Event Grid)",
                req.method, req.path
            ),
        ),
    })
}
