//! Bodies longer than anyone needs are refused at the limit, with an error that says so, and an
//! endless body costs no more memory than the limit.

use std::time::Duration;

use kvref::credential::{
    CredentialErrorKind, ManagedIdentityCredential, ManagedIdentityOptions, TokenCredential,
    TokenRequest,
};
use kvref::local::LocalEmulator;
use kvref::reference::Reference;
use kvref::vault::{RetryPolicy, SecretClient, VaultErrorKind};
use kvref_emulator::{Emulator, EmulatorConfig, Endpoint, Fault};

use super::hostile::{endless_http, peak_rss_kib};
use crate::support::cred_emulator::{self, Identities, SCOPE};
use crate::support::emu;

/// The limit the grown peak memory must stay under while reading endless bodies.
const FLAT_MIB: u64 = 64;

fn db_password() -> Reference {
    Reference::parse("@KeyVault(VaultName=myvault;SecretName=DbPassword)")
        .unwrap()
        .unwrap()
}

fn client(emu: &Emulator) -> SecretClient {
    SecretClient::builder(emu::credential(emu))
        .transport(emu::transport(emu))
        .retry_policy(RetryPolicy::default().with_initial_delay(Duration::from_millis(1)))
        .build()
        .unwrap()
}

/// A fault that passes the request to the real handler and replaces its body.
fn body_fault(endpoint: Endpoint, bytes: Option<u64>, times: Option<u32>) -> Fault {
    Fault {
        endpoint,
        body_bytes: bytes,
        endless_body: bytes.is_none(),
        times,
        ..Fault::default()
    }
}

/// The Key Vault error after the answer to request number `skip + 1` is replaced.
async fn vault_error(emu: &Emulator, skip: u32, bytes: Option<u64>) -> kvref::vault::VaultError {
    emu.clear_faults().await;
    if skip > 0 {
        emu.add_fault(Fault {
            endpoint: Endpoint::KeyVault,
            times: Some(skip),
            ..Fault::default()
        })
        .await;
    }
    emu.add_fault(body_fault(Endpoint::KeyVault, bytes, Some(1)))
        .await;
    client(emu).get_secret(&db_password()).await.unwrap_err()
}

async fn app_service_error(
    emu: &Emulator,
    bytes: Option<u64>,
) -> kvref::credential::CredentialError {
    emu.clear_faults().await;
    emu.add_fault(body_fault(Endpoint::AppService, bytes, None))
        .await;
    ManagedIdentityCredential::new(ManagedIdentityOptions::new(
        cred_emulator::env(emu, "app_service"),
        cred_emulator::transport(emu),
    ))
    .unwrap()
    .get_token(&TokenRequest::new(SCOPE))
    .await
    .unwrap_err()
}

#[tokio::test]
async fn oversized_answers_are_errors_that_say_so() {
    let vault = Emulator::start(EmulatorConfig::sample()).await.unwrap();
    // The challenge (401) and the secret (200), each 300 KiB.
    for skip in [0, 1] {
        let error = vault_error(&vault, skip, Some(300 * 1024)).await;
        assert_eq!(error.kind(), VaultErrorKind::InvalidResponse, "{error}");
        assert!(
            error.to_string().contains("answer larger than 256 KiB"),
            "{error}"
        );
    }
    // Just under the limit is read (and then is not a secret).
    let error = vault_error(&vault, 1, Some(200 * 1024)).await;
    assert!(!error.to_string().contains("larger than"), "{error}");

    let identity = cred_emulator::start(Identities::ALL).await;
    let error = app_service_error(&identity, Some(300 * 1024)).await;
    assert_eq!(
        error.kind(),
        CredentialErrorKind::InvalidResponse,
        "{error}"
    );
    assert!(
        error.to_string().contains("answer larger than 256 KiB"),
        "{error}"
    );
    assert!(!error.to_string().contains("not JSON"), "{error}");
}

#[tokio::test]
async fn endless_answers_keep_memory_flat() {
    let vault = Emulator::start(EmulatorConfig::sample()).await.unwrap();
    let identity = cred_emulator::start(Identities::ALL).await;
    let info = endless_http().await;
    let before = peak_rss_kib();

    // Key Vault: the unauthenticated challenge, then the secret itself.
    for skip in [0, 1] {
        let error = vault_error(&vault, skip, None).await;
        assert_eq!(error.kind(), VaultErrorKind::InvalidResponse, "{error}");
        assert!(error.to_string().contains("larger than 256 KiB"), "{error}");
    }
    // An identity endpoint.
    let error = app_service_error(&identity, None).await;
    assert!(error.to_string().contains("larger than 256 KiB"), "{error}");
    // Something posing as the emulator's info.
    let error = LocalEmulator::connect(&format!("http://{info}"))
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("answer larger than 64 KiB"),
        "{error}"
    );

    let after = peak_rss_kib();
    let grown_mib = after.saturating_sub(before) / 1024;
    println!(
        "peak RSS (VmHWM) before the endless bodies: {} KiB, after: {} KiB, grown: {} MiB",
        before, after, grown_mib
    );
    assert!(
        grown_mib < FLAT_MIB,
        "peak memory grew by {grown_mib} MiB reading endless bodies"
    );
}
