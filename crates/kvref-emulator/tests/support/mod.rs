//! Helpers shared by the emulator's conformance tests: fixtures, JSON shapes, tokens.
#![allow(unreachable_pub)]

use std::path::PathBuf;

use kvref_emulator::{Emulator, EmulatorConfig};
use serde_json::Value;

/// The shared fixtures folder (`../shared/fixtures/azure` relative to the workspace root, or an
/// ancestor's `shared/fixtures/azure` from a worktree), when this checkout has one.
pub fn shared_fixtures_dir() -> Option<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.ancestors()
        .map(|dir| dir.join("../shared/fixtures/azure"))
        .find(|dir| dir.is_dir())
}

/// The copy of the fixtures kept in this crate, so a fresh clone can run the tests.
pub fn vendored_fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/azure")
}

/// A recorded Azure body: from the shared fixtures when present, else from the vendored copy.
pub fn fixture(name: &str) -> Value {
    let dir = shared_fixtures_dir().unwrap_or_else(vendored_fixtures_dir);
    let path = dir.join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read fixture {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("fixture {name} is not JSON: {e}"))
}

/// The JSON type of a value, as a word.
pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Replaces every leaf by its type, keeping keys: two bodies of the same shape compare equal.
pub fn shape(v: &Value) -> Value {
    match v {
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), shape(v))).collect())
        }
        Value::Array(items) => Value::Array(items.first().map(shape).into_iter().collect()),
        other => Value::String(kind(other).to_owned()),
    }
}

/// Asserts two bodies have the same keys (recursively) and JSON types.
#[track_caller]
pub fn assert_same_shape(actual: &Value, expected: &Value) {
    assert_eq!(
        shape(actual),
        shape(expected),
        "shape differs\nactual:   {actual}\nexpected: {expected}"
    );
}

pub async fn start() -> Emulator {
    Emulator::start(EmulatorConfig::sample())
        .await
        .expect("emulator starts")
}

pub async fn start_with(toml: &str) -> Emulator {
    Emulator::start(EmulatorConfig::from_toml_str(toml).expect("valid test config"))
        .await
        .expect("emulator starts")
}

/// A plain HTTP client for the identity endpoints and the control API.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
}

/// A token from the App Service endpoint, optionally with extra query (`client_id=...`).
pub async fn app_service_token(emu: &Emulator, resource: &str, extra: &str) -> String {
    let env = emu.env("app_service");
    let mut url = format!(
        "{}?resource={resource}&api-version=2019-08-01",
        env["IDENTITY_ENDPOINT"]
    );
    if !extra.is_empty() {
        url.push('&');
        url.push_str(extra);
    }
    let response = http()
        .get(url)
        .header("X-IDENTITY-HEADER", &env["IDENTITY_HEADER"])
        .send()
        .await
        .expect("app service answers");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    body["access_token"].as_str().expect("token").to_owned()
}

/// GET a Key Vault path with an optional bearer token; answers status, headers and JSON body.
pub async fn kv_get(
    emu: &Emulator,
    vault: &str,
    path_and_query: &str,
    token: Option<&str>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut request = emu
        .client()
        .get(format!("{}{path_and_query}", emu.vault_url(vault)));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    kv_answer(request).await
}

/// Sends a Key Vault request; answers status, headers and the JSON body (`Null` when empty, and
/// a panic when a non-empty body is not JSON: Key Vault always answers JSON).
async fn kv_answer(request: reqwest::RequestBuilder) -> (u16, reqwest::header::HeaderMap, Value) {
    let response = request.send().await.expect("key vault answers");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).expect("json body")
    };
    (status, headers, body)
}

/// The response parts the tests look at: status, headers and the JSON body.
pub type Answer = (u16, reqwest::header::HeaderMap, Value);

