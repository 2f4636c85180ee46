//! Everything kvref logs at TRACE level while getting tokens from every source, retrying,
//! failing and refreshing is captured, and must contain no token and no identity secret.

use std::sync::Arc;
use std::time::Duration;

use crate::support::cred_emulator::*;
use kvref::Env;
use kvref::credential::{
    DefaultCredential, DefaultCredentialOptions, EnvironmentCredential, ManagedIdentityCredential,
    ManagedIdentityOptions, RetryOptions, TokenCache, TokenCredential, TokenRequest,
    UserAssignedId, WorkloadIdentityCredential,
};
use kvref_emulator::{Endpoint, Fault};

use crate::capture;

#[tokio::test(start_paused = true)]
async fn no_token_or_identity_secret_reaches_the_logs() {
    capture::start();

    let emu = start_with_lifetime(Identities::ALL, 600).await;
    let transport = transport(&emu);
    let request = TokenRequest::new(SCOPE);
    let mut tokens: Vec<String> = Vec::new();
    let mut secrets: Vec<String> = vec![SP_SECRET.into(), SP_FEDERATED_TOKEN.into()];

    let mi = |env: Env, id: Option<UserAssignedId>| {
        let mut options = ManagedIdentityOptions::new(env, transport.clone());
        options.user_assigned = id;
        ManagedIdentityCredential::new(options).unwrap()
    };

    // Every managed identity source, system-assigned.
    for source in MANAGED_IDENTITY_SOURCES {
        let env = env(&emu, source);
        secrets.extend(identity_secrets(&env));
        let token = mi(env, None).get_token(&request).await.unwrap();
        tokens.push(token.secret().to_owned());
    }
    // A user-assigned identity, after a throttled first attempt.
    emu.add_fault(Fault {
        endpoint: Endpoint::Imds,
        status: Some(429),
        times: Some(1),
        ..Fault::default()
    })
    .await;
    let token = mi(
        env(&emu, "imds"),
        Some(UserAssignedId::ClientId(UAMI_CLIENT_ID.into())),
    )
    .get_token(&request)
    .await
    .unwrap();
    tokens.push(token.secret().to_owned());
    // Failures: a wrong header, a response that is not a token but carries one.
    let wrong = env_with(
        &emu,
        "app_service",
        &[("IDENTITY_HEADER", "wrong-identity-header-7731")],
    );
    secrets.push("wrong-identity-header-7731".into());
    mi(wrong, None).get_token(&request).await.unwrap_err();
    emu.add_fault(Fault {
        endpoint: Endpoint::AppService,
        status: Some(200),
        body: Some(serde_json::json!({"access_token": "fault-token-5521", "expires_on": "never"})),
        times: Some(1),
        ..Fault::default()
    })
    .await;
    secrets.push("fault-token-5521".into());
    mi(env(&emu, "app_service"), None)
        .get_token(&request)
        .await
        .unwrap_err();

    // Entra: workload identity and a client secret.
    let token = WorkloadIdentityCredential::new(&env(&emu, "workload_identity"), transport.clone())
        .unwrap()
        .get_token(&request)
        .await
        .unwrap();
    tokens.push(token.secret().to_owned());
    let secret_env = service_principal_env(&emu);
    let token = EnvironmentCredential::new(&secret_env, transport.clone())
        .unwrap()
        .get_token(&request)
        .await
        .unwrap();
    tokens.push(token.secret().to_owned());

    // The chain with its IMDS probe, behind a cache that refreshes and then fails to refresh.
    let mut prod = env(&emu, "imds");
    prod.set("AZURE_TOKEN_CREDENTIALS", "prod");
    let chain = DefaultCredential::new(
        DefaultCredentialOptions::new(prod, transport.clone())
            .with_imds_retry(RetryOptions::none()),
    )
    .unwrap();
    let cache = TokenCache::new(Arc::new(chain));
    tokens.push(cache.get_token(&request).await.unwrap().secret().to_owned());
    tokio::time::advance(Duration::from_secs(301)).await;
    tokens.push(cache.get_token(&request).await.unwrap().secret().to_owned());
    emu.add_fault(Fault {
        endpoint: Endpoint::Imds,
        status: Some(503),
        times: None,
        ..Fault::default()
    })
    .await;
    tokio::time::advance(Duration::from_secs(301)).await;
    tokens.push(cache.get_token(&request).await.unwrap().secret().to_owned());

    // Every test of this binary logs into one buffer: the leak scan covers all of it.
    let log = capture::text();
    // The capture works: spans with their fields, retries, the failures and the kept token.
    // Service Fabric, workload identity, a refused header and a kept token appear only in this
    // scenario.
    for expected in [
        "token_request",
        "app_service",
        "service_fabric",
        "workload_identity",
        "client_id",
        "status",
        "elapsed_ms",
        "retrying",
        "refused",
        "keeping the current token",
    ] {
        assert!(
            log.contains(expected),
            "'{expected}' missing from the capture:\n{log}"
        );
    }
    assert!(tokens.len() >= 12);
    for token in &tokens {
        assert!(token.len() > 40, "{token}");
        assert!(!log.contains(token.as_str()), "a token reached the logs");
        let signature = token.rsplit('.').next().unwrap();
        assert!(
            !log.contains(signature),
            "a token signature reached the logs"
        );
    }
    for secret in &secrets {
        assert!(
            !log.contains(secret.as_str()),
            "a secret reached the logs: {secret}"
        );
    }
}

#[tokio::test]
async fn debug_output_of_every_credential_hides_secrets() {
    let emu = start(Identities::ALL).await;
    let transport = transport(&emu);
    let mut secrets = vec![SP_SECRET.to_owned()];
    let mut shown = String::new();
    for source in MANAGED_IDENTITY_SOURCES {
        let env = env(&emu, source);
        secrets.extend(identity_secrets(&env));
        let credential = ManagedIdentityCredential::new(ManagedIdentityOptions::new(
            env.clone(),
            transport.clone(),
        ))
        .unwrap();
        shown += &format!("{credential:?}\n{env:?}\n");
        let chain =
            DefaultCredential::new(DefaultCredentialOptions::new(env, transport.clone())).unwrap();
        shown += &format!("{chain:?}\n");
    }
    let secret_env = service_principal_env(&emu);
    let environment = EnvironmentCredential::new(&secret_env, transport.clone()).unwrap();
    let workload =
        WorkloadIdentityCredential::new(&env(&emu, "workload_identity"), transport).unwrap();
    shown += &format!("{environment:?}\n{workload:?}\n");
    assert!(
        shown.contains("ManagedIdentityCredential") || shown.contains("source"),
        "{shown}"
    );
    for secret in &secrets {
        assert!(
            !shown.contains(secret.as_str()),
            "a secret in Debug output: {shown}"
        );
    }
}
