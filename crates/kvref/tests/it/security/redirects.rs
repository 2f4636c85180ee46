//! No client follows a redirect: Key Vault, every managed identity endpoint and Entra ID answer
//! 307 to a decoy (another host, plain http or https), and the decoy sees no connection at all,
//! the answer is an invalid response naming the host, and nothing is retried.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use kvref::credential::{
    CredentialErrorKind, EnvironmentCredential, ManagedIdentityCredential, ManagedIdentityOptions,
    TokenCredential, TokenRequest,
};
use kvref::reference::Reference;
use kvref::vault::{RetryPolicy, SecretClient, VaultErrorKind};
use kvref_emulator::{Emulator, EmulatorConfig, Endpoint, Fault};

use super::hostile::Decoy;
use crate::support::cred_emulator::{self, Identities, SCOPE};
use crate::support::{CountingCredential, emu};

fn redirect(endpoint: Endpoint, location: &str, times: Option<u32>) -> Fault {
    Fault {
        endpoint,
        status: Some(307),
        headers: BTreeMap::from([("Location".to_owned(), location.to_owned())]),
        times,
        ..Fault::default()
    }
}

fn db_password() -> Reference {
    Reference::parse("@KeyVault(VaultName=myvault;SecretName=DbPassword)")
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn key_vault_redirects_are_refused_unfollowed_and_not_retried() {
    let decoy = Decoy::start().await;
    let emu = Emulator::start(EmulatorConfig::sample()).await.unwrap();
    let transport = emu::transport(&emu);
    let same_vault = "https://myvault.vault.azure.net/secrets/DbPassword/?api-version=2025-07-01";
    // The unauthenticated discovery request, then the authorised request after a real
    // challenge: each redirected to another host over http, over https, and to itself (a loop).
    for location in [decoy.http_url(), decoy.https_url(), same_vault.to_owned()] {
        for passed_through in [0, 1] {
            emu.clear_faults().await;
            emu.clear_requests().await;
            if passed_through == 1 {
                emu.add_fault(Fault {
                    endpoint: Endpoint::KeyVault,
                    times: Some(1),
                    ..Fault::default()
                })
                .await;
            }
            emu.add_fault(redirect(Endpoint::KeyVault, &location, None))
                .await;
            // A fresh client each time: no challenge remembered from the last round.
            let client = SecretClient::builder(CountingCredential::fixed())
                .transport(transport.clone())
                .retry_policy(RetryPolicy::default().with_initial_delay(Duration::from_millis(1)))
                .build()
                .unwrap();
            let error = client.get_secret(&db_password()).await.unwrap_err();
            assert_eq!(
                error.kind(),
                VaultErrorKind::InvalidResponse,
                "{location}: {error}"
            );
            assert_eq!(error.http_status(), Some(307), "{location}");
            let text = error.to_string();
            assert!(
                text.contains("myvault.vault.azure.net") && text.contains("redirect"),
                "{text}"
            );
            assert!(!text.contains("421"), "{text}");
            let requests = emu::vault_requests(&emu).await;
            assert_eq!(
                requests.len(),
                1 + passed_through,
                "{location}: {requests:?}"
            );
        }
    }
    assert_eq!(decoy.connections(), 0, "a redirect was followed");
}

/// A managed identity credential for one of the emulator's sources.
fn managed_identity(emu: &Emulator, source: &str) -> ManagedIdentityCredential {
    ManagedIdentityCredential::new(ManagedIdentityOptions::new(
        cred_emulator::env(emu, source),
        cred_emulator::transport(emu),
    ))
    .unwrap()
}

#[tokio::test]
async fn identity_endpoint_redirects_are_refused_unfollowed_and_not_retried() {
    let decoy = Decoy::start().await;
    let emu = cred_emulator::start(Identities::ALL).await;
    let sources = [
        ("app_service", Endpoint::AppService),
        ("legacy_app_service", Endpoint::LegacyAppService),
        ("imds", Endpoint::Imds),
        ("service_fabric", Endpoint::ServiceFabric),
        ("arc", Endpoint::Arc),
        ("cloud_shell", Endpoint::CloudShell),
    ];
    for (source, endpoint) in sources {
        for location in [decoy.http_url(), decoy.https_url()] {
            emu.clear_faults().await;
            emu.clear_requests().await;
            emu.add_fault(redirect(endpoint, &location, None)).await;
            let credential = managed_identity(&emu, source);
            let secrets = cred_emulator::identity_secrets(&cred_emulator::env(&emu, source));
            let error = credential
                .get_token(&TokenRequest::new(SCOPE))
                .await
                .unwrap_err();
            assert_eq!(
                error.kind(),
                CredentialErrorKind::InvalidResponse,
                "{source}: {error}"
            );
            let text = error.to_string();
            assert!(text.contains("307") && text.contains("redirect"), "{text}");
            for secret in secrets {
                assert!(!text.contains(&secret), "{source}: {text}");
            }
            let requests = cred_emulator::requests_to(&emu, endpoint).await;
            assert_eq!(requests.len(), 1, "{source} was retried: {requests:?}");
        }
    }
    assert_eq!(
        decoy.connections(),
        0,
        "an identity secret followed a redirect"
    );
}

#[tokio::test]
async fn entra_redirects_never_post_the_form_again() {
    let decoy = Decoy::start().await;
    let emu = cred_emulator::start(Identities::ALL).await;
    let env = cred_emulator::service_principal_env(&emu);
    for location in [decoy.http_url(), decoy.https_url()] {
        for status in [307, 308, 302] {
            emu.clear_faults().await;
            emu.clear_requests().await;
            emu.add_fault(Fault {
                status: Some(status),
                ..redirect(Endpoint::Entra, &location, None)
            })
            .await;
            let credential: Arc<dyn TokenCredential> =
                Arc::new(EnvironmentCredential::new(&env, cred_emulator::transport(&emu)).unwrap());
            let error = credential
                .get_token(&TokenRequest::new(SCOPE))
                .await
                .unwrap_err();
            assert_eq!(
                error.kind(),
                CredentialErrorKind::InvalidResponse,
                "{error}"
            );
            assert!(error.to_string().contains("localhost"), "{error}");
            assert!(!error.to_string().contains(cred_emulator::SP_SECRET));
            let requests = cred_emulator::requests_to(&emu, Endpoint::Entra).await;
            assert_eq!(requests.len(), 1, "{requests:?}");
        }
    }
    assert_eq!(
        decoy.connections(),
        0,
        "the client secret followed a redirect"
    );
}
