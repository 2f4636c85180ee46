//! Answers that look right but are not: a secret from another vault, name or version, service
//! text that echoes a credential or drives the terminal, a token that has already expired, and
//! a vault certificate nobody trusts (refused once, not retried).

use std::sync::Arc;
use std::time::Duration;

use kvref::credential::{
    CredentialErrorKind, EnvironmentCredential, ManagedIdentityCredential, ManagedIdentityOptions,
    TokenCache, TokenCredential, TokenRequest,
};
use kvref::reference::Reference;
use kvref::transport::HttpTransport;
use kvref::vault::{RetryPolicy, SecretClient, VaultErrorKind};
use kvref_emulator::{Emulator, EmulatorConfig, Endpoint, Fault};
use serde_json::json;

use super::hostile::Relay;
use crate::support::cred_emulator::{self, Identities, SCOPE};
use crate::support::{CountingCredential, emu};

const VERSION_A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const VERSION_F: &str = "ffffffffffffffffffffffffffffffff";

fn reference(text: &str) -> Reference {
    Reference::parse(text).unwrap().unwrap()
}

fn fast_client(credential: Arc<dyn TokenCredential>, transport: HttpTransport) -> SecretClient {
    SecretClient::builder(credential)
        .transport(transport)
        .retry_policy(RetryPolicy::default().with_initial_delay(Duration::from_millis(1)))
        .build()
        .unwrap()
}

/// Lets the first Key Vault request through (the challenge) and answers the next with `status`
/// and `body`.
async fn answer_second(emu: &Emulator, status: u16, body: serde_json::Value) {
    emu.clear_faults().await;
    emu.add_fault(Fault {
        endpoint: Endpoint::KeyVault,
        times: Some(1),
        ..Fault::default()
    })
    .await;
    emu.add_fault(Fault {
        endpoint: Endpoint::KeyVault,
        status: Some(status),
        body: Some(body),
        times: Some(1),
        ..Fault::default()
    })
    .await;
}

#[tokio::test]
async fn a_secret_id_for_another_vault_name_or_version_is_refused() {
    let emu = Emulator::start(EmulatorConfig::sample()).await.unwrap();
    let latest = reference("@KeyVault(VaultName=myvault;SecretName=DbPassword)");
    let pinned = reference(&format!(
        "@KeyVault(VaultName=myvault;SecretName=DbPassword;SecretVersion={VERSION_A})"
    ));
    let cases = [
        (
            &latest,
            format!("https://othervault.vault.azure.net/secrets/DbPassword/{VERSION_F}"),
            "another vault",
        ),
        (
            &latest,
            format!("https://evil.example/secrets/DbPassword/{VERSION_F}"),
            "another vault",
        ),
        (
            &latest,
            format!("https://myvault.vault.azure.net/secrets/Other/{VERSION_F}"),
            "another secret",
        ),
        (
            &pinned,
            format!("https://myvault.vault.azure.net/secrets/DbPassword/{VERSION_F}"),
            "another version",
        ),
    ];
    for (reference, id, says) in cases {
        answer_second(&emu, 200, json!({"value": "INJECTED-VALUE", "id": id})).await;
        let client = fast_client(CountingCredential::fixed(), emu::transport(&emu));
        let error = client.get_secret(reference).await.unwrap_err();
        assert_eq!(
            error.kind(),
            VaultErrorKind::InvalidResponse,
            "{id}: {error}"
        );
        assert!(error.to_string().contains(says), "{id}: {error}");
        assert!(!error.to_string().contains("INJECTED"), "{error}");
    }
    // The same name in another case is the same secret.
    answer_second(
        &emu,
        200,
        json!({"value": "v", "id": format!("https://MyVault.vault.azure.net/secrets/dbpassword/{VERSION_F}")}),
    )
    .await;
    let client = fast_client(CountingCredential::fixed(), emu::transport(&emu));
    let secret = client.get_secret(&latest).await.unwrap();
    assert_eq!(secret.version(), Some(VERSION_F));
}

#[tokio::test]
async fn key_vault_text_is_escaped_and_the_token_scrubbed() {
    let emu = Emulator::start(EmulatorConfig::sample()).await.unwrap();
    // CountingCredential::fixed() sends the token `fixed-test-token`.
    answer_second(
        &emu,
        403,
        json!({"error": {"code": "Forbidden\u{1b}[2J", "message": "Invalid audience in token Bearer fixed-test-token \u{1b}[2J\u{1b}[31m FAKE: all references Resolved\u{1b}[0m and eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.e30.c2lnbmF0dXJl"}}),
    )
    .await;
    let client = fast_client(CountingCredential::fixed(), emu::transport(&emu));
    let error = client
        .get_secret(&reference(
            "@KeyVault(VaultName=myvault;SecretName=DbPassword)",
        ))
        .await
        .unwrap_err();
    let shown = format!(
        "{error} {:?} {:?} {error:?}",
        error.service_message(),
        error.code()
    );
    assert!(!shown.contains("fixed-test-token"), "{shown}");
    assert!(!shown.contains("eyJ0eXAi"), "{shown}");
    assert!(!shown.contains('\u{1b}'), "{shown}");
    let message = error.service_message().unwrap();
    assert!(
        message.contains("<redacted>") && message.contains("\\u{1b}[2J"),
        "{message}"
    );
    assert_eq!(error.code(), Some("Forbidden\\u{1b}[2J"));
}

