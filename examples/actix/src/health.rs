//! `GET /health`: the refresher's status and the secret versions in use, never a value
//! ([`kvref_example_support::health`]).

use actix_web::{HttpResponse, web};
use kvref::events::Webhook;
use kvref::live::Live;

use crate::settings::Settings;

/// The health body, always with 200.
pub async fn health(live: web::Data<Live<Settings>>, webhook: web::Data<Webhook>) -> HttpResponse {
    HttpResponse::Ok().json(kvref_example_support::health::body(
        &live.status(),
        &webhook,
    ))
}
