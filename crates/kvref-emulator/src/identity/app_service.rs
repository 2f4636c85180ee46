//! App Service, Functions and Container Apps: api-version 2019-08-01 (`IDENTITY_ENDPOINT` +
//! `X-IDENTITY-HEADER`) and the legacy 2017-09-01 (`MSI_ENDPOINT` + `secret` header).
//!
//! Quirks kept: no `expires_in`, `expires_on` a string of epoch seconds (2019-08-01) or a date
//! string like `11/05/2021 15:18:31 +00:00` (2017-09-01), errors `{"statusCode","message","correlationId"}`.

use axum::body::Body;
use http::{Response, StatusCode};
use serde_json::json;

use super::{Selection, Selector, select};
use crate::config::LegacyExpiresOn;
use crate::http::{Req, json, request_id, set_header};
use crate::state::Shared;

fn error(status: StatusCode, message: &str) -> Response<Body> {
    let mut response = json(
        status,
        &json!({"statusCode": status.as_u16(), "message": message, "correlationId": request_id()}),
    );
    set_header(&mut response, "server", "Kestrel");
    response
}

fn selection_error(selection: &Selection) -> Response<Body> {
    match selection {
        Selection::NotFound => error(
            StatusCode::BAD_REQUEST,
            "No Managed Identity found for specified ClientId/ResourceId/PrincipalId.",
        ),
        _ => error(
            StatusCode::BAD_REQUEST,
            "Unable to load the proper Managed Identity.",
        ),
    }
}

fn resource_of(req: &Req) -> Option<String> {
    req.param("resource").filter(|r| !r.is_empty())
}

/// Serves one api-version 2019-08-01 request.
pub(crate) fn handle(shared: &Shared, req: &Req) -> Response<Body> {
    match req.header("x-identity-header") {
        Some(h) if h == shared.secrets.identity_header => {}
        Some(_) => {
            return error(
                StatusCode::UNAUTHORIZED,
                "The X-IDENTITY-HEADER value is not valid.",
            );
        }
        None => {
            return error(
                StatusCode::BAD_REQUEST,
                "The X-IDENTITY-HEADER header is required.",
            );
        }
    }
    match req.param("api-version").as_deref() {
        Some("2019-08-01") => {}
        Some(other) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("The api-version '{other}' is not supported; use 2019-08-01."),
            );
        }
        None => {
            return error(
                StatusCode::BAD_REQUEST,
                "The api-version query parameter is required; use 2019-08-01.",
            );
        }
    }
    let Some(resource) = resource_of(req) else {
        return error(
            StatusCode::BAD_REQUEST,
            "The resource query parameter is required.",
        );
    };
    let mut selectors = Vec::new();
    for (name, value) in req.params() {
        match name.as_str() {
            "client_id" => selectors.push(Selector::ClientId(value)),
            "principal_id" | "object_id" => selectors.push(Selector::ObjectId(value)),
            "mi_res_id" => selectors.push(Selector::ResourceId(value)),
            _ => {}
        }
    }
    if selectors.len() > 1 {
        return error(
            StatusCode::BAD_REQUEST,
            "Only one of client_id, principal_id, object_id or mi_res_id may be specified.",
        );
    }
    let principal = match select(shared, selectors.pop(), false) {
        Selection::Found(principal) => principal,
        other => return selection_error(&other),
    };
    let (token, _now, exp) = shared.issue_token(&principal, &resource);
    let mut response = json(
        StatusCode::OK,
        &json!({
            "access_token": token,
            "expires_on": exp.to_string(),
            "resource": resource,
            "token_type": "Bearer",
            "client_id": principal.client_id,
        }),
    );
    set_header(&mut response, "server", "Kestrel");
    response
}

/// Serves one legacy api-version 2017-09-01 request.
pub(crate) fn handle_legacy(shared: &Shared, req: &Req) -> Response<Body> {
    match req.header("secret") {
        Some(s) if s == shared.secrets.msi_secret => {}
        Some(_) => {
            return error(
                StatusCode::UNAUTHORIZED,
                "The secret header value is not valid.",
            );
        }
        None => {
            return error(StatusCode::BAD_REQUEST, "The secret header is required.");
        }
    }
    match req.param("api-version").as_deref() {
        Some("2017-09-01") => {}
        Some(other) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("The api-version '{other}' is not supported; use 2017-09-01."),
            );
        }
        None => {
            return error(
                StatusCode::BAD_REQUEST,
                "The api-version query parameter is required; use 2017-09-01.",
            );
        }
    }
    let Some(resource) = resource_of(req) else {
        return error(
            StatusCode::BAD_REQUEST,
            "The resource query parameter is required.",
        );
    };
    let selector = req.param("clientid").map(Selector::ClientId);
    let principal = match select(shared, selector, false) {
        Selection::Found(principal) => principal,
        other => return selection_error(&other),
    };
    let (token, _now, exp) = shared.issue_token(&principal, &resource);
    let expires_on = match shared.config.legacy_expires_on {
        LegacyExpiresOn::Date => jiff::Timestamp::from_second(exp)
            .map(|t| t.strftime("%m/%d/%Y %H:%M:%S +00:00").to_string())
            .unwrap_or_default(),
        LegacyExpiresOn::Epoch => exp.to_string(),
    };
    let mut response = json(
        StatusCode::OK,
        &json!({
            "access_token": token,
            "expires_on": expires_on,
            "resource": resource,
            "token_type": "Bearer",
        }),
    );
    set_header(&mut response, "server", "Kestrel");
    response
}
