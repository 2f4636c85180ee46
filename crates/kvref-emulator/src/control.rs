//! The control API under `/_emulator/` on the HTTP listener: seed secrets, inject faults, read the journal.

use std::collections::BTreeMap;

use axum::body::Body;
use http::{Method, Response, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::config::is_valid_secret_name;
use crate::fault::Fault;
use crate::http::{Req, empty, json};
use crate::state::{Shared, lock};
use crate::store::{NewVersion, VersionPatch};

/// Why a control operation failed: the status to answer and a message without any secret value.
pub(crate) struct ControlError {
    pub(crate) status: StatusCode,
    pub(crate) message: String,
}

impl ControlError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
}

/// Adds a version of a secret; answers its full versioned id.
pub(crate) fn add_version(
    shared: &Shared,
    vault: &str,
    name: &str,
    value: String,
    new: NewVersion,
) -> Result<String, ControlError> {
    if !is_valid_secret_name(name) {
        return Err(ControlError::new(
            StatusCode::BAD_REQUEST,
            format!("secret name {name:?} is not valid: 1-127 letters, digits and dashes"),
        ));
    }
    let mut vaults = lock(&shared.vaults);
    let Some(vault_state) = vaults.get_mut(&vault.to_ascii_lowercase()) else {
        return Err(ControlError::new(
            StatusCode::NOT_FOUND,
            format!("no vault named {vault:?} in this emulator"),
        ));
    };
    let version = vault_state.add_version(name, value, new);
    crate::eventgrid::new_version(shared, vault_state, name);
    let secret_name = vault_state
        .secret(name)
        .map_or_else(|| name.to_owned(), |s| s.name.clone());
    Ok(format!(
        "{}/secrets/{secret_name}/{version}",
        vault_state.base_url()
    ))
}

/// Changes a version's attributes; answers its full versioned id.
pub(crate) fn update_version(
    shared: &Shared,
    vault: &str,
    name: &str,
    version: &str,
    patch: VersionPatch,
) -> Result<String, ControlError> {
    let mut vaults = lock(&shared.vaults);
    let Some(vault_state) = vaults.get_mut(&vault.to_ascii_lowercase()) else {
        return Err(ControlError::new(
            StatusCode::NOT_FOUND,
            format!("no vault named {vault:?} in this emulator"),
        ));
    };
    let base = vault_state.base_url();
    let Some(secret) = vault_state.secret_mut(name) else {
        return Err(ControlError::new(
            StatusCode::NOT_FOUND,
            format!("no secret named {name:?} in vault {vault:?}"),
        ));
    };
    let secret_name = secret.name.clone();
    let Some(target) = secret.version_mut(version) else {
        return Err(ControlError::new(
            StatusCode::NOT_FOUND,
            format!("no version {version:?} of secret {name:?} in vault {vault:?}"),
        ));
    };
    target.apply(patch);
    Ok(format!("{base}/secrets/{secret_name}/{}", target.id))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewSecretBody {
    value: String,
    #[serde(default)]
    enabled: Option<bool>,
    #[serde(default, alias = "contentType")]
    content_type: Option<String>,
    #[serde(default)]
    tags: Option<BTreeMap<String, String>>,
    #[serde(default)]
    nbf: Option<i64>,
    #[serde(default)]
    exp: Option<i64>,
}

fn failure(status: StatusCode, message: &str) -> Response<Body> {
    json(status, &json!({"error": message}))
}

fn parse<T: for<'de> Deserialize<'de>>(req: &Req) -> Result<T, Box<Response<Body>>> {
    serde_json::from_slice(&req.body).map_err(|e| {
        // serde_json quotes the offending value in type errors, and bodies carry secrets.
        Box::new(failure(
            StatusCode::BAD_REQUEST,
            &format!(
                "invalid JSON body: {}",
                crate::config::without_values(&e.to_string())
            ),
        ))
    })
}

/// Serves one control request: Event Grid's (which wait on a handshake) or the others.
pub(crate) async fn serve(shared: &Shared, req: &Req) -> Response<Body> {
    match crate::eventgrid::handle(shared, req).await {
        Some(response) => response,
        None => handle(shared, req),
    }
}

/// Serves one control request (`path` is below `/_emulator/`).
pub(crate) fn handle(shared: &Shared, req: &Req) -> Response<Body> {
    let rest = req
        .path
        .trim_start_matches("/_emulator/")
        .trim_end_matches('/');
    let segments: Vec<&str> = rest.split('/').collect();
    match (&req.method, segments.as_slice()) {
        (&Method::GET, ["info"]) => json(StatusCode::OK, &shared.info),
        (&Method::POST, ["vaults", vault, "secrets", name]) => {
            let body: NewSecretBody = match parse(req) {
                Ok(body) => body,
                Err(response) => return *response,
            };
            let new = NewVersion {
                version: None,
                enabled: body.enabled,
                content_type: body.content_type,
                tags: body.tags,
                nbf: body.nbf,
                exp: body.exp,
            };
            match add_version(shared, vault, name, body.value, new) {
                Ok(id) => json(StatusCode::CREATED, &json!({"id": id})),
                Err(e) => failure(e.status, &e.message),
            }
        }
        (&Method::PATCH, ["vaults", vault, "secrets", name, version]) => {
            let patch: VersionPatch = match parse(req) {
                Ok(patch) => patch,
                Err(response) => return *response,
            };
            match update_version(shared, vault, name, version, patch) {
                Ok(id) => json(StatusCode::OK, &json!({"id": id})),
                Err(e) => failure(e.status, &e.message),
            }
        }
        (&Method::DELETE, ["vaults", vault]) => match crate::vault_gone::delete(shared, vault) {
            Ok(()) => empty(StatusCode::NO_CONTENT),
            Err(e) => failure(e.status, &e.message),
        },
        (&Method::POST, ["vaults", vault, "recover"]) => {
            match crate::vault_gone::recover(shared, vault) {
                Ok(()) => empty(StatusCode::NO_CONTENT),
                Err(e) => failure(e.status, &e.message),
            }
        }
        (&Method::POST, ["faults"]) => {
            let fault: Fault = match parse(req) {
                Ok(fault) => fault,
                Err(response) => return *response,
            };
            if fault.status.is_some_and(|s| !(100..=999).contains(&s)) {
                return failure(
                    StatusCode::BAD_REQUEST,
                    "status must be an HTTP status code (100-999) or null to pass the request through",
                );
            }
            let echo = serde_json::to_value(&fault).unwrap_or(Value::Null);
            lock(&shared.faults).add(fault);
            json(StatusCode::CREATED, &echo)
        }
        (&Method::DELETE, ["faults"]) => {
            lock(&shared.faults).clear();
            empty(StatusCode::NO_CONTENT)
        }
        (&Method::GET, ["requests"]) => {
            let journal = lock(&shared.journal).clone();
            json(
                StatusCode::OK,
                &serde_json::to_value(journal).unwrap_or(Value::Null),
            )
        }
        (&Method::GET, ["connections"]) => {
            let handshakes = lock(&shared.handshakes).clone();
            json(StatusCode::OK, &json!({"tls_handshakes": handshakes}))
        }
        (&Method::DELETE, ["requests"]) => {
            lock(&shared.journal).clear();
            empty(StatusCode::NO_CONTENT)
        }
        _ => failure(
            StatusCode::NOT_FOUND,
            &format!(
                "unknown control request {} {}; see the kvref-emulator README",
                req.method, req.path
            ),
        ),
    }
}
