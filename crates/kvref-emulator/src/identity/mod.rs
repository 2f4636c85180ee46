//! The managed identity endpoints: one module per platform, each with its own quirks.
//!
//! They share only how an identity is chosen and the IMDS-style token body.

pub(crate) mod app_service;
pub(crate) mod arc;
pub(crate) mod cloud_shell;
pub(crate) mod imds;
pub(crate) mod service_fabric;

use serde_json::{Value, json};

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
