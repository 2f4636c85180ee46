//! Workload identity and the environment's client secret against the emulator's Entra ID.

use crate::support::cred_emulator::*;
use kvref::Env;
use kvref::credential::{
    CredentialErrorKind, DefaultCredential, DefaultCredentialOptions, EnvironmentCredential,
    TokenCredential, TokenRequest, WorkloadIdentityCredential,
};
use kvref_emulator::{Emulator, Endpoint};

fn request() -> TokenRequest {
    TokenRequest::new(SCOPE)
}

/// The emulator's workload identity environment, with the token file copied to a file the test
/// controls (as the kubelet would rotate it).
fn workload_env(emu: &Emulator, dir: &tempfile::TempDir) -> (Env, std::path::PathBuf) {
    let mut env = env(emu, "workload_identity");
    let original = env.get("AZURE_FEDERATED_TOKEN_FILE").unwrap().to_owned();
    let file = dir.path().join("azure-identity-token");
    std::fs::copy(original, &file).unwrap();
    env.set("AZURE_FEDERATED_TOKEN_FILE", file.to_str().unwrap());
    (env, file)
}

#[tokio::test]
async fn workload_identity_gets_a_token_for_its_client() {
    let emu = start(Identities::ALL).await;
    let credential =
        WorkloadIdentityCredential::new(&env(&emu, "workload_identity"), transport(&emu)).unwrap();
    let token = credential.get_token(&request()).await.unwrap();
    let claims = claims(token.secret());
    assert_eq!(claims["appid"], SP_CLIENT_ID);
    assert_eq!(claims["aud"], "https://vault.azure.net");
    let served = requests_to(&emu, Endpoint::Entra).await;
    assert_eq!(served.len(), 1);
    assert_eq!(served[0].method, "POST");
    assert_eq!(served[0].path, format!("/{TENANT}/oauth2/v2.0/token"));
}

#[tokio::test]
async fn the_authority_host_works_with_and_without_a_trailing_slash() {
    let emu = start(Identities::ALL).await;
    let base = env(&emu, "workload_identity");
    let host = base.get("AZURE_AUTHORITY_HOST").unwrap().to_owned();
    assert!(
        host.ends_with('/'),
        "the webhook's form has a trailing slash: {host}"
    );
    for value in [host.clone(), host.trim_end_matches('/').to_owned()] {
        emu.clear_requests().await;
        let mut env = base.clone();
        env.set("AZURE_AUTHORITY_HOST", value.as_str());
        WorkloadIdentityCredential::new(&env, transport(&emu))
            .unwrap()
            .get_token(&request())
            .await
            .unwrap_or_else(|e| panic!("{value}: {e}"));
        let served = requests_to(&emu, Endpoint::Entra).await;
        assert_eq!(
            served[0].path,
            format!("/{TENANT}/oauth2/v2.0/token"),
            "{value}"
        );
    }
    // Plain http is refused before any request.
    let mut env = base.clone();
    env.set("AZURE_AUTHORITY_HOST", host.replace("https://", "http://"));
    let err = WorkloadIdentityCredential::new(&env, transport(&emu)).unwrap_err();
    assert_eq!(err.kind(), CredentialErrorKind::InvalidConfiguration);
}

#[tokio::test]
async fn the_federated_token_file_is_read_again_for_every_request() {
    let emu = start(Identities::ALL).await;
    let dir = tempfile::tempdir().unwrap();
    let (env, file) = workload_env(&emu, &dir);
    let credential = WorkloadIdentityCredential::new(&env, transport(&emu)).unwrap();
    credential.get_token(&request()).await.unwrap();

    // The kubelet rotates the file (here: to a token Entra does not accept).
    std::fs::write(&file, "eyJhbGciOiJub25lIn0.eyJzdWIiOiJyb3RhdGVkIn0.").unwrap();
    let err = credential.get_token(&request()).await.unwrap_err();
    assert_eq!(err.kind(), CredentialErrorKind::Refused, "{err}");
    assert!(err.message().contains("AADSTS"), "{err}");
    assert!(err.fix().unwrap().contains("federated identity credential"));
    assert!(!err.is_unavailable(), "a refusal stops a chain");

    // ...and back to a valid one, without rebuilding the credential.
    std::fs::write(&file, SP_FEDERATED_TOKEN).unwrap();
    credential.get_token(&request()).await.unwrap();

    std::fs::remove_file(&file).unwrap();
    let err = credential.get_token(&request()).await.unwrap_err();
    assert_eq!(err.kind(), CredentialErrorKind::InvalidConfiguration);
    assert!(err.message().contains("AZURE_FEDERATED_TOKEN_FILE"));
}