#[tokio::test]
async fn identity_text_is_escaped_and_the_identity_secrets_scrubbed() {
    let emu = cred_emulator::start(Identities::ALL).await;
    let env = cred_emulator::env(&emu, "app_service");
    let header = env.get("IDENTITY_HEADER").unwrap().to_owned();
    emu.add_fault(Fault {
        endpoint: Endpoint::AppService,
        status: Some(401),
        body: Some(
            json!({"message": format!("invalid X-IDENTITY-HEADER value {header}\u{1b}[2J")}),
        ),
        ..Fault::default()
    })
    .await;
    let error = ManagedIdentityCredential::new(ManagedIdentityOptions::new(
        env,
        cred_emulator::transport(&emu),
    ))
    .unwrap()
    .get_token(&TokenRequest::new(SCOPE))
    .await
    .unwrap_err();
    let shown = format!("{error} {error:?}");
    assert!(!shown.contains(&header), "{shown}");
    assert!(!shown.contains('\u{1b}'), "{shown}");
    assert!(
        error.to_string().contains("<redacted>\\u{1b}[2J"),
        "{error}"
    );

    // Entra ID quoting the client secret back.
    emu.clear_faults().await;
    emu.add_fault(Fault {
        endpoint: Endpoint::Entra,
        status: Some(401),
        body: Some(json!({"error": "invalid_client", "error_description": format!("secret {} is wrong\u{7}", cred_emulator::SP_SECRET)})),
        ..Fault::default()
    })
    .await;
    let error = EnvironmentCredential::new(
        &cred_emulator::service_principal_env(&emu),
        cred_emulator::transport(&emu),
    )
    .unwrap()
    .get_token(&TokenRequest::new(SCOPE))
    .await
    .unwrap_err();
    let shown = format!("{error} {error:?}");
    assert!(!shown.contains(cred_emulator::SP_SECRET), "{shown}");
    assert!(!shown.contains('\u{7}'), "{shown}");
    assert!(
        error
            .to_string()
            .contains("secret <redacted> is wrong\\u{7}"),
        "{error}"
    );
}

#[tokio::test]
async fn a_token_expired_on_arrival_is_refused_and_not_cached() {
    let emu = cred_emulator::start(Identities::ALL).await;
    emu.add_fault(Fault {
        endpoint: Endpoint::AppService,
        status: Some(200),
        body: Some(json!({"access_token": "expired-token-value", "expires_on": "1000000000", "resource": "https://vault.azure.net", "token_type": "Bearer"})),
        ..Fault::default()
    })
    .await;
    let credential = TokenCache::new(Arc::new(
        ManagedIdentityCredential::new(ManagedIdentityOptions::new(
            cred_emulator::env(&emu, "app_service"),
            cred_emulator::transport(&emu),
        ))
        .unwrap(),
    ));
    for _ in 0..2 {
        let error = credential
            .get_token(&TokenRequest::new(SCOPE))
            .await
            .unwrap_err();
        assert_eq!(
            error.kind(),
            CredentialErrorKind::InvalidResponse,
            "{error}"
        );
        assert!(error.to_string().contains("already expired"), "{error}");
    }
    // Asked again each time: nothing expired was cached.
    let requests = cred_emulator::requests_to(&emu, Endpoint::AppService).await;
    assert_eq!(requests.len(), 2, "{requests:?}");
}

#[tokio::test]
async fn a_vault_certificate_nobody_trusts_is_refused_once() {
    let emu = Emulator::start(EmulatorConfig::sample()).await.unwrap();
    let relay = Relay::start(emu.https_addr()).await;
    // Routed to the emulator through the relay, but without trusting its CA.
    let transport = HttpTransport::builder()
        .route(".vault.azure.net", relay.addr)
        .build()
        .unwrap();
    let error = fast_client(CountingCredential::fixed(), transport)
        .get_secret(&reference(
            "@KeyVault(VaultName=myvault;SecretName=DbPassword)",
        ))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), VaultErrorKind::Unreachable, "{error}");
    assert!(error.to_string().contains("certificate"), "{error}");
    assert_eq!(relay.connections(), 1, "a TLS rejection was retried");
}
