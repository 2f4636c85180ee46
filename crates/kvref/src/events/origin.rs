//! The CloudEvents 1.0 abuse-protection handshake (`OPTIONS` with `WebHook-Request-Origin`),
//! which Event Grid runs instead of its validation event when it delivers CloudEvents. Consent
//! is given only to the configured Event Grid origins; it authenticates nothing.

use http::header::ALLOW;
use http::{HeaderMap, HeaderValue, Response, StatusCode};

/// Event Grid's origin in each Azure cloud (public, US Government, China, and two sovereign).
pub const EVENT_GRID_ORIGINS: [&str; 5] = [
    "eventgrid.azure.net",
    "eventgrid.azure.us",
    "eventgrid.azure.cn",
    "eventgrid.azure.eaglex.ic.gov",
    "eventgrid.azure.microsoft.scloud",
];

/// Answers an `OPTIONS`: 200 with `WebHook-Allowed-Origin` (and `WebHook-Allowed-Rate: *`) for
/// an allowed origin, 403 without consent headers otherwise.
pub(super) fn answer(allowed: &[String], headers: &HeaderMap) -> Response<Vec<u8>> {
    let origin = headers
        .get("webhook-request-origin")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|o| allowed.iter().any(|a| a.eq_ignore_ascii_case(o)));
    let mut response = Response::new(Vec::new());
    response
        .headers_mut()
        .insert(ALLOW, HeaderValue::from_static("POST, OPTIONS"));
    let Some(origin) = origin.and_then(|o| HeaderValue::from_str(o).ok()) else {
        *response.status_mut() = StatusCode::FORBIDDEN;
        return response;
    };
    let headers = response.headers_mut();
    headers.insert("webhook-allowed-origin", origin);
    // No rate limit is asked of the sender: kvref coalesces refreshes itself.
    headers.insert("webhook-allowed-rate", HeaderValue::from_static("*"));
    response
}
