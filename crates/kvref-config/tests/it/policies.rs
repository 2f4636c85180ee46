//! The unresolved policies through the overlay: keep the literal, or set nil.

use config::{Config, File, FileFormat};
use kvref::UnresolvedPolicy;
use serde::Deserialize;

use crate::emulator_and_resolver;

const SETTINGS: &str = r#"
port = 8080
[smtp]
password = "@Microsoft.KeyVault(VaultName=myvault;SecretName=SmtpPassword)"
[db]
password = "@Microsoft.KeyVault(VaultName=myvault;SecretName=DbPassword)"
"#;

fn config() -> Config {
    Config::builder()
        .add_source(File::from_str(SETTINGS, FileFormat::Toml))
        .build()
        .unwrap()
}

#[tokio::test]
async fn keep_literal_leaves_the_reference_text_and_its_origin() {
    let (_emulator, resolver) = emulator_and_resolver(UnresolvedPolicy::KeepLiteral).await;
    let original_origin = config().cache.into_table().unwrap()["smtp"]
        .clone()
        .into_table()
        .unwrap()["password"]
        .origin()
        .map(str::to_owned);

    let config = kvref_config::resolve_with(config(), &resolver)
        .await
        .unwrap();

    assert_eq!(
        config.get_string("smtp.password").unwrap(),
        "@Microsoft.KeyVault(VaultName=myvault;SecretName=SmtpPassword)"
    );
    assert_eq!(
        config.origin("smtp.password").map(str::to_owned),
        original_origin
    );
    assert_eq!(
        config.get_string("db.password").unwrap(),
        "db-password-from-the-emulator"
    );
}

#[derive(Debug, Deserialize)]
struct WithOptional {
    port: u16,
    smtp: Smtp,
}

#[derive(Debug, Deserialize)]
struct Smtp {
    password: Option<String>,
}

#[tokio::test]
async fn drop_sets_the_setting_to_nil_so_an_option_reads_none() {
    let (_emulator, resolver) = emulator_and_resolver(UnresolvedPolicy::Drop).await;

    let config = kvref_config::resolve_with(config(), &resolver)
        .await
        .unwrap();

    assert!(config.origin("smtp.password").unwrap().starts_with(
        "Azure Key Vault secret https://myvault.vault.azure.net/secrets/SmtpPassword"
    ));
    let settings: WithOptional = config.try_deserialize().unwrap();
    assert_eq!(settings.port, 8080);
    assert_eq!(settings.smtp.password, None);
}
