//! The VM instance metadata service token endpoint (`/metadata/identity/oauth2/token`).
//!
//! Quirks kept: the `Metadata: true` check comes before anything else (the probe clients send has
//! no query at all), every value in the answer is a string, errors are `{"error","error_description"}`.

use axum::body::Body;
use http::{Response, StatusCode};
use serde_json::json;

use super::{Selection, Selector, date_version, imds_style_token, select};
use crate::http::{Req, json_with};
use crate::state::Shared;

const CONTENT_TYPE: &str = "application/json; charset=utf-8";

fn error(status: StatusCode, code: &str, description: &str) -> Response<Body> {
    json_with(
        status,
        CONTENT_TYPE,
        &json!({"error": code, "error_description": description}),
    )
}

/// Serves one IMDS token request.
pub(crate) fn handle(shared: &Shared, req: &Req) -> Response<Body> {
    if req.header("metadata") != Some("true") {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_request_102",
            "Required metadata header not specified",
        );
    }
    if req.headers.contains_key("x-forwarded-for") {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Requests with an X-Forwarded-For header are not accepted",
        );
    }
    if req.method != http::Method::GET {
        return error(
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request",
            "Only GET is supported",
        );
    }
    let Some(api_version) = req.param("api-version") else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Required query variable 'api-version' is missing",
        );
    };
    if date_version(&api_version).is_none_or(|v| v < 20_180_201) {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Invalid api-version: use 2018-02-01 or later",
        );
    }
    let resource = match req.param("resource") {
        Some(r) if !r.is_empty() => r,
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "Required audience parameter not specified",
            );
        }
    };
    let mut selectors = Vec::new();
    for (name, value) in req.params() {
        match name.as_str() {
            "client_id" => selectors.push(Selector::ClientId(value)),
            "object_id" => selectors.push(Selector::ObjectId(value)),
            "msi_res_id" => selectors.push(Selector::ResourceId(value)),
            _ => {}
        }
    }
    if selectors.len() > 1 {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Only one of client_id, object_id or msi_res_id may be specified",
        );
    }
    match select(shared, selectors.pop(), true) {
        Selection::Found(principal) => json_with(
            StatusCode::OK,
            CONTENT_TYPE,
            &imds_style_token(shared, &principal, &resource),
        ),
        Selection::NotFound | Selection::NoIdentity => error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Identity not found",
        ),
        Selection::Ambiguous => error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Multiple user assigned identities exist, please specify the clientId / resourceId of the identity in the token request",
        ),
    }
}
