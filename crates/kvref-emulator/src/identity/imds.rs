//! The VM instance metadata service token endpoint (`/metadata/identity/oauth2/token`).
//!
//! Quirks kept: the `Metadata: true` check comes before anything else (the probe clients send has
//! no query at all), every value in the answer is a string, errors are `{"error","error_description"}`.

use axum::body::Body;
use http::{Response, StatusCode};
use serde_json::json;

use super::{
    Selection, Selector, check_api_version, check_metadata_header, imds_style_token,
    required_resource, select,
};
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
    if let Err((status, code, description)) = check_metadata_header(req) {
        return error(status, code, description);
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
    let checked = check_api_version(
        req,
        20_180_201,
        "Invalid api-version: use 2018-02-01 or later",
    )
    .and_then(|()| required_resource(req));
    let resource = match checked {
        Ok(resource) => resource,
        Err((status, code, description)) => return error(status, code, description),
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
