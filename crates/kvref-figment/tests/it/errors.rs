//! Failures: one error listing every failing key with its status and fix; extraction errors at
//! secret-holding keys that never contain the secret; the keep-literal and drop policies.

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use kvref::{ResolveStatus, UnresolvedPolicy};
use serde::Deserialize;

use crate::support::{self, DB_PASSWORD};

#[tokio::test]
async fn a_failing_run_lists_every_failing_key_with_status_and_fix_in_one_error() {
    let emu = support::emulator().await;
    let resolver = support::resolver(&emu).await;
    let figment = Figment::from(Toml::string(
        r#"
        ok = "@KeyVault(VaultName=myvault;SecretName=DbPassword)"
        [bad]
        missing = "@KeyVault(VaultName=myvault;SecretName=NoSuchSecret)"
        disabled = "@KeyVault(VaultName=myvault;SecretName=RetiredToken)"
        denied = "@KeyVault(VaultName=othervault;SecretName=ReportingKey)"
        list = ["@KeyVault(SecretUri=https://evil.example.com/secrets/X)"]
        "#,
    ))
    .merge(Serialized::defaults(serde_json::json!({
        "bad": { "malformed": "@Microsoft.KeyVault(VaultName=;SecretName=Db)" }
    })));
    let error = kvref_figment::resolve_with(figment, &resolver)
        .await
        .unwrap_err();
    assert!(error.is_unresolved());
    let kvref = error.as_kvref().unwrap();
    let mut keys: Vec<&str> = kvref.failed_keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "default.bad.denied",
            "default.bad.disabled",
            "default.bad.list.0",
            "default.bad.malformed",
            "default.bad.missing",
        ]
    );
    assert_eq!(
        kvref.status_of("default.bad.missing"),
        Some(ResolveStatus::SecretNotFound)
    );
    assert_eq!(
        kvref.status_of("default.bad.disabled"),
        Some(ResolveStatus::SecretDisabled)
    );
    assert_eq!(
        kvref.status_of("default.bad.denied"),
        Some(ResolveStatus::AccessToKeyVaultDenied)
    );
    assert_eq!(
        kvref.status_of("default.bad.list.0"),
        Some(ResolveStatus::VaultNotAllowed)
    );
    assert_eq!(
        kvref.status_of("default.bad.malformed"),
        Some(ResolveStatus::InvalidSyntax)
    );

    let message = error.to_string();
    assert!(
        message.starts_with("5 Key Vault references could not be resolved"),
        "{message}"
    );
    assert_eq!(message.matches("\n  fix: ").count(), 5, "{message}");
    assert!(message.contains("az role assignment create"), "{message}");
    assert!(!message.contains(DB_PASSWORD));
    assert!(std::error::Error::source(&error).is_some());
}

async fn resolved(toml: &str) -> Figment {
    support::resolved(Figment::from(Toml::string(toml))).await
}

fn assert_safe(error: &kvref_figment::Error, secret: &str) {
    let shown = format!("{error} {error:?}");
    assert!(!shown.contains(secret), "{shown}");
    let escaped = format!("{secret:?}");
    assert!(!shown.contains(&escaped[1..escaped.len() - 1]), "{shown}");
    let source = std::error::Error::source(error).unwrap();
    let shown = format!("{source} {source:?}");
    assert!(!shown.contains(secret), "{shown}");
}

#[tokio::test]
async fn a_secret_into_a_u16_names_key_type_and_secret_never_the_value() {
    let figment = resolved(
        r#"
        [db]
        port = "@KeyVault(VaultName=myvault;SecretName=DbPassword)"
        "#,
    )
    .await;
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Db {
        port: u16,
    }
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Settings {
        db: Db,
    }
    // Figment itself quotes the secret: what this crate guards against.
    let raw = figment.extract::<Settings>().unwrap_err().to_string();
    assert!(raw.contains(DB_PASSWORD), "{raw}");

    let error = kvref_figment::extract::<Settings>(&figment).unwrap_err();
    assert_safe(&error, DB_PASSWORD);
    let message = error.to_string();
    assert!(message.contains("\"default.db.port\""), "{message}");
    assert!(message.contains("expected u16"), "{message}");
    assert!(
        message.contains("<redacted: myvault/DbPassword@"),
        "{message}"
    );
    assert!(error.as_figment().is_some());
}

