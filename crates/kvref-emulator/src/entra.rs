//! Entra ID (v2): the client-credentials token endpoint and the discovery documents MSAL reads first.
//!
//! The keys document (`discovery/v2.0/keys`) publishes one RSA key of this process, with which
//! [`sign`] makes tokens shaped like the ones Entra gives Event Grid for protected webhook
//! delivery, so that a receiver's validation runs against real RS256 signatures.
//!
//! Quirks kept: numeric `expires_in`/`ext_expires_in`, AADSTS error bodies with `error_codes`,
//! `trace_id`, `correlation_id`, `timestamp` and `error_uri`.

use axum::body::Body;
use http::{Method, Response, StatusCode};
use serde_json::{Value, json};

use std::sync::OnceLock;

use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, EncodingKey, Header};

use crate::http::{Req, json, request_id};
use crate::state::{Principal, Shared};

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

fn aadsts(status: StatusCode, error: &str, code: u32, description: &str) -> Response<Body> {
    let trace_id = request_id();
    let correlation_id = request_id();
    let timestamp = jiff::Timestamp::now()
        .strftime("%Y-%m-%d %H:%M:%SZ")
        .to_string();
    json(
        status,
        &json!({
            "error": error,
            "error_description": format!(
                "AADSTS{code}: {description}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}\r\nTimestamp: {timestamp}"
            ),
            "error_codes": [code],
            "timestamp": timestamp,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": format!("https://login.microsoftonline.com/error?code={code}"),
        }),
    )
}

/// The `https://host:port` the client used, for discovery documents that point back at us.
fn origin(req: &Req) -> String {
    format!("https://{}", req.host)
}

/// Serves one request on the Entra host.
pub(crate) fn handle(shared: &Shared, req: &Req) -> Response<Body> {
    let segments: Vec<&str> = req.path.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        [tenant, "oauth2", "v2.0", "token"] => token(shared, req, tenant),
        [tenant, "v2.0", ".well-known", "openid-configuration"]
        | [tenant, ".well-known", "openid-configuration"] => {
            openid_configuration(shared, req, tenant)
        }
        [_, "discovery", "instance"] => instance_discovery(shared, req),
        [_, "discovery", "v2.0", "keys"] | [_, "discovery", "keys"] => match signer() {
            Ok(signer) => json(StatusCode::OK, &signer.keys),
            Err(e) => json(
                StatusCode::INTERNAL_SERVER_ERROR,
                &json!({"error": "server_error", "error_description": e}),
            ),
        },
        _ => json(
            StatusCode::NOT_FOUND,
            &json!({"error": "not_found", "error_description": format!("The emulator does not serve {}.", req.path)}),
        ),
    }
}

fn tenant_matches(shared: &Shared, tenant: &str) -> bool {
    tenant.eq_ignore_ascii_case(shared.tenant_id()) || matches!(tenant, "organizations" | "common")
}

fn tenant_not_found(tenant: &str) -> Response<Body> {
    aadsts(
        StatusCode::BAD_REQUEST,
        "invalid_tenant",
        90002,
        &format!(
            "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant."
        ),
    )
}

fn openid_configuration(shared: &Shared, req: &Req, tenant: &str) -> Response<Body> {
    if !tenant_matches(shared, tenant) {
        return tenant_not_found(tenant);
    }
    let origin = origin(req);
    let t = shared.tenant_id();
    json(
        StatusCode::OK,
        &json!({
            "token_endpoint": format!("{origin}/{t}/oauth2/v2.0/token"),
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": format!("{origin}/{t}/discovery/v2.0/keys"),
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": format!("{origin}/{t}/v2.0"),
            "request_uri_parameter_supported": false,
            "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
            "authorization_endpoint": format!("{origin}/{t}/oauth2/v2.0/authorize"),
            "device_authorization_endpoint": format!("{origin}/{t}/oauth2/v2.0/devicecode"),
            "http_logout_supported": true,
            "frontchannel_logout_supported": true,
            "end_session_endpoint": format!("{origin}/{t}/oauth2/v2.0/logout"),
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "tid", "oid"],
            "kerberos_endpoint": format!("{origin}/{t}/kerberos"),
            "tenant_region_scope": "NA",
            "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": "graph.microsoft.com",
            "rbac_url": "https://pas.windows.net",
        }),
    )
}

fn instance_discovery(shared: &Shared, req: &Req) -> Response<Body> {
    let host = req.host.clone();
    let origin = origin(req);
    json(
        StatusCode::OK,
        &json!({
            "tenant_discovery_endpoint": format!("{origin}/{}/v2.0/.well-known/openid-configuration", shared.tenant_id()),
            "api-version": "1.1",
            "metadata": [{
                "preferred_network": host,
                "preferred_cache": host,
                "aliases": [host],
            }],
        }),
    )
}

fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

fn token(shared: &Shared, req: &Req, tenant: &str) -> Response<Body> {
    if req.method != Method::POST {
        return aadsts(
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request",
            900561,
            "The endpoint only accepts POST requests. Received a GET request.",
        );
    }
    // A token request names the tenant itself: "common" and "organizations" are for discovery.
    if !tenant.eq_ignore_ascii_case(shared.tenant_id()) {
        return tenant_not_found(tenant);
    }
    let form = req.form();
    match field(&form, "grant_type") {
        Some("client_credentials") => {}
        Some(other) => {
            return aadsts(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                70003,
                &format!("The app requested an unsupported grant type '{other}'."),
            );
        }
        None => {
            return aadsts(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                900144,
                "The request body must contain the following parameter: 'grant_type'.",
            );
        }
    }
    let Some(client_id) = field(&form, "client_id") else {
        return aadsts(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'client_id'.",
        );
    };
    let Some(scope) = field(&form, "scope") else {
        return aadsts(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            70011,
            "The provided request must include a 'scope' input parameter.",
        );
    };
    let default_scopes: Vec<&str> = scope
        .split_whitespace()
        .filter(|s| s.ends_with("/.default"))
        .collect();
    let [resource_scope] = default_scopes.as_slice() else {
        return aadsts(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            70011,
            &format!(
                "The provided value for the input parameter 'scope' is not valid. The scope {scope} is not valid. The client credentials flow needs exactly one scope of the form <resource>/.default."
            ),
        );
    };
    let Some(sp) = shared
        .config
        .service_principals
        .iter()
        .find(|sp| sp.client_id.eq_ignore_ascii_case(client_id))
    else {
        return aadsts(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            &format!(
                "Application with identifier '{client_id}' was not found in the directory '{}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.",
                shared.tenant_id()
            ),
        );
    };
    if let Some(secret) = field(&form, "client_secret") {
        if sp.client_secret.as_deref() != Some(secret) {
            return aadsts(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                7000215,
                &format!(
                    "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{}'.",
                    sp.client_id
                ),
            );
        }
    } else if let Some(assertion) = field(&form, "client_assertion") {
        if field(&form, "client_assertion_type") != Some(ASSERTION_TYPE) {
            return aadsts(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                50027,
                &format!("The client_assertion_type must be '{ASSERTION_TYPE}'."),
            );
        }
        if sp.federated_token.as_deref() != Some(assertion.trim()) {
            return aadsts(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                700211,
                "No matching federated identity record found for presented assertion issuer. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion.",
            );
        }
    } else {
        return aadsts(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        );
    }
    let resource = resource_scope.trim_end_matches("/.default");
    let principal = Principal {
        client_id: sp.client_id.clone(),
        object_id: sp.object_id.clone(),
        resource_id: None,
    };
    let (token, now, exp) = shared.issue_token(&principal, resource);
    let lifetime = Value::from(exp - now);
    json(
        StatusCode::OK,
        &json!({
            "token_type": "Bearer",
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": token,
        }),
    )
}

/// The RSA key of this process and the keys document that publishes it.
struct Signer {
    key: EncodingKey,
    kid: String,
    keys: Value,
}

/// The process's signing key, made on first use (RSA generation takes a moment, and most
/// emulators never sign).
fn signer() -> Result<&'static Signer, String> {
    static SIGNER: OnceLock<Result<Signer, String>> = OnceLock::new();
    SIGNER
        .get_or_init(|| {
            let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256)
                .map_err(|e| format!("RSA key generation failed: {e}"))?;
            let key = EncodingKey::from_rsa_pem(pair.serialize_pem().as_bytes())
                .map_err(|e| format!("RSA key unreadable: {e}"))?;
            let kid = request_id().replace('-', "");
            let mut jwk = Jwk::from_encoding_key(&key, Algorithm::RS256)
                .map_err(|e| format!("RSA key unpublishable: {e}"))?;
            jwk.common.key_id = Some(kid.clone());
            jwk.common.public_key_use = Some(PublicKeyUse::Signature);
            Ok(Signer {
                key,
                kid,
                keys: serde_json::to_value(JwkSet { keys: vec![jwk] })
                    .map_err(|e| format!("keys document: {e}"))?,
            })
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// Signs `claims` (any JSON object) as an RS256 JWT with the key the keys document publishes.
pub(crate) fn sign(claims: &Value) -> Result<String, String> {
    let signer = signer()?;
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(signer.kid.clone());
    jsonwebtoken::encode(&header, claims, &signer.key).map_err(|e| format!("signing failed: {e}"))
}
