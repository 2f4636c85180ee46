//! Azure Arc's hybrid instance metadata service: a Basic challenge naming a key file, then the token.
//!
//! The first request gets 401 with `WWW-Authenticate: Basic realm=<path of a fresh .key file>`;
//! the client proves it can read that file by sending `Authorization: Basic <file contents>`.
//! Only the system-assigned identity exists on Arc.

use axum::body::Body;
use http::{Response, StatusCode};
use serde_json::json;

use super::{Selection, date_version, imds_style_token, select};
use crate::http::{Req, json, set_header};
use crate::state::{Shared, lock};

fn error(status: StatusCode, code: &str, description: &str) -> Response<Body> {
    json(
        status,
        &json!({"error": code, "error_description": description}),
    )
}

/// Serves one Arc token request.
pub(crate) fn handle(shared: &Shared, req: &Req) -> Response<Body> {
    if req.header("metadata") != Some("true") {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_request_102",
            "Required metadata header not specified",
        );
    }
    let Some(api_version) = req.param("api-version") else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Required query variable 'api-version' is missing",
        );
    };
    if date_version(&api_version).is_none_or(|v| v < 20_190_801) {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Invalid api-version: use 2019-11-01 or later",
        );
    }
    let Some(resource) = req.param("resource").filter(|r| !r.is_empty()) else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Required audience parameter not specified",
        );
    };
    if req.params().iter().any(|(k, _)| {
        matches!(
            k.as_str(),
            "client_id" | "object_id" | "msi_res_id" | "mi_res_id"
        )
    }) {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "User assigned identities are not supported on Azure Arc",
        );
    }
    let Some(authorization) = req.header("authorization") else {
        return basic_challenge(shared);
    };
    let presented = match authorization.split_once(' ') {
        Some((scheme, key)) if scheme.eq_ignore_ascii_case("basic") => key.trim(),
        _ => return basic_challenge(shared),
    };
    if !lock(&shared.arc_keys).contains(presented) {
        return error(
            StatusCode::UNAUTHORIZED,
            "unauthorized_client",
            "Invalid Basic Authorization header",
        );
    }
    match select(shared, None, false) {
        Selection::Found(principal) => json(
            StatusCode::OK,
            &imds_style_token(shared, &principal, &resource),
        ),
        _ => error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Identity not found",
        ),
    }
}

fn basic_challenge(shared: &Shared) -> Response<Body> {
    let key = format!(
        "{:032x}{:032x}",
        rand::random::<u128>(),
        rand::random::<u128>()
    );
    let path = shared
        .arc_tokens_dir
        .join(format!("{}.key", uuid::Uuid::new_v4()));
    if let Err(e) = std::fs::write(&path, &key) {
        tracing::error!(path = %path.display(), error = %e, "cannot write the Arc key file");
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "unknown",
            "The emulator could not write the key file",
        );
    }
    lock(&shared.arc_keys).insert(key);
    let mut response = error(
        StatusCode::UNAUTHORIZED,
        "unauthorized_client",
        "Missing Basic Authorization header",
    );
    set_header(
        &mut response,
        "www-authenticate",
        &format!("Basic realm={}", path.display()),
    );
    response
}
