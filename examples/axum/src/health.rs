//! `GET /health`: the refresher's status and the secret versions in use, never a value
//! ([`kvref_example_support::health`]).

use axum::Json;
use axum::extract::State;
use kvref::events::Webhook;
use kvref::live::Live;
use serde_json::Value;

use crate::settings::Settings;

/// The health body, always with 200.
pub async fn health(
    State(live): State<Live<Settings>>,
    State(webhook): State<Webhook>,
) -> Json<Value> {
    Json(kvref_example_support::health::body(
        &live.status(),
        &webhook,
    ))
}