fn secret_env(emu: &Emulator, secret: &str) -> Env {
    let host = env(emu, "workload_identity")
        .get("AZURE_AUTHORITY_HOST")
        .unwrap()
        .to_owned();
    Env::from_pairs([
        ("AZURE_TENANT_ID", TENANT),
        ("AZURE_CLIENT_ID", SP_CLIENT_ID),
        ("AZURE_CLIENT_SECRET", secret),
        ("AZURE_AUTHORITY_HOST", host.as_str()),
    ])
}

#[tokio::test]
async fn environment_client_secret() {
    let emu = start(Identities::ALL).await;
    let credential =
        EnvironmentCredential::new(&secret_env(&emu, SP_SECRET), transport(&emu)).unwrap();
    let token = credential.get_token(&request()).await.unwrap();
    assert_eq!(claims(token.secret())["oid"], SP_OBJECT_ID);

    let wrong = "not-the-secret-0451";
    let err = EnvironmentCredential::new(&secret_env(&emu, wrong), transport(&emu))
        .unwrap()
        .get_token(&request())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), CredentialErrorKind::Refused);
    assert!(err.message().contains("AADSTS7000215"), "{err}");
    assert!(err.fix().unwrap().contains("AZURE_CLIENT_SECRET"));
    assert!(!format!("{err} {err:?}").contains(wrong));
}

#[tokio::test]
async fn a_token_for_another_tenant_needs_permission() {
    let emu = start(Identities::ALL).await;
    let other = "11111111-2222-3333-4444-555555555555";
    let request = TokenRequest::new(SCOPE).with_tenant(other);
    let credential =
        EnvironmentCredential::new(&secret_env(&emu, SP_SECRET), transport(&emu)).unwrap();
    let err = credential.get_token(&request).await.unwrap_err();
    assert_eq!(err.kind(), CredentialErrorKind::InvalidConfiguration);
    assert!(
        err.fix()
            .unwrap()
            .contains("AZURE_ADDITIONALLY_ALLOWED_TENANTS")
    );
    assert!(requests_to(&emu, Endpoint::Entra).await.is_empty());

    // Allowed: the request goes to that tenant (which the emulator does not know).
    let mut env = secret_env(&emu, SP_SECRET);
    env.set("AZURE_ADDITIONALLY_ALLOWED_TENANTS", format!("x;{other}"));
    let err = EnvironmentCredential::new(&env, transport(&emu))
        .unwrap()
        .get_token(&request)
        .await
        .unwrap_err();
    assert!(err.message().contains("AADSTS90002"), "{err}");
    let served = requests_to(&emu, Endpoint::Entra).await;
    assert_eq!(served[0].path, format!("/{other}/oauth2/v2.0/token"));
}

#[tokio::test]
async fn the_chain_picks_the_configured_non_managed_credential() {
    let emu = start(Identities::ALL).await;
    for (env, expected) in [
        (secret_env(&emu, SP_SECRET), "EnvironmentCredential"),
        (env(&emu, "workload_identity"), "WorkloadIdentityCredential"),
    ] {
        let chain = DefaultCredential::new(
            DefaultCredentialOptions::new(env, transport(&emu)).exclude_developer_credentials(),
        )
        .unwrap();
        let token = chain.get_token(&request()).await.unwrap();
        assert_eq!(claims(token.secret())["appid"], SP_CLIENT_ID);
        assert_eq!(chain.selected(), Some(expected));
    }
    // Neither touched a managed identity endpoint.
    assert!(
        emu.requests()
            .await
            .iter()
            .all(|e| e.endpoint == Endpoint::Entra)
    );
}
