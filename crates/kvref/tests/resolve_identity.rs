//! When the credential cannot produce a token, every reference says why and how to fix it, and
//! no request to the vault carries a token.

mod res_support;

use std::sync::Arc;

use async_trait::async_trait;
use kvref::credential::{
    AccessToken, CredentialError, CredentialErrorKind, TokenCredential, TokenRequest,
};
use kvref::resolve::ResolveStatus;
use kvref_emulator::{Emulator, EmulatorConfig};
use res_support::emu;

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
