//! Profiles: references in the selected profile, in `global`, in `default` under a selected
//! override, and in a profile selected only after resolution; the selected profile is kept.

use figment::Figment;
use figment::providers::{Format, Toml};

use crate::support::{self, API_KEY, DB_PASSWORD};

const NESTED: &str = r#"
[default]
db.password = "plain-default-password"
db.user = "@KeyVault(VaultName=myvault;SecretName=ApiKey)"
api.key = "default-api-key"

[staging]
db.password = "@KeyVault(VaultName=myvault;SecretName=DbPassword)"
db.user = "staging-user"
api.key = "staging-api-key"

[global]
api.key = "@Microsoft.KeyVault(SecretUri=https://myvault.vault.azure.net/secrets/ApiKey/)"

[production]
db.password = "@Microsoft.KeyVault(VaultName=myvault;SecretName=DbPassword;SecretVersion=0a1b2c3d4e5f60718293a4b5c6d7e8f9)"
"#;

async fn resolved(select: &str) -> Figment {
    support::resolved(Figment::from(Toml::string(NESTED).nested()).select(select)).await
}

fn get(figment: &Figment, key: &str) -> String {
    kvref_figment::extract_inner(figment, key).unwrap()
}

#[tokio::test]
async fn a_reference_only_in_the_selected_profile_is_resolved_and_the_profile_kept() {
    let figment = resolved("staging").await;
    assert_eq!(figment.profile(), "staging");
    assert_eq!(get(&figment, "db.password"), DB_PASSWORD);
    let metadata = figment.find_metadata("db.password").unwrap();
    assert_eq!(metadata.name, kvref_figment::METADATA_NAME);

    // The same figment with the default profile selected sees the default's plain value.
    let default = figment.clone().select("default");
    assert_eq!(get(&default, "db.password"), "plain-default-password");
    assert!(
        default
            .find_metadata("db.password")
            .unwrap()
            .name
            .starts_with("TOML")
    );
}

#[tokio::test]
async fn a_reference_in_global_wins_over_the_selected_profile() {
    let figment = resolved("staging").await;
    assert_eq!(get(&figment, "api.key"), API_KEY);
    let metadata = figment.find_metadata("api.key").unwrap();
    let id = metadata.source.as_ref().and_then(|s| s.custom()).unwrap();
    assert!(
        id.starts_with("https://myvault.vault.azure.net/secrets/ApiKey/"),
        "{id}"
    );
}

#[tokio::test]
async fn a_reference_in_default_stays_under_a_plain_value_of_the_selected_profile() {
    // The overlay goes under `default`, where the reference was: `staging`'s plain value wins.
    let figment = resolved("staging").await;
    assert_eq!(get(&figment, "db.user"), "staging-user");
    assert!(
        figment
            .find_metadata("db.user")
            .unwrap()
            .name
            .starts_with("TOML")
    );
    // …and with `default` selected the secret shows.
    assert_eq!(get(&figment.select("default"), "db.user"), API_KEY);
}

#[tokio::test]
async fn a_custom_profile_selected_after_resolution_has_its_secrets() {
    let figment = resolved("staging").await.select("production");
    assert_eq!(get(&figment, "db.password"), support::OLD_DB_PASSWORD);
    let metadata = figment.find_metadata("db.password").unwrap();
    assert_eq!(
        metadata.source.as_ref().and_then(|s| s.custom()),
        Some(
            format!(
                "https://myvault.vault.azure.net/secrets/DbPassword/{}",
                support::OLD_VERSION
            )
            .as_str()
        )
    );
}
