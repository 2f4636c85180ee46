//! TOML, JSON and YAML with environment overrides, nested tables, arrays and all three forms.

use figment::Figment;
use figment::providers::{Format, Json, Serialized, Toml, Yaml};
use kvref::secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::support::{self, API_KEY, DB_PASSWORD, OLD_DB_PASSWORD, OLD_VERSION};

#[derive(Deserialize)]
struct Settings {
    name: String,
    db: Db,
    keys: Vec<SecretString>,
    servers: Vec<Server>,
}

#[derive(Deserialize)]
struct Db {
    host: String,
    port: u16,
    password: SecretString,
    old_password: String,
}

#[derive(Deserialize)]
struct Server {
    host: String,
    token: SecretString,
}

const URI_FORM: &str =
    "@Microsoft.KeyVault(SecretUri=https://myvault.vault.azure.net/secrets/ApiKey/)";
const SHORT_FORM: &str = "@KeyVault(SecretUri=https://myvault.vault.azure.net/secrets/ApiKey)";

fn pinned() -> String {
    format!(
        "@Microsoft.KeyVault(VaultName=myvault;SecretName=DbPassword;SecretVersion={OLD_VERSION})"
    )
}

/// What `Env::prefixed("APP_").split("__")` gives for `APP_DB__PASSWORD=…`, without process env.
fn env_override() -> Serialized<serde_json::Value> {
    Serialized::defaults(serde_json::json!({
        "db": { "password": "@Microsoft.KeyVault(VaultName=myvault;SecretName=DbPassword)" }
    }))
}

fn toml() -> String {
    format!(
        r#"
name = "svc"
keys = ["{URI_FORM}", "{SHORT_FORM}"]

[db]
host = "db.internal"
port = 5432
password = "set-by-the-environment"
old_password = "{pinned}"

[[servers]]
host = "a"
token = "{SHORT_FORM}"

[[servers]]
host = "b"
token = "{URI_FORM}"
"#,
        pinned = pinned()
    )
}

fn json() -> String {
    serde_json::json!({
        "name": "svc",
        "keys": [URI_FORM, SHORT_FORM],
        "db": { "host": "db.internal", "port": 5432, "password": "x", "old_password": pinned() },
        "servers": [{ "host": "a", "token": SHORT_FORM }, { "host": "b", "token": URI_FORM }],
    })
    .to_string()
}

fn yaml() -> String {
    format!(
        "name: svc\nkeys:\n  - '{URI_FORM}'\n  - '{SHORT_FORM}'\ndb:\n  host: db.internal\n  port: 5432\n  password: x\n  old_password: '{pinned}'\nservers:\n  - host: a\n    token: '{SHORT_FORM}'\n  - host: b\n    token: '{URI_FORM}'\n",
        pinned = pinned()
    )
}

async fn check(figment: Figment) {
    let emu = support::emulator().await;
    let resolver = support::resolver(&emu).await;
    let figment = figment.merge(env_override());
    let figment = kvref_figment::resolve_with(figment, &resolver)
        .await
        .unwrap();
    let settings: Settings = kvref_figment::extract(&figment).unwrap();

    // Figment replaces arrays whole: the overlay's copy keeps the other elements' provenance.
    let servers = figment.find_value("servers").unwrap().into_array().unwrap();
    let provider_of = |server: &figment::value::Value, key: &str| {
        let value = server.find_ref(key).unwrap();
        figment.get_metadata(value.tag()).unwrap().name.clone()
    };
    assert_eq!(provider_of(&servers[1], "token"), "Azure Key Vault");
    assert_ne!(provider_of(&servers[1], "host"), "Azure Key Vault");

    assert_eq!(settings.name, "svc");
    assert_eq!(
        (settings.db.host.as_str(), settings.db.port),
        ("db.internal", 5432)
    );
    assert_eq!(settings.db.password.expose_secret(), DB_PASSWORD);
    assert_eq!(settings.db.old_password, OLD_DB_PASSWORD);
    let keys: Vec<&str> = settings.keys.iter().map(|k| k.expose_secret()).collect();
    assert_eq!(keys, [API_KEY, API_KEY]);
    let servers: Vec<(&str, &str)> = settings
        .servers
        .iter()
        .map(|s| (s.host.as_str(), s.token.expose_secret()))
        .collect();
    assert_eq!(servers, [("a", API_KEY), ("b", API_KEY)]);
}

#[tokio::test]
async fn toml_with_an_environment_override() {
    check(Figment::from(Toml::string(&toml()))).await;
}

#[tokio::test]
async fn json_with_an_environment_override() {
    check(Figment::from(Json::string(&json()))).await;
}

#[tokio::test]
async fn yaml_with_an_environment_override() {
    check(Figment::from(Yaml::string(&yaml()))).await;
}

#[tokio::test]
async fn files_in_a_directory_with_an_environment_override() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("settings.toml");
    std::fs::write(&path, toml()).unwrap();
    check(Figment::from(Toml::file(&path))).await;
}
