//! TOML + JSON + YAML files and environment overrides, every reference form, nested tables and
//! arrays, typed settings, and where each value came from.

use config::{Config, File, ValueKind};
use kvref::UnresolvedPolicy;
use kvref::secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::{emulator_and_resolver, environment, write};

const TOML: &str = r#"
port = 8080
[db]
host = "db.internal"
password = "overridden by APP__DB__PASSWORD"
"#;

// SecretUri form with a pinned version, inside an array of tables.
const JSON: &str = r#"{
  "servers": [
    { "host": "a.internal", "port": 5432,
      "password": "@Microsoft.KeyVault(SecretUri=https://myvault.vault.azure.net/secrets/DbPassword/0a1b2c3d4e5f60718293a4b5c6d7e8f9)" },
    { "host": "b.internal", "port": 5433, "password": "plain-password" }
  ]
}"#;

// The short form, in an array of strings next to a literal, and in a nested table.
const YAML: &str = r#"
tokens:
  - "@KeyVault(SecretUri=https://myvault.vault.azure.net/secrets/ApiKey/)"
  - literal-token
payments:
  provider:
    api_key: "@KeyVault(VaultName=myvault;SecretName=ApiKey)"
"#;

#[derive(Debug, Deserialize)]
struct Settings {
    port: u16,
    db: Db,
    servers: Vec<Server>,
    tokens: Vec<SecretString>,
    payments: Payments,
}

#[derive(Debug, Deserialize)]
struct Db {
    host: String,
    password: SecretString,
}

#[derive(Debug, Deserialize)]
struct Server {
    host: String,
    port: u16,
    password: SecretString,
}

#[derive(Debug, Deserialize)]
struct Payments {
    provider: Provider,
}

#[derive(Debug, Deserialize)]
struct Provider {
    api_key: SecretString,
}

fn layered_config(dir: &std::path::Path) -> Config {
    Config::builder()
        .add_source(File::from(write(dir, "settings.toml", TOML)))
        .add_source(File::from(write(dir, "servers.json", JSON)))
        .add_source(File::from(write(dir, "tokens.yaml", YAML)))
        .add_source(environment(&[(
            "APP__DB__PASSWORD",
            "@Microsoft.KeyVault(VaultName=myvault;SecretName=DbPassword)",
        )]))
        .build()
        .expect("the files parse")
}

#[tokio::test]
async fn files_in_three_formats_with_env_overrides_deserialize_with_every_secret_in_place() {
    let (_emulator, resolver) = emulator_and_resolver(UnresolvedPolicy::Fail).await;
    let dir = tempfile::tempdir().unwrap();

    let config = kvref_config::resolve_with(layered_config(dir.path()), &resolver)
        .await
        .expect("every reference resolves");
    let settings: Settings = config.try_deserialize().expect("typed settings");

    assert_eq!(settings.port, 8080);
    assert_eq!(settings.db.host, "db.internal");
    assert_eq!(
        settings.db.password.expose_secret(),
        "db-password-from-the-emulator"
    );
    let servers: Vec<_> = settings
        .servers
        .iter()
        .map(|s| (s.host.as_str(), s.port, s.password.expose_secret()))
        .collect();
    assert_eq!(
        servers,
        [
            ("a.internal", 5432, "old-db-password"),
            ("b.internal", 5433, "plain-password")
        ]
    );
    let tokens: Vec<_> = settings.tokens.iter().map(|t| t.expose_secret()).collect();
    assert_eq!(tokens, ["api-key-from-the-emulator", "literal-token"]);
    assert_eq!(
        settings.payments.provider.api_key.expose_secret(),
        "api-key-from-the-emulator"
    );
}

#[tokio::test]
async fn non_secret_values_keep_their_type_and_origin_and_secrets_name_their_secret_id() {
    let (_emulator, resolver) = emulator_and_resolver(UnresolvedPolicy::Fail).await;
    let dir = tempfile::tempdir().unwrap();

    let config = kvref_config::resolve_with(layered_config(dir.path()), &resolver)
        .await
        .unwrap();

    // Integers stay integers, also inside the array a secret was placed in.
    for key in ["port", "servers[0].port", "servers[1].port"] {
        let value: config::Value = config.get(key).unwrap();
        assert!(matches!(value.kind, ValueKind::I64(_)), "{key}: {value:?}");
    }
    assert_eq!(config.get_string("servers[1].host").unwrap(), "b.internal");

    // A resolved key's origin is its secret id, with the version it resolved to.
    let db = config
        .provenance()
        .find(|p| p.key() == "db.password")
        .expect("db.password came from Key Vault");
    let version = db.version().expect("a resolved version");
    assert_eq!(
        config.origin("db.password"),
        Some(format!("Azure Key Vault secret https://myvault.vault.azure.net/secrets/DbPassword/{version}").as_str())
    );
    assert_eq!(
        config.origin("servers[0].password"),
        Some(
            "Azure Key Vault secret https://myvault.vault.azure.net/secrets/DbPassword/0a1b2c3d4e5f60718293a4b5c6d7e8f9"
        )
    );
    assert!(
        config
            .origin("tokens[0]")
            .unwrap()
            .starts_with("Azure Key Vault secret https://myvault.vault.azure.net/secrets/ApiKey/")
    );
    // Every other key keeps the file it came from.
    let file_of = |key: &str| {
        config
            .origin(key)
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .to_owned()
    };
    assert_eq!(file_of("db.host"), "settings.toml");
    assert_eq!(file_of("port"), "settings.toml");
    assert_eq!(file_of("servers[1].password"), "servers.json");
    assert_eq!(file_of("tokens[1]"), "tokens.yaml");

    // Provenance: every reference, with vault, secret and version; never a value.
    let mut provenance: Vec<_> = config
        .provenance()
        .map(|p| {
            (
                p.key().to_owned(),
                p.vault().to_owned(),
                p.secret().to_owned(),
            )
        })
        .collect();
    provenance.sort();
    assert_eq!(
        provenance,
        [
            ("db.password", "myvault", "DbPassword"),
            ("payments.provider.api_key", "myvault", "ApiKey"),
            ("servers[0].password", "myvault", "DbPassword"),
            ("tokens[0]", "myvault", "ApiKey"),
        ]
        .map(|(k, v, s)| (k.to_owned(), v.to_owned(), s.to_owned()))
    );
    let debug = format!("{config:?}");
    for value in [
        "db-password-from-the-emulator",
        "old-db-password",
        "api-key-from-the-emulator",
    ] {
        assert!(!debug.contains(value), "Debug shows a secret: {debug}");
    }
}

#[tokio::test]
async fn a_reference_from_the_environment_only_is_resolved_under_configs_lowercased_key() {
    let (_emulator, resolver) = emulator_and_resolver(UnresolvedPolicy::Fail).await;
    let config = Config::builder()
        .add_source(environment(&[(
            "APP__CACHE__AuthToken",
            "@Microsoft.KeyVault(SecretUri=https://myvault.vault.azure.net/secrets/ApiKey)",
        )]))
        .build()
        .unwrap();

    let config = kvref_config::resolve_with(config, &resolver).await.unwrap();

    assert_eq!(
        config.get_string("cache.authtoken").unwrap(),
        "api-key-from-the-emulator"
    );
    assert_eq!(
        config.provenance().map(|p| p.key()).collect::<Vec<_>>(),
        ["cache.authtoken"]
    );
}
