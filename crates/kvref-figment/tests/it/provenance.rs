//! Provenance: a resolved key's metadata is "Azure Key Vault" with the secret id; every other
//! key, and the tables on the way to a secret, keep their own provider's metadata.

use figment::Figment;
use figment::providers::{Format, Toml};
use figment::value::magic::Tagged;
use kvref::secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::support;

const SETTINGS: &str = r#"
[db]
host = "db.internal"
password = "@Microsoft.KeyVault(VaultName=myvault;SecretName=DbPassword)"
"#;

#[tokio::test]
async fn a_resolved_key_names_the_vault_and_the_secret_id_and_others_keep_their_file() {
    let emu = support::emulator().await;
    let version = emu
        .set_secret("myvault", "DbPassword", "rotated-password")
        .await;
    let resolver = support::resolver(&emu).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("settings.toml");
    std::fs::write(&path, SETTINGS).unwrap();

    let figment = Figment::from(Toml::file(&path));
    let figment = kvref_figment::resolve_with(figment, &resolver)
        .await
        .unwrap();

    let secret = figment.find_metadata("db.password").unwrap();
    assert_eq!(secret.name, "Azure Key Vault");
    let id = format!("https://myvault.vault.azure.net/secrets/DbPassword/{version}");
    assert_eq!(
        secret.source.as_ref().and_then(|s| s.custom()),
        Some(id.as_str())
    );

    for key in ["db.host", "db"] {
        let own = figment.find_metadata(key).unwrap();
        assert!(own.name.starts_with("TOML"), "{key}: {}", own.name);
        assert_eq!(
            own.source.as_ref().and_then(|s| s.file_path()),
            Some(path.as_path())
        );
    }

    #[derive(Deserialize)]
    struct Db {
        password: Tagged<SecretString>,
    }
    let db: Db = kvref_figment::extract_inner(&figment, "db").unwrap();
    assert_eq!(db.password.expose_secret(), "rotated-password");
    let tagged = figment.get_metadata(db.password.tag()).unwrap();
    assert_eq!(
        tagged.source.as_ref().and_then(|s| s.custom()),
        Some(id.as_str())
    );
}

#[tokio::test]
async fn each_secret_has_its_own_metadata_and_the_selected_profile_is_kept() {
    let figment = Figment::from(Toml::string(
        r#"
        a = "@KeyVault(VaultName=myvault;SecretName=DbPassword)"
        b = "@KeyVault(VaultName=myvault;SecretName=ApiKey)"
        c = "@KeyVault(VaultName=myvault;SecretName=ApiKey)"
        "#,
    ))
    .select("staging");
    let figment = support::resolved(figment).await;
    assert_eq!(figment.profile(), "staging");

    let id = |key: &str| {
        let metadata = figment.find_metadata(key).unwrap();
        metadata
            .source
            .as_ref()
            .and_then(|s| s.custom())
            .unwrap()
            .to_owned()
    };
    assert!(id("a").contains("/secrets/DbPassword/"));
    assert!(id("b").contains("/secrets/ApiKey/"));
    assert_eq!(id("b"), id("c"));
    let c: String = kvref_figment::extract_inner(&figment, "c").unwrap();
    assert_eq!(c, support::API_KEY);
}

#[tokio::test]
async fn a_figment_error_at_a_secret_key_says_which_secret_it_came_from() {
    let figment = support::resolved(Figment::from(Toml::string(SETTINGS))).await;
    let error = kvref_figment::extract_inner::<u16>(&figment, "db.password").unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("https://myvault.vault.azure.net/secrets/DbPassword/"),
        "{message}"
    );
    assert!(message.contains("Azure Key Vault"), "{message}");
}
