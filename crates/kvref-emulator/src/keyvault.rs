//! The Key Vault secrets data plane: challenge, token and role checks, reads, writes, paging, errors.
//!
//! Bodies, messages and headers follow what the service sends (PROTOCOLS.md section 6).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use http::header::{
    CACHE_CONTROL, EXPIRES, HeaderName, HeaderValue, PRAGMA, STRICT_TRANSPORT_SECURITY,
    X_CONTENT_TYPE_OPTIONS,
};
use http::{Method, Response, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::config::{Cloud, Role, is_valid_secret_name};
use crate::http::{Req, json as json_response, request_id, set_header};
use crate::state::{Shared, lock};
use crate::store::{NewVersion, Vault, VersionPatch, now_secs};
use crate::token::{Claims, TokenProblem};

const NOT_FOUND_HELP: &str = "If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182";

/// Which vault a host names: `(vault name, cloud)`, or `None` for a host outside Key Vault's domains.
pub(crate) fn vault_of_host(host: &str) -> Option<(String, Option<Cloud>)> {
    for cloud in [Cloud::Public, Cloud::China, Cloud::Usgov] {
        if let Some(name) = host.strip_suffix(cloud.dns_suffix()) {
            return Some((name.to_owned(), Some(cloud)));
        }
    }
    host.strip_suffix(".managedhsm.azure.net")
        .map(|name| (name.to_owned(), None))
}

/// Is this host one the Key Vault handler answers?
pub(crate) fn is_vault_host(host: &str) -> bool {
    vault_of_host(host).is_some()
}

fn error_body(code: &str, message: &str, inner: Option<&str>) -> Value {
    match inner {
        Some(inner) => {
            json!({"error": {"code": code, "message": message, "innererror": {"code": inner}}})
        }
        None => json!({"error": {"code": code, "message": message}}),
    }
}

/// What the request asks for.
enum Operation {
    List,
    GetLatest(String),
    GetVersion(String, String),
    ListVersions(String),
    Set(String),
    Update(String, Option<String>),
}

impl Operation {
    fn action(&self) -> &'static str {
        match self {
            Operation::List | Operation::ListVersions(_) => {
                "Microsoft.KeyVault/vaults/secrets/readMetadata/action"
            }
            Operation::GetLatest(_) | Operation::GetVersion(..) => {
                "Microsoft.KeyVault/vaults/secrets/getSecret/action"
            }
            Operation::Set(_) => "Microsoft.KeyVault/vaults/secrets/setSecret/action",
            Operation::Update(..) => "Microsoft.KeyVault/vaults/secrets/writeMetadata/action",
        }
    }

    fn writes(&self) -> bool {
        matches!(self, Operation::Set(_) | Operation::Update(..))
    }

    fn secret_name(&self) -> Option<&str> {
        match self {
            Operation::List => None,
            Operation::GetLatest(n)
            | Operation::GetVersion(n, _)
            | Operation::ListVersions(n)
            | Operation::Set(n)
            | Operation::Update(n, _) => Some(n),
        }
    }
}

enum Route {
    Op(Operation),
    MethodNotAllowed,
    NotFound,
}

fn route(method: &Method, path: &str) -> Route {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let get = method == Method::GET;
    match segments.as_slice() {
        ["secrets"] | ["secrets", ""] => {
            if get {
                Route::Op(Operation::List)
            } else {
                Route::MethodNotAllowed
            }
        }
        ["secrets", name] | ["secrets", name, ""] => {
            let name = (*name).to_owned();
            match *method {
                Method::GET => Route::Op(Operation::GetLatest(name)),
                Method::PUT => Route::Op(Operation::Set(name)),
                Method::PATCH => Route::Op(Operation::Update(name, None)),
                _ => Route::MethodNotAllowed,
            }
        }
        ["secrets", name, "versions"] | ["secrets", name, "versions", ""] => {
            if get {
                Route::Op(Operation::ListVersions((*name).to_owned()))
            } else {
                Route::MethodNotAllowed
            }
        }
        ["secrets", name, version] | ["secrets", name, version, ""] => {
            let (name, version) = ((*name).to_owned(), (*version).to_owned());
            match *method {
                Method::GET => Route::Op(Operation::GetVersion(name, version)),
                Method::PATCH => Route::Op(Operation::Update(name, Some(version))),
                _ => Route::MethodNotAllowed,
            }
        }
        _ => Route::NotFound,
    }
}

