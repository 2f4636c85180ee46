//! A failing run: one error listing every failing setting; type errors that never show a secret.

use config::{Config, File, FileFormat};
use kvref::secrecy::SecretString;
use kvref::{ResolveStatus, UnresolvedPolicy};
use serde::Deserialize;

use crate::{emulator_and_resolver, environment};

#[tokio::test]
async fn a_failing_run_gives_one_error_listing_every_failing_setting_with_status_and_fix() {
    let (_emulator, resolver) = emulator_and_resolver(UnresolvedPolicy::Fail).await;
    let config = Config::builder()
        .add_source(File::from_str(
            r#"
            [db]
            password = "@Microsoft.KeyVault(VaultName=myvault;SecretName=DbPassword)"
            [smtp]
            password = "@Microsoft.KeyVault(VaultName=myvault;SecretName=SmtpPassword)"
            [[legacy]]
            token = "@KeyVault(SecretUri=https://myvault.vault.azure.net/secrets/RetiredToken)"
            "#,
            FileFormat::Toml,
        ))
        .add_source(environment(&[(
            "APP__REPORTING__KEY",
            "@Microsoft.KeyVault(SecretUri=https://othervault.vault.azure.net/secrets/ReportingKey/)",
        )]))
        .build()
        .unwrap();

    let error = kvref_config::resolve_with(config, &resolver)
        .await
        .expect_err("three references cannot be resolved");

    assert!(error.is_unresolved());
    let unresolved = error.unresolved().unwrap();
    let mut failed: Vec<_> = unresolved.failed_keys().collect();
    failed.sort();
    assert_eq!(
        failed,
        ["legacy[0].token", "reporting.key", "smtp.password"]
    );
    assert_eq!(
        unresolved.status_of("smtp.password"),
        Some(ResolveStatus::SecretNotFound)
    );
    assert_eq!(
        unresolved.status_of("reporting.key"),
        Some(ResolveStatus::AccessToKeyVaultDenied)
    );
    let text = error.to_string();
    assert!(
        text.starts_with("3 Key Vault references could not be resolved"),
        "{text}"
    );
    for key in ["`smtp.password`", "`legacy[0].token`", "`reporting.key`"] {
        assert!(text.contains(key), "{key} missing from: {text}");
    }
    assert_eq!(text.matches("\n  fix: ").count(), 3, "{text}");
    assert!(!text.contains("retired-token-value"));
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct Typed {
    db: Db,
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct Db {
    port: u16,
    password: SecretString,
}

#[tokio::test]
async fn a_type_error_at_a_secret_holding_key_names_the_key_and_secret_but_not_the_value() {
    let (_emulator, resolver) = emulator_and_resolver(UnresolvedPolicy::Fail).await;
    let config = Config::builder()
        .add_source(File::from_str(
            r#"
            [db]
            port = "@KeyVault(VaultName=myvault;SecretName=DbPassword)"
            password = "@KeyVault(VaultName=myvault;SecretName=ApiKey)"
            "#,
            FileFormat::Toml,
        ))
        .build()
        .unwrap();
    let config = kvref_config::resolve_with(config, &resolver).await.unwrap();

    // What config itself would print: the secret, so ours must not.
    let unsafe_text = config
        .clone()
        .into_config()
        .try_deserialize::<Typed>()
        .unwrap_err()
        .to_string();
    assert!(
        unsafe_text.contains("db-password-from-the-emulator"),
        "{unsafe_text}"
    );

    let by_key = config.get::<u16>("db.port").unwrap_err();
    let error = config.try_deserialize::<Typed>().unwrap_err();
    for error in [&error, &by_key] {
        assert!(error.is_config());
        assert_eq!(error.key(), Some("db.port"));
        let shown = format!("{error} {error:?}");
        assert!(!shown.contains("db-password-from-the-emulator"), "{shown}");
        assert!(!shown.contains("api-key-from-the-emulator"), "{shown}");
        assert!(shown.contains("<redacted: myvault/DbPassword@"), "{shown}");
        assert!(shown.contains("expected"), "{shown}");
        assert!(
            shown.contains(
                "Azure Key Vault secret https://myvault.vault.azure.net/secrets/DbPassword/"
            ),
            "config's error names the secret id as the origin: {shown}"
        );
        assert!(std::error::Error::source(error).is_none());
    }
}