#[tokio::test]
async fn escaped_forms_enum_variants_and_custom_messages_are_redacted_too() {
    let emu = support::emulator().await;
    let secret = "pa\"ss\nword";
    emu.set_secret("myvault", "Odd", secret).await;
    let resolver = support::resolver(&emu).await;
    let figment = Figment::from(Toml::string(
        r#"
        port = "@KeyVault(VaultName=myvault;SecretName=Odd)"
        mode = "@KeyVault(VaultName=myvault;SecretName=DbPassword)"
        checked = "@KeyVault(VaultName=myvault;SecretName=DbPassword)"
        "#,
    ));
    let figment = kvref_figment::resolve_with(figment, &resolver)
        .await
        .unwrap();

    let error = kvref_figment::extract_inner::<u16>(&figment, "port").unwrap_err();
    assert_safe(&error, secret);

    #[derive(Debug, Deserialize)]
    enum Mode {
        Fast,
    }
    let error = kvref_figment::extract_inner::<Mode>(&figment, "mode").unwrap_err();
    assert!(error.to_string().contains("unknown variant"), "{error}");
    assert_safe(&error, DB_PASSWORD);

    #[derive(Debug)]
    struct Checked;
    impl<'de> Deserialize<'de> for Checked {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            let text = String::deserialize(d)?;
            Err(serde::de::Error::custom(format!(
                "`{text}` is not a checked value"
            )))
        }
    }
    let error = kvref_figment::extract_inner::<Checked>(&figment, "checked").unwrap_err();
    assert!(
        error.to_string().contains("is not a checked value"),
        "{error}"
    );
    assert_safe(&error, DB_PASSWORD);
    let _ = Mode::Fast;
}

#[tokio::test]
async fn keep_literal_keeps_the_reference_and_its_provenance() {
    let emu = support::emulator().await;
    let resolver = support::resolver_with(&emu, UnresolvedPolicy::KeepLiteral).await;
    let literal = "@KeyVault(VaultName=myvault;SecretName=NoSuchSecret)";
    let figment = Figment::from(Toml::string(&format!("token = '{literal}'")));
    let figment = kvref_figment::resolve_with(figment, &resolver)
        .await
        .unwrap();
    let token: String = kvref_figment::extract_inner(&figment, "token").unwrap();
    assert_eq!(token, literal);
    assert!(
        figment
            .find_metadata("token")
            .unwrap()
            .name
            .starts_with("TOML")
    );
}

#[tokio::test]
async fn drop_sets_the_key_empty_with_a_source_that_says_why() {
    let emu = support::emulator().await;
    let resolver = support::resolver_with(&emu, UnresolvedPolicy::Drop).await;
    let figment = Figment::from(Toml::string(
        r#"
        token = "@KeyVault(VaultName=myvault;SecretName=NoSuchSecret)"
        name = "svc"
        "#,
    ));
    let figment = kvref_figment::resolve_with(figment, &resolver)
        .await
        .unwrap();
    #[derive(Deserialize)]
    struct Settings {
        token: Option<String>,
        name: String,
    }
    let settings: Settings = kvref_figment::extract(&figment).unwrap();
    assert_eq!((settings.token, settings.name.as_str()), (None, "svc"));
    let metadata = figment.find_metadata("token").unwrap();
    assert_eq!(metadata.name, "Azure Key Vault");
    let source = metadata.source.as_ref().and_then(|s| s.custom()).unwrap();
    assert!(
        source.contains("NoSuchSecret") && source.contains("SecretNotFound"),
        "{source}"
    );
    assert!(source.contains("dropped"), "{source}");
    // A required key fails naming it.
    let error = kvref_figment::extract_inner::<String>(&figment, "token").unwrap_err();
    assert!(error.to_string().contains("token"), "{error}");
}