/// Sends a request; answers status, headers and the JSON body (`Null` when the body is not JSON).
pub async fn send_json(request: reqwest::RequestBuilder) -> Answer {
    let response = request.send().await.expect("answered");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body");
    (
        status,
        headers,
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}

/// Sends a request and reads its body as JSON, whatever the status.
pub async fn json_body(request: reqwest::RequestBuilder) -> Value {
    request
        .send()
        .await
        .expect("answered")
        .json()
        .await
        .expect("json body")
}

/// The IMDS token endpoint of an emulator.
pub fn imds_url(emu: &Emulator) -> String {
    format!(
        "{}/metadata/identity/oauth2/token",
        emu.env("imds")["AZURE_POD_IDENTITY_AUTHORITY_HOST"]
    )
}

/// The IMDS query for a Key Vault token with the oldest api-version IMDS accepts.
pub const IMDS_VAULT_QUERY: &str = "api-version=2018-02-01&resource=https://vault.azure.net";

/// GET the IMDS token endpoint with `Metadata: true` and the given query.
pub async fn imds_get(base: &str, query: &str) -> Answer {
    send_json(
        http()
            .get(format!("{base}?{query}"))
            .header("Metadata", "true"),
    )
    .await
}

/// A Key Vault token for the app's default identity (App Service endpoint).
pub async fn vault_token(emu: &Emulator) -> String {
    app_service_token(emu, "https://vault.azure.net", "").await
}

/// A Key Vault token for the user-assigned identity with this client id (App Service endpoint).
pub async fn vault_token_for(emu: &Emulator, client_id: &str) -> String {
    app_service_token(
        emu,
        "https://vault.azure.net",
        &format!("client_id={client_id}"),
    )
    .await
}

/// Sends a request and reads its body as text, whatever the status (for byte-exact checks).
pub async fn text_body(request: reqwest::RequestBuilder) -> String {
    request
        .send()
        .await
        .expect("answered")
        .text()
        .await
        .expect("text body")
}

/// The URL of a control API path (`info`, `vaults/...`) on the emulator's plain HTTP port.
pub fn control_url(emu: &Emulator, path: &str) -> String {
    format!("http://{}/_emulator/{path}", emu.http_addr())
}

/// One vault read with one bearer token, so each request names only its path.
pub struct VaultAs<'a> {
    emu: &'a Emulator,
    vault: &'a str,
    token: &'a str,
}

/// Reads `vault` on `emu` presenting `token`.
pub fn vault_as<'a>(emu: &'a Emulator, vault: &'a str, token: &'a str) -> VaultAs<'a> {
    VaultAs { emu, vault, token }
}

impl VaultAs<'_> {
    /// GET a path (with its query) of this vault, as [`kv_get`] with the token.
    pub async fn get(&self, path_and_query: &str) -> Answer {
        kv_get(self.emu, self.vault, path_and_query, Some(self.token)).await
    }

    /// Sends `method` to a path (with its query) of this vault, with an optional JSON body.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path_and_query: &str,
        body: Option<&Value>,
    ) -> Answer {
        let url = format!("{}{path_and_query}", self.emu.vault_url(self.vault));
        let mut request = self
            .emu
            .client()
            .request(method, url)
            .bearer_auth(self.token);
        if let Some(body) = body {
            request = request.json(body);
        }
        kv_answer(request).await
    }

    /// GET the latest version of a secret with api-version 7.5.
    pub async fn secret(&self, name: &str) -> Answer {
        self.get(&format!("/secrets/{name}?api-version=7.5")).await
    }
}

pub const SYSTEM_CLIENT_ID: &str = "3f1b2a4c-5d6e-4f70-8a9b-0c1d2e3f4a5b";
pub const UAMI_CLIENT_ID: &str = "6beb3ab0-6e28-4a92-8e5a-ce0d5abf3a8c";
pub const UAMI_OBJECT_ID: &str = "b1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f";
pub const UAMI_RESOURCE_ID: &str = "/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/kvref-rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/app-uami";
pub const NOROLE_CLIENT_ID: &str = "c4d5e6f7-a8b9-4cad-9ebf-1a2b3c4d5e6f";
pub const SP_CLIENT_ID: &str = "0e1f2a3b-4c5d-4e6f-9a0b-1c2d3e4f5a6b";
pub const SP_SECRET: &str = "emulator-client-secret-not-real";
