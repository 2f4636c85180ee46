//! `GET /v1/report`: a report for callers that present the API key `api.key` in `x-api-key`.
//! The presented key is compared with the one from Key Vault digest to digest in constant time
//! (neither its content nor its length leaks through timing); a wrong or missing key is 401.
//! After a rotation the new key works and the old one is refused, with no restart.

use actix_web::{HttpRequest, HttpResponse, web};
use kvref::live::Live;
use kvref::secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::settings::Settings;

/// The setting that holds the key, as the live status names it: kvref-figment names keys with
/// their figment profile.
pub const KEY_SETTING: &str = "default.api.key";

/// The report, for callers with the key.
pub async fn report(request: HttpRequest, live: web::Data<Live<Settings>>) -> HttpResponse {
    let presented = request
        .headers()
        .get("x-api-key")
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    let accepted = {
        let settings = live.load();
        let expected = Sha256::digest(settings.api.key.expose_secret().as_bytes());
        !presented.is_empty() && bool::from(Sha256::digest(presented).ct_eq(&expected))
    };
    if !accepted {
        return HttpResponse::Unauthorized()
            .insert_header(("www-authenticate", "ApiKey header=\"x-api-key\""))
            .finish();
    }
    let version = live
        .status()
        .versions
        .into_iter()
        .find(|v| v.key == KEY_SETTING)
        .and_then(|v| v.version);
    HttpResponse::Ok().json(serde_json::json!({
        "report": "all systems nominal",
        "api_key_version": version,
    }))
}
