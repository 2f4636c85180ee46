//! DefaultCredential against the emulator's identity sources, with fake developer tools on PATH
//! that record whether they were asked.
#![cfg(unix)]

use crate::support::cred_emulator::*;
use crate::support::cred_support::{AZD_NOT_LOGGED_IN, FakeTools, az_token_json};
use kvref::Env;
use kvref::credential::{
    CredentialErrorKind, DefaultCredential, DefaultCredentialOptions, TokenCredential,
    TokenRequest, UserAssignedId,
};
use kvref_emulator::{Emulator, Endpoint};

fn with_tools(emu: &Emulator, source: &str, tools: &FakeTools) -> Env {
    tools.script(
        "az",
        &format!("echo '{}'", az_token_json("developer-token", 2147385600)),
    );
    tools.script("azd", AZD_NOT_LOGGED_IN);
    let mut env = env(emu, source);
    env.set("PATH", tools.path());
    env
}

fn chain(emu: &Emulator, env: Env) -> DefaultCredential {
    DefaultCredential::new(DefaultCredentialOptions::new(env, transport(emu))).unwrap()
}

#[tokio::test]
async fn every_managed_identity_source_is_found_by_the_chain_before_developer_tools() {
    let emu = start(Identities::ALL).await;
    for source in MANAGED_IDENTITY_SOURCES {
        let tools = FakeTools::new();
        let chain = chain(&emu, with_tools(&emu, source, &tools));
        let token = chain.get_token(&TokenRequest::new(SCOPE)).await.unwrap();
        assert_eq!(claims(token.secret())["oid"], SYSTEM_OBJECT_ID, "{source}");
        assert_eq!(
            chain.selected(),
            Some("ManagedIdentityCredential"),
            "{source}"
        );
        assert!(tools.calls("az").is_empty(), "{source}: az must not run");
    }
}

#[tokio::test]
async fn the_chain_passes_the_user_assigned_identity_and_azure_client_id() {
    let emu = start(Identities::ALL).await;
    let tools = FakeTools::new();
    let mut env = with_tools(&emu, "app_service", &tools);
    env.set("AZURE_CLIENT_ID", UAMI_CLIENT_ID);
    let token = chain(&emu, env.clone())
        .get_token(&TokenRequest::new(SCOPE))
        .await
        .unwrap();
    assert_eq!(claims(token.secret())["oid"], UAMI_OBJECT_ID);

    let options = DefaultCredentialOptions::new(env, transport(&emu))
        .with_user_assigned(UserAssignedId::ObjectId(OTHER_OBJECT_ID.into()));
    let token = DefaultCredential::new(options)
        .unwrap()
        .get_token(&TokenRequest::new(SCOPE))
        .await
        .unwrap();
    assert_eq!(claims(token.secret())["oid"], OTHER_OBJECT_ID);
    let queries: Vec<String> = requests_to(&emu, Endpoint::AppService)
        .await
        .into_iter()
        .map(|e| e.query)
        .collect();
    assert!(queries[0].contains(&format!("client_id={UAMI_CLIENT_ID}")));
    assert!(queries[1].contains(&format!("principal_id={OTHER_OBJECT_ID}")));
}

#[tokio::test]
async fn a_missing_identity_moves_on_to_the_developer_login() {
    // The endpoint exists but the app has no identity: unavailable, so a developer's az works.
    let emu = start(Identities::NONE).await;
    let tools = FakeTools::new();
    let chain = chain(&emu, with_tools(&emu, "app_service", &tools));
    let token = chain.get_token(&TokenRequest::new(SCOPE)).await.unwrap();
    assert_eq!(token.secret(), "developer-token");
    assert_eq!(chain.selected(), Some("AzureCliCredential"));

    // With developer tools excluded, the error says what to enable.
    let tools = FakeTools::new();
    let options =
        DefaultCredentialOptions::new(with_tools(&emu, "app_service", &tools), transport(&emu))
            .exclude_developer_credentials();
    let err = DefaultCredential::new(options)
        .unwrap()
        .get_token(&TokenRequest::new(SCOPE))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), CredentialErrorKind::Unavailable);
    assert!(
        err.message().contains(
            "ManagedIdentityCredential: App Service could not load the system-assigned identity"
        ),
        "{err}"
    );
    assert!(err.message().contains("az webapp identity assign"), "{err}");
    assert!(tools.calls("az").is_empty());
}

#[tokio::test]
async fn a_refused_managed_identity_stops_the_chain() {
    let emu = start(Identities::ALL).await;
    let tools = FakeTools::new();
    let mut env = with_tools(&emu, "app_service", &tools);
    env.set("IDENTITY_HEADER", "stale-header");
    let chain = chain(&emu, env);
    let err = chain
        .get_token(&TokenRequest::new(SCOPE))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), CredentialErrorKind::Refused);
    assert_eq!(err.credential(), "ManagedIdentityCredential");
    assert!(
        tools.calls("az").is_empty(),
        "az must not hide a production failure"
    );
    assert_eq!(chain.selected(), None);
}