/// Accepts the `7.x` and date-based api-versions Key Vault knows.
fn is_known_api_version(v: &str) -> bool {
    let (base, preview) = match v.split_once("-preview") {
        Some((base, rest)) => (base, Some(rest)),
        None => (v, None),
    };
    let preview_ok = preview.is_none_or(|rest| {
        rest.is_empty() || (rest.starts_with('.') && rest[1..].bytes().all(|b| b.is_ascii_digit()))
    });
    let dotted = base
        .split_once('.')
        .is_some_and(|(a, b)| a == "7" && !b.is_empty() && b.bytes().all(|c| c.is_ascii_digit()));
    let dated = base.len() == 10
        && base.bytes().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                c == b'-'
            } else {
                c.is_ascii_digit()
            }
        });
    preview_ok && (dotted || dated || base == "2016-10-01")
}

/// Serves one Key Vault request.
pub(crate) fn handle(shared: &Shared, req: &Req) -> Response<Body> {
    let mut response = serve(shared, req);
    let headers = response.headers_mut();
    for (name, value) in EVERY_ANSWER {
        headers.insert(name, value);
    }
    if let Ok(id) = HeaderValue::try_from(request_id()) {
        headers.insert(REQUEST_ID, id);
    }
    if let Some(client_request_id) = req.headers.get(CLIENT_REQUEST_ID) {
        headers.insert(CLIENT_REQUEST_ID, client_request_id.clone());
    }
    response
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-ms-request-id");
const CLIENT_REQUEST_ID: HeaderName = HeaderName::from_static("x-ms-client-request-id");

/// The headers Key Vault puts on every answer.
const EVERY_ANSWER: [(HeaderName, HeaderValue); 7] = [
    (CACHE_CONTROL, HeaderValue::from_static("no-cache")),
    (PRAGMA, HeaderValue::from_static("no-cache")),
    (EXPIRES, HeaderValue::from_static("-1")),
    (
        HeaderName::from_static("x-ms-keyvault-service-version"),
        HeaderValue::from_static("1.9.2731.1"),
    ),
    (
        HeaderName::from_static("x-ms-keyvault-network-info"),
        HeaderValue::from_static("conn_type=Ipv4;addr=127.0.0.1;act_addr_fam=InterNetwork;"),
    ),
    (
        STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=31536000;includeSubDomains"),
    ),
    (X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
];

fn serve(shared: &Shared, req: &Req) -> Response<Body> {
    let host = req.host_name();
    let Some((name, cloud)) = vault_of_host(&host) else {
        return vault_not_found(&host);
    };
    // Outside the vaults' lock: checking a token needs no vault, and the lock serializes every
    // vault's requests.
    let presented = authenticate(shared, req);
    let mut vaults = lock(&shared.vaults);
    let Some(vault) = vaults
        .get_mut(&name)
        .filter(|v| Some(v.cloud) == cloud && !name.contains('.'))
    else {
        return vault_not_found(&host);
    };
    let limit = shared.config.throttle;
    if let Err(retry_after) = vault.window.admit(limit.requests, limit.window_secs) {
        let mut response = json_response(
            StatusCode::TOO_MANY_REQUESTS,
            &error_body(
                "Throttled",
                "Request was not processed because too many requests were received. Reason: VaultRequestTypeLimitReached",
                None,
            ),
        );
        set_header(&mut response, "retry-after", &retry_after.to_string());
        return with_region(response, vault);
    }
    let response = serve_in_vault(shared, vault, req, presented);
    with_region(response, vault)
}

fn with_region(mut response: Response<Body>, vault: &Vault) -> Response<Body> {
    set_header(&mut response, "x-ms-keyvault-region", &vault.location);
    response
}

fn vault_not_found(host: &str) -> Response<Body> {
    // In Azure an unknown vault's DNS name does not resolve; the emulator answers instead, with a
    // code of its own that says so.
    json_response(
        StatusCode::NOT_FOUND,
        &error_body(
            "VaultNotFound",
            &format!(
                "No vault answers at {host}: the emulator has no such vault (in Azure this host name would not resolve)."
            ),
            None,
        ),
    )
}

fn challenge(shared: &Shared, vault: &Vault, message: &str) -> Response<Body> {
    let mut response = json_response(
        StatusCode::UNAUTHORIZED,
        &error_body("Unauthorized", message, None),
    );
    let header = format!(
        "Bearer authorization=\"{}/{}\", resource=\"{}\"",
        vault.cloud.authority(),
        shared.tenant_id(),
        vault.cloud.resource()
    );
    set_header(&mut response, "www-authenticate", &header);
    response
}

/// What the request's `Authorization` header presents.
enum Presented {
    /// No bearer token.
    Nothing,
    /// A token this process signed, unexpired.
    Token(Arc<Claims>),
    /// A token that is not accepted.
    Refused(TokenProblem),
}

fn authenticate(shared: &Shared, req: &Req) -> Presented {
    let token = match req.header("authorization").and_then(|a| a.split_once(' ')) {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
        _ => return Presented::Nothing,
    };
    match shared.issuer.verify(token, now_secs()) {
        Ok(claims) => Presented::Token(claims),
        Err(problem) => Presented::Refused(problem),
    }
}

fn serve_in_vault(
    shared: &Shared,
    vault: &mut Vault,
    req: &Req,
    presented: Presented,
) -> Response<Body> {
    // Authentication first: an unauthenticated request learns nothing but the challenge.
    let claims = match presented {
        Presented::Token(claims) => claims,
        Presented::Nothing => {
            return challenge(
                shared,
                vault,
                "AKV10000: Request is missing a Bearer or PoP token.",
            );
        }
        Presented::Refused(TokenProblem::Expired) => {
            return challenge(
                shared,
                vault,
                "AKV10022: Token validation failed: the token has expired.",
            );
        }
        Presented::Refused(TokenProblem::Invalid) => {
            return challenge(
                shared,
                vault,
                "AKV10022: Token validation failed: the token is malformed or its signature is not valid.",
            );
        }
    };
    let expected = vault.cloud.resource();
    if claims.aud.trim_end_matches('/') != expected {
        return challenge(
            shared,
            vault,
            &format!(
                "AKV10022: Invalid audience. Expected {expected}, found: {}.",
                claims.aud
            ),
        );
    }

    let operation = match route(&req.method, &req.path) {
        Route::Op(op) => op,
        Route::MethodNotAllowed => {
            return json_response(
                StatusCode::METHOD_NOT_ALLOWED,
                &error_body(
                    "MethodNotAllowed",
                    &format!("HTTP {} not allowed", req.method),
                    None,
                ),
            );
        }
        Route::NotFound => {
            return json_response(
                StatusCode::NOT_FOUND,
                &error_body(
                    "NotFound",
                    &format!(
                        "The requested path {} is not served by this emulator.",
                        req.path
                    ),
                    None,
                ),
            );
        }
    };

    let Some(api_version) = req.param("api-version") else {
        return json_response(
            StatusCode::BAD_REQUEST,
            &error_body(
                "BadParameter",
                "The request is missing the required 'api-version' query parameter.",
                None,
            ),
        );
    };
    if !is_known_api_version(&api_version) {
        return json_response(
            StatusCode::BAD_REQUEST,
            &error_body(
                "BadParameter",
                &format!(
                    "The specified version ({api_version}) is not recognized. Consider using the latest supported version (2025-07-01)."
                ),
                None,
            ),
        );
    }

    if let Some(name) = operation.secret_name()
        && !is_valid_secret_name(name)
    {
        return json_response(
            StatusCode::BAD_REQUEST,
            &error_body(
                "BadParameter",
                &format!("The request URI contains an invalid name: {name}"),
                None,
            ),
        );
    }

    let role = shared.role_of(&claims.oid, &vault.name);
    let allowed = match role {
        Some(Role::SecretsOfficer) => true,
        Some(Role::SecretsUser) => !operation.writes(),
        None => false,
    };
    if !allowed {
        let resource = match operation.secret_name() {
            Some(name) => format!(
                "/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/kvref-emulator/providers/microsoft.keyvault/vaults/{}/secrets/{}",
                vault.name,
                name.to_ascii_lowercase()
            ),
            None => format!(
                "/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/kvref-emulator/providers/microsoft.keyvault/vaults/{}",
                vault.name
            ),
        };
        let message = format!(
            "Caller is not authorized to perform action on resource.\r\nIf role assignments, deny assignments or role definitions were changed recently, please observe propagation time.\r\nCaller: appid={};oid={};iss={}\r\nAction: '{}'\r\nResource: '{}'\r\nAssignment: (not found)\r\nDenyAssignmentId: null\r\nDecisionReason: 'DeniedWithNoValidRBAC' \r\nVault: {};location={}\r\n",
            claims.appid,
            claims.oid,
            claims.iss,
            operation.action(),
            resource,
            vault.name,
            vault.location
        );
        return json_response(
            StatusCode::FORBIDDEN,
            &error_body("Forbidden", &message, Some("ForbiddenByRbac")),
        );
    }

    let base = vault.base_url();
    match operation {
        Operation::GetLatest(name) => get(vault, &base, &name, None),
        Operation::GetVersion(name, version) => get(vault, &base, &name, Some(&version)),
        Operation::ListVersions(name) => list_versions(vault, &base, &name, req, &api_version),
        Operation::List => list(vault, &base, req, &api_version),
        Operation::Set(name) => {
            let response = set(vault, &base, &name, req);
            if response.status() == StatusCode::OK {
                crate::eventgrid::new_version(shared, vault, &name);
            }
            response
        }
        Operation::Update(name, version) => update(vault, &base, &name, version.as_deref(), req),
    }
}

fn not_found(name: &str, version: Option<&str>) -> Response<Body> {
    let what = match version {
        Some(version) => format!("{name}/{version}"),
        None => name.to_owned(),
    };
    json_response(
        StatusCode::NOT_FOUND,
        &error_body(
            "SecretNotFound",
            &format!(
                "A secret with (name/id) {what} was not found in this key vault. {NOT_FOUND_HELP}"
            ),
            None,
        ),
    )
}

fn get(vault: &Vault, base: &str, name: &str, version: Option<&str>) -> Response<Body> {
    let Some(secret) = vault.secret(name) else {
        return not_found(name, version);
    };
    let found = match version {
        Some(v) => secret.version(v),
        None => secret.latest(),
    };
    let Some(found) = found else {
        return not_found(name, version);
    };
    if !found.enabled {
        return json_response(
            StatusCode::FORBIDDEN,
            &error_body(
                "Forbidden",
                "Operation get is not allowed on a disabled secret.",
                Some("SecretDisabled"),
            ),
        );
    }
    let id = format!("{base}/secrets/{}/{}", secret.name, found.id);
    json_response(StatusCode::OK, &found.bundle(id, true))
}

/// Reads `maxresults` (1-25, default 25) and the skip token (an offset).
fn paging(req: &Req) -> Result<(usize, usize), Box<Response<Body>>> {
    let max = match req.param("maxresults") {
        None => 25,
        Some(text) => match text.parse::<usize>() {
            Ok(n) if (1..=25).contains(&n) => n,
            _ => {
                return Err(Box::new(json_response(
                    StatusCode::BAD_REQUEST,
                    &error_body(
                        "BadParameter",
                        &format!(
                            "Invalid value for maxresults: '{text}'. It must be between 1 and 25."
                        ),
                        None,
                    ),
                )));
            }
        },
    };
    let skip = req
        .param("$skiptoken")
        .and_then(|t| t.parse::<usize>().ok())
        .unwrap_or(0);
    Ok((max, skip))
}

fn page<T: serde::Serialize>(
    items: Vec<T>,
    skip: usize,
    max: usize,
    next_base: String,
    api_version: &str,
) -> Response<Body> {
    let total = items.len();
    let value: Vec<T> = items.into_iter().skip(skip).take(max).collect();
    // The skip token comes from the client: any number, so no overflow.
    let next_skip = skip.saturating_add(max);
    let next = if next_skip < total {
        Value::String(format!(
            "{next_base}?api-version={api_version}&$skiptoken={next_skip}&maxresults={max}"
        ))
    } else {
        Value::Null
    };
    json_response(StatusCode::OK, &json!({"value": value, "nextLink": next}))
}

fn list_versions(
    vault: &Vault,
    base: &str,
    name: &str,
    req: &Req,
    api_version: &str,
) -> Response<Body> {
    let (max, skip) = match paging(req) {
        Ok(p) => p,
        Err(response) => return *response,
    };
    let items = match vault.secret(name) {
        Some(secret) => secret
            .versions
            .iter()
            .map(|v| v.bundle(format!("{base}/secrets/{}/{}", secret.name, v.id), false))
            .collect(),
        None => Vec::new(),
    };
    let next_base = match vault.secret(name) {
        Some(secret) => format!("{base}/secrets/{}/versions", secret.name),
        None => format!("{base}/secrets/{name}/versions"),
    };
    page(items, skip, max, next_base, api_version)
}

fn list(vault: &Vault, base: &str, req: &Req, api_version: &str) -> Response<Body> {
    let (max, skip) = match paging(req) {
        Ok(p) => p,
        Err(response) => return *response,
    };
    let items = vault
        .secrets
        .values()
        .filter_map(|secret| {
            secret
                .latest()
                .map(|v| v.bundle(format!("{base}/secrets/{}", secret.name), false))
        })
        .collect();
    page(items, skip, max, format!("{base}/secrets"), api_version)
}

#[derive(Default, Deserialize)]
struct AttributesBody {
    #[serde(default)]
    enabled: Option<bool>,
    #[serde(default)]
    nbf: Option<i64>,
    #[serde(default)]
    exp: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SetBody {
    value: Option<String>,
    #[serde(default)]
    content_type: Option<String>,
    #[serde(default)]
    tags: Option<BTreeMap<String, String>>,
    #[serde(default)]
    attributes: Option<AttributesBody>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpdateBody {
    #[serde(default)]
    content_type: Option<String>,
    #[serde(default)]
    tags: Option<BTreeMap<String, String>>,
    #[serde(default)]
    attributes: Option<AttributesBody>,
}

fn bad_body(what: &str) -> Response<Body> {
    json_response(
        StatusCode::BAD_REQUEST,
        &error_body("BadParameter", what, None),
    )
}

fn set(vault: &mut Vault, base: &str, name: &str, req: &Req) -> Response<Body> {
    let body: SetBody = match serde_json::from_slice(&req.body) {
        Ok(body) => body,
        Err(_) => {
            return bad_body(
                "The request body is not a valid secret (JSON with a 'value' string).",
            );
        }
    };
    let Some(value) = body.value else {
        return bad_body("Property 'value' is required.");
    };
    if value.len() > 25 * 1024 {
        return bad_body("The secret value exceeds the maximum size of 25 KB.");
    }
    let attributes = body.attributes.unwrap_or(AttributesBody {
        enabled: None,
        nbf: None,
        exp: None,
    });
    let id = vault.add_version(
        name,
        value,
        NewVersion {
            version: None,
            enabled: attributes.enabled,
            content_type: body.content_type,
            tags: body.tags,
            nbf: attributes.nbf,
            exp: attributes.exp,
        },
    );
    get(vault, base, name, Some(&id))
}

fn update(
    vault: &mut Vault,
    base: &str,
    name: &str,
    version: Option<&str>,
    req: &Req,
) -> Response<Body> {
    let body: UpdateBody = match serde_json::from_slice(&req.body) {
        Ok(body) => body,
        Err(_) => return bad_body("The request body is not valid JSON secret attributes."),
    };
    let Some(secret) = vault.secret_mut(name) else {
        return not_found(name, version);
    };
    let secret_name = secret.name.clone();
    let target = match version {
        Some(v) => secret.version_mut(v),
        None => secret.versions.last_mut(),
    };
    let Some(target) = target else {
        return not_found(name, version);
    };
    let attributes = body.attributes.unwrap_or_default();
    target.apply(VersionPatch {
        enabled: attributes.enabled,
        content_type: body.content_type,
        tags: body.tags,
        nbf: attributes.nbf,
        exp: attributes.exp,
    });
    let id = format!("{base}/secrets/{secret_name}/{}", target.id);
    json_response(StatusCode::OK, &target.bundle(id, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_versions() {
        for ok in [
            "7.0",
            "7.4-preview.1",
            "7.6",
            "2025-07-01",
            "2026-03-01-preview",
            "2016-10-01",
        ] {
            assert!(is_known_api_version(ok), "{ok}");
        }
        for bad in ["", "7", "x.5", "2025-7-01", "latest", "7.5-beta"] {
            assert!(!is_known_api_version(bad), "{bad}");
        }
    }

    #[test]
    fn hosts() {
        assert_eq!(
            vault_of_host("myvault.vault.azure.net"),
            Some(("myvault".into(), Some(Cloud::Public)))
        );
        assert_eq!(
            vault_of_host("x.vault.usgovcloudapi.net"),
            Some(("x".into(), Some(Cloud::Usgov)))
        );
        assert_eq!(vault_of_host("localhost"), None);
    }
}
