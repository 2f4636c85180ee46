//! The managed identity endpoints: one module per platform, each with its own quirks.
//!
//! They share how an identity is chosen, the IMDS-style token body, and the request checks IMDS and
//! Arc (a copy of the IMDS protocol) make in the same words.

pub(crate) mod app_service;
pub(crate) mod arc;
pub(crate) mod cloud_shell;
pub(crate) mod imds;
pub(crate) mod service_fabric;

use http::StatusCode;
use serde_json::{Value, json};

use crate::http::Req;
use crate::state::{Principal, Shared};

/// How a request names a user-assigned identity.
#[allow(clippy::enum_variant_names)] // the names say which id, as Azure spells them
pub(crate) enum Selector {
    ClientId(String),
    ObjectId(String),
    ResourceId(String),
}

/// The outcome of choosing an identity.
pub(crate) enum Selection {
    Found(Principal),
    /// A selector was given and matches no identity of this app.
    NotFound,
    /// No selector, and the app has no identity to default to.
    NoIdentity,
    /// No selector, no system identity and several user-assigned ones.
    Ambiguous,
}

/// Chooses the identity a request names. `single_uami_default`: IMDS's quirk of answering with the
/// only user-assigned identity when there is no system-assigned one.
pub(crate) fn select(
    shared: &Shared,
    selector: Option<Selector>,
    single_uami_default: bool,
) -> Selection {
    let uamis = shared.user_assigned();
    let system = shared.config.system_identity.as_ref();
    let mut all = system.into_iter().chain(uamis.iter());
    let found = match &selector {
        None => {
            if let Some(system) = system {
                return Selection::Found(system.into());
            }
            return match uamis {
                [] => Selection::NoIdentity,
                [only] if single_uami_default => Selection::Found(only.into()),
                [_] => Selection::NoIdentity,
                _ => Selection::Ambiguous,
            };
        }
        Some(Selector::ClientId(id)) => all.find(|i| i.client_id.eq_ignore_ascii_case(id)),
        Some(Selector::ObjectId(id)) => all.find(|i| i.object_id.eq_ignore_ascii_case(id)),
        Some(Selector::ResourceId(id)) => all.find(|i| {
            i.resource_id
                .as_deref()
                .is_some_and(|r| r.eq_ignore_ascii_case(id))
        }),
    };
    match found {
        Some(identity) => Selection::Found(identity.into()),
        None => Selection::NotFound,
    }
}

/// The IMDS-style token body for the system-assigned identity: Arc and Cloud Shell have no other.
pub(crate) fn system_identity_token(shared: &Shared, resource: &str) -> Option<Value> {
    match select(shared, None, false) {
        Selection::Found(principal) => Some(imds_style_token(shared, &principal, resource)),
        _ => None,
    }
}

/// Why IMDS or Arc refuses a request: the status, `error` and `error_description`.
pub(crate) type ImdsRefusal = (StatusCode, &'static str, &'static str);

/// IMDS and Arc first require `Metadata: true` (lower-case value), before reading the query.
pub(crate) fn check_metadata_header(req: &Req) -> Result<(), ImdsRefusal> {
    if req.header("metadata") != Some("true") {
        return Err((
            StatusCode::BAD_REQUEST,
            "bad_request_102",
            "Required metadata header not specified",
        ));
    }
    Ok(())
}

/// IMDS and Arc require an api-version of the form `YYYY-MM-DD`, no older than `oldest`
/// (`YYYYMMDD`); `too_old` tells the client which version to use.
pub(crate) fn check_api_version(
    req: &Req,
    oldest: u32,
    too_old: &'static str,
) -> Result<(), ImdsRefusal> {
    let Some(api_version) = req.param("api-version") else {
        return Err((
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Required query variable 'api-version' is missing",
        ));
    };
    if date_version(&api_version).is_none_or(|v| v < oldest) {
        return Err((StatusCode::BAD_REQUEST, "invalid_request", too_old));
    }
    Ok(())
}

/// IMDS and Arc require a non-empty `resource` (the audience), echoed as given.
pub(crate) fn required_resource(req: &Req) -> Result<String, ImdsRefusal> {
    req.param("resource").filter(|r| !r.is_empty()).ok_or((
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "Required audience parameter not specified",
    ))
}

/// The IMDS token body: every value a JSON string, `resource` echoed as requested.
pub(crate) fn imds_style_token(shared: &Shared, principal: &Principal, resource: &str) -> Value {
    let (token, now, exp) = shared.issue_token(principal, resource);
    let lifetime = (exp - now).to_string();
    json!({
        "access_token": token,
        "client_id": principal.client_id,
        "expires_in": lifetime,
        "expires_on": exp.to_string(),
        "ext_expires_in": lifetime,
        "not_before": now.to_string(),
        "resource": resource,
        "token_type": "Bearer",
    })
}

/// Reads an api-version of the form `YYYY-MM-DD` into a comparable number.
pub(crate) fn date_version(v: &str) -> Option<u32> {
    let digits: String = v.get(..10)?.chars().filter(|c| *c != '-').collect();
    if digits.len() != 8 || v.get(4..5) != Some("-") || v.get(7..8) != Some("-") {
        return None;
    }
    digits.parse().ok()
}
