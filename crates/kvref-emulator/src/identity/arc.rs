//! Azure Arc's hybrid instance metadata service: a Basic challenge naming a key file, then the token.
//!
//! The first request gets 401 with `WWW-Authenticate: Basic realm=<path of a fresh .key file>`;
//! the client proves it can read that file by sending `Authorization: Basic <file contents>`.
//! Only the system-assigned identity exists on Arc.

use axum::body::Body;
use http::{Response, StatusCode};
use serde_json::json;

use super::{check_api_version, check_metadata_header, required_resource, system_identity_token};
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
    let checked = check_metadata_header(req)
        .and_then(|()| {
            check_api_version(
                req,
                20_190_801,
                "Invalid api-version: use 2019-11-01 or later",
            )
        })
        .and_then(|()| required_resource(req));
    let resource = match checked {
        Ok(resource) => resource,
        Err((status, code, description)) => return error(status, code, description),
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
    // A key is good for one token request, as a fresh challenge is cheap: the set of keys (and
    // key files) stays as small as the number of clients in the middle of the flow.
    let Some(key_file) = lock(&shared.arc_keys).remove(presented) else {
        return error(
            StatusCode::UNAUTHORIZED,
            "unauthorized_client",
            "Invalid Basic Authorization header",
        );
    };
    if let Err(e) = std::fs::remove_file(&key_file) {
        tracing::debug!(path = %key_file.display(), error = %e, "cannot remove a used Arc key file");
    }
    match system_identity_token(shared, &resource) {
        Some(token) => json(StatusCode::OK, &token),
        None => error(
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
    lock(&shared.arc_keys).insert(key, path.clone());
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
