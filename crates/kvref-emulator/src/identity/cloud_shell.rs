//! Azure Cloud Shell's token endpoint: a POST form with `resource`, `Metadata: true`, no secret.
//!
//! Only the system-assigned identity exists here (in Azure, the signed-in user's).

use axum::body::Body;
use http::{Method, Response, StatusCode};
use serde_json::json;

use super::system_identity_token;
use crate::http::{Req, json};
use crate::state::Shared;

const AUDIENCES: [&str; 8] = [
    "https://management.core.windows.net/",
    "https://management.azure.com/",
    "https://graph.windows.net/",
    "https://graph.microsoft.com/",
    "https://vault.azure.net",
    "https://vault.azure.cn",
    "https://vault.usgovcloudapi.net",
    "https://storage.azure.com/",
];

fn error(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    json(
        status,
        &json!({"error": {"code": code, "message": message}}),
    )
}

/// Serves one Cloud Shell token request.
pub(crate) fn handle(shared: &Shared, req: &Req) -> Response<Body> {
    if req.method != Method::POST {
        return error(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "Use POST with a form body containing resource.",
        );
    }
    if req.header("metadata") != Some("true") {
        return error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Required metadata header not specified",
        );
    }
    let form = req.form();
    let Some(resource) = form
        .iter()
        .find(|(k, _)| k == "resource")
        .map(|(_, v)| v.clone())
        .filter(|r| !r.is_empty())
    else {
        return error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "The resource form field is required.",
        );
    };
    let normalised = resource.trim_end_matches('/');
    if !AUDIENCES
        .iter()
        .any(|a| a.trim_end_matches('/').eq_ignore_ascii_case(normalised))
    {
        return error(
            StatusCode::BAD_REQUEST,
            "AudienceNotSupported",
            &format!(
                "Audience scope is not a supported MSI token audience.Supported audiences:{}",
                AUDIENCES.join(",")
            ),
        );
    }
    match system_identity_token(shared, &resource) {
        Some(token) => json(StatusCode::OK, &token),
        None => error(
            StatusCode::BAD_REQUEST,
            "IdentityNotFound",
            "No identity is available in this Cloud Shell session.",
        ),
    }
}
