//! `SecretClient` on its own: the served version comes from the secret's id, content types are
//! kept, Key Vault's error bodies become typed errors, and nothing prints a value.

use crate::support::emu;
use kvref::credential::TokenCache;
use kvref::reference::Reference;
use kvref::vault::{SecretClient, VaultErrorKind};
use kvref_emulator::{Emulator, EmulatorConfig};
use secrecy::ExposeSecret;
use std::sync::Arc;

fn reference(text: &str) -> Reference {
    Reference::parse(text).unwrap().unwrap()
}

#[tokio::test]
async fn fetches_secrets_and_types_errors() {
    let emu = Emulator::start(EmulatorConfig::sample()).await.unwrap();
    let client = SecretClient::builder(Arc::new(TokenCache::new(emu::credential(&emu))))
        .transport(emu::transport(&emu))
        .build()
        .unwrap();

    let latest = emu.set_secret("myvault", "ApiKey", "rotated-api-key").await;
    let secret = client
        .get_secret(&reference(
            "@KeyVault(SecretUri=https://myvault.vault.azure.net/secrets/ApiKey/)",
        ))
        .await
        .unwrap();
    assert_eq!(secret.value().expose_secret(), "rotated-api-key");
    assert_eq!(secret.version(), Some(latest.as_str()));
    assert_eq!(
        secret.id(),
        format!("https://myvault.vault.azure.net/secrets/ApiKey/{latest}")
    );
    assert!(!format!("{secret:?}").contains("rotated-api-key"));

    let pinned = client
        .get_secret(&reference("@KeyVault(VaultName=myvault;SecretName=DbPassword;SecretVersion=0a1b2c3d4e5f60718293a4b5c6d7e8f9)"))
        .await
        .unwrap();
    assert_eq!(pinned.value().expose_secret(), "old-db-password");
    assert_eq!(pinned.content_type(), Some("text/plain"));

    let missing = client
        .get_secret(&reference("@KeyVault(VaultName=myvault;SecretName=Nope)"))
        .await
        .unwrap_err();
    assert_eq!(missing.kind(), VaultErrorKind::Service);
    assert_eq!(missing.http_status(), Some(404));
    assert_eq!(missing.code(), Some("SecretNotFound"));
    assert!(missing.service_message().unwrap().contains("Nope"));

    let disabled = client
        .get_secret(&reference(
            "@KeyVault(VaultName=myvault;SecretName=RetiredToken)",
        ))
        .await
        .unwrap_err();
    assert_eq!(disabled.http_status(), Some(403));
    assert_eq!(disabled.code(), Some("Forbidden"));
    assert_eq!(disabled.inner_code(), Some("SecretDisabled"));
    assert!(!disabled.to_string().contains("retired-token-value"));
}
