//! When the credential cannot produce a token, every reference says why and how to fix it, and
//! no request to the vault carries a token.

use std::sync::Arc;

use crate::support::emu;
use async_trait::async_trait;
use kvref::credential::{
    AccessToken, CredentialError, CredentialErrorKind, TokenCredential, TokenRequest,
};
use kvref::resolve::ResolveStatus;
use kvref_emulator::{Emulator, EmulatorConfig};

/// A credential that always fails with `kind`, as a real one does when the platform has no
/// managed identity (Unavailable) or the token service refuses it (Refused).
#[derive(Debug)]
struct Failing(CredentialErrorKind);

#[async_trait]
impl TokenCredential for Failing {
    fn name(&self) -> &str {
        "ManagedIdentityCredential"
    }
    async fn get_token(&self, _: &TokenRequest) -> Result<AccessToken, CredentialError> {
        Err(CredentialError::new(
            self.0,
            "ManagedIdentityCredential",
            "no managed identity endpoint found",
        ))
    }
}

#[tokio::test]
async fn credential_failures_map_to_statuses_with_fixes() {
    let emu = Emulator::start(EmulatorConfig::sample()).await.unwrap();
    for (kind, status, fix) in [
        (
            CredentialErrorKind::Unavailable,
            ResolveStatus::MSINotEnabled,
            "az webapp identity assign --name <app> --resource-group <rg>",
        ),
        (
            CredentialErrorKind::IdentityNotFound,
            ResolveStatus::MSINotEnabled,
            "az webapp identity assign --name <app> --resource-group <rg>",
        ),
        (
            CredentialErrorKind::Refused,
            ResolveStatus::UnauthorizedClient,
            "Entra ID",
        ),
    ] {
        emu.clear_requests().await;
        let resolver = kvref::resolve::Resolver::builder()
            .credential(Arc::new(Failing(kind)))
            .transport(emu::transport(&emu))
            .build()
            .unwrap();
        let resolution = resolver
            .resolve(vec![
                ("Db", "@KeyVault(VaultName=myvault;SecretName=DbPassword)"),
                ("Api", "@KeyVault(VaultName=myvault;SecretName=ApiKey)"),
            ])
            .await;
        for outcome in resolution.outcomes() {
            assert_eq!(outcome.status(), status, "{kind:?}");
            assert!(
                outcome.fix().unwrap().contains(fix),
                "{kind:?}: {:?}",
                outcome.fix()
            );
            assert!(
                outcome
                    .message()
                    .unwrap()
                    .contains("no managed identity endpoint found")
            );
        }
        let error = resolution.error().unwrap();
        assert!(error.to_string().contains(status.as_str()));
        assert!(
            emu::vault_requests(&emu)
                .await
                .iter()
                .all(|r| !r.authorization)
        );
    }
}

#[tokio::test]
async fn an_app_without_a_managed_identity_is_told_to_enable_one() {
    // No [system_identity] table and no user-assigned identity: the app has none.
    let toml = r#"
tenant_id = "72f988bf-86f1-41af-91ab-2d7cd011db47"

[[vaults]]
name = "myvault"

[[vaults.secrets]]
name = "DbPassword"

[[vaults.secrets.versions]]
value = "never-fetched"
"#;
    let emu = emu::start(toml).await;
    let credential = emu::credential(&emu);
    let resolver = emu::resolver(&emu, credential.clone()).build().unwrap();
    let resolution = resolver
        .resolve(vec![(
            "Db",
            "@KeyVault(VaultName=myvault;SecretName=DbPassword)",
        )])
        .await;
    let outcome = &resolution.outcomes()[0];
    assert_eq!(
        outcome.status(),
        ResolveStatus::MSINotEnabled,
        "{:?}",
        outcome.message()
    );
    assert!(outcome.fix().is_some());
    assert!(
        emu::vault_requests(&emu)
            .await
            .iter()
            .all(|r| !r.authorization)
    );
}

#[tokio::test]
async fn a_user_assigned_identity_without_a_role_is_denied_with_the_role_command() {
    let emu = Emulator::start(EmulatorConfig::sample()).await.unwrap();
    // norole-uami in the sample: assigned to the app, granted nothing.
    let credential = emu::credential_for(&emu, Some("c4d5e6f7-a8b9-4cad-9ebf-1a2b3c4d5e6f"));
    let resolver = emu::resolver(&emu, credential).build().unwrap();
    let resolution = resolver
        .resolve(vec![(
            "Db",
            "@KeyVault(VaultName=myvault;SecretName=DbPassword)",
        )])
        .await;
    let outcome = &resolution.outcomes()[0];
    assert_eq!(outcome.status(), ResolveStatus::AccessToKeyVaultDenied);
    assert_eq!(outcome.error_code(), Some("ForbiddenByRbac"));
    assert!(outcome.fix().unwrap().contains(
        "az role assignment create --role \"Key Vault Secrets User\" --assignee d7e8f9a0-b1c2-4d3e-8f4a-5b6c7d8e9f0a \
         --scope $(az keyvault show --name myvault --query id -o tsv)"
    ), "{:?}", outcome.fix());
}
