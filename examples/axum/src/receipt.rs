//! `GET /v1/receipt?order=ID`: a receipt signed with the HMAC-SHA256 key from Key Vault. The
//! body is JSON; `x-signature` is the base64 HMAC of exactly those bytes, and
//! `x-signature-key-version` the Key Vault version of the key, so that a verifier holding
//! several versions during a rotation knows which to use. The key itself never leaves.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use hmac::{Hmac, Mac};
use kvref::live::Live;
use kvref::secrecy::ExposeSecret;
use serde::Deserialize;
use sha2::Sha256;

use crate::settings::Settings;

/// The setting that holds the key, as the live status names it.
pub const KEY_SETTING: &str = "signing.key";

/// The query.
#[derive(Deserialize)]
pub struct Order {
    order: String,
}

/// Signs a receipt for the order.
pub async fn receipt(State(live): State<Live<Settings>>, Query(order): Query<Order>) -> Response {
    // The version comes from the live status, which the refresher updates just after it swaps
    // the snapshot: a receipt signed during a swap may name the previous version for a moment.
    let version = live
        .status()
        .versions
        .into_iter()
        .find(|v| v.key == KEY_SETTING)
        .and_then(|v| v.version)
        .unwrap_or_default();
    let settings = live.snapshot();
    let body = serde_json::json!({
        "order": order.order,
        "issued_at": unix_now(),
        "key_version": version,
    })
    .to_string();
    let signature = sign(
        settings.signing.key.expose_secret().as_bytes(),
        body.as_bytes(),
    );
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    let values = [
        ("x-signature", signature),
        ("x-signature-key-version", version),
    ];
    for (name, value) in values {
        let Ok(value) = HeaderValue::from_str(&value) else {
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        };
        headers.insert(name, value);
    }
    (headers, body).into_response()
}

/// The base64 HMAC-SHA256 of `body` under `key`.
pub fn sign(key: &[u8], body: &[u8]) -> String {
    // HMAC takes a key of any length: new_from_slice cannot fail for it.
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(body);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn unix_now() -> String {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs().to_string())
        .unwrap_or_default()
}
