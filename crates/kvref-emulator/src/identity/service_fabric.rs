//! Service Fabric's managed identity endpoint (HTTPS, `Secret` header, api-version 2019-07-01-preview).
//!
//! Clients pin the server certificate by `IDENTITY_SERVER_THUMBPRINT` rather than trusting a CA.
//! Errors are `{"error":{"correlationId","code","message"}}`; only the system identity exists.

use axum::body::Body;
use http::{Response, StatusCode};
use serde_json::json;

use super::{Selection, select};
use crate::http::{Req, json, request_id};
use crate::state::Shared;

fn error(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    json(
        status,
        &json!({"error": {"correlationId": request_id(), "code": code, "message": message}}),
    )
}

/// Serves one Service Fabric token request.
pub(crate) fn handle(shared: &Shared, req: &Req) -> Response<Body> {
    match req.header("secret") {
        Some(s) if s == shared.secrets.service_fabric_secret => {}
        Some(_) => {
            return error(
                StatusCode::UNAUTHORIZED,
                "SecretHeaderInvalid",
                "The secret in the request headers is not valid.",
            );
        }
        None => {
            return error(
                StatusCode::BAD_REQUEST,
                "SecretHeaderNotFound",
                "Secret is not found in the request headers.",
            );
        }
    }
    let api_version = req.param("api-version").unwrap_or_default();
    if api_version != "2019-07-01-preview" {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidApiVersion",
            &format!(
                "The api-version '{api_version}' is not supported. Supported version is '2019-07-01-preview'."
            ),
        );
    }
    let Some(resource) = req.param("resource").filter(|r| !r.is_empty()) else {
        return error(
            StatusCode::BAD_REQUEST,
            "ArgumentNullOrEmpty",
            "The parameter 'resource' cannot be null or empty.",
        );
    };
    match select(shared, None, false) {
        Selection::Found(principal) => {
            let (token, _now, exp) = shared.issue_token(&principal, &resource);
            json(
                StatusCode::OK,
                &json!({
                    "token_type": "Bearer",
                    "access_token": token,
                    "expires_on": exp.to_string(),
                    "resource": resource,
                }),
            )
        }
        _ => error(
            StatusCode::BAD_REQUEST,
            "ManagedIdentityNotFound",
            "No managed identity is assigned to this application.",
        ),
    }
}
