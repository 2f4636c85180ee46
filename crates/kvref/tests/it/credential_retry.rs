//! Retries of the identity endpoints against the emulator, with paused tokio time: the waits are
//! virtual, the requests real. Requests are counted in the emulator's journal.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::support::cred_emulator::*;
use kvref::credential::{
    CredentialErrorKind, DefaultCredential, DefaultCredentialOptions, ManagedIdentityCredential,
    ManagedIdentityOptions, RetryOptions, TokenCredential, TokenRequest,
};
use kvref_emulator::{Emulator, Endpoint, Fault};
use tokio::time::Instant;

fn imds(emu: &Emulator, retry: RetryOptions) -> ManagedIdentityCredential {
    ManagedIdentityCredential::new(
        ManagedIdentityOptions::new(env(emu, "imds"), transport(emu)).with_imds_retry(retry),
    )
    .unwrap()
}

fn fault(endpoint: Endpoint, status: u16, times: Option<u32>) -> Fault {
    Fault {
        endpoint,
        status: Some(status),
        times,
        ..Fault::default()
    }
}

async fn statuses(emu: &Emulator, endpoint: Endpoint) -> Vec<u16> {
    requests_to(emu, endpoint)
        .await
        .iter()
        .map(|e| e.status)
        .collect()
}

#[tokio::test(start_paused = true)]
async fn imds_410_is_retried_for_at_least_70_seconds() {
    let emu = start(Identities::ALL).await;
    emu.add_fault(fault(Endpoint::Imds, 410, None)).await;
    let started = Instant::now();
    let err = imds(&emu, RetryOptions::imds())
        .get_token(&TokenRequest::new(SCOPE))
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    assert_eq!(err.kind(), CredentialErrorKind::Unreachable, "{err}");
    assert!(err.message().contains("HTTP 410"), "{err}");
    assert!(
        elapsed >= Duration::from_secs(70),
        "gave up after {elapsed:?}"
    );
    // Attempts at 0, 2, 6, 14, 30, 62 and 80 s of virtual time.
    assert_eq!(statuses(&emu, Endpoint::Imds).await, [410; 7]);
}

#[tokio::test(start_paused = true)]
async fn imds_410_then_success() {
    let emu = start(Identities::ALL).await;
    emu.add_fault(fault(Endpoint::Imds, 410, Some(5))).await;
    let started = Instant::now();
    let token = imds(&emu, RetryOptions::imds())
        .get_token(&TokenRequest::new(SCOPE))
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_secs(62));
    assert_eq!(claims(token.secret())["oid"], SYSTEM_OBJECT_ID);
    assert_eq!(
        statuses(&emu, Endpoint::Imds).await,
        [410, 410, 410, 410, 410, 200]
    );
}

#[tokio::test(start_paused = true)]
async fn the_retry_budget_is_configurable() {
    let emu = start(Identities::ALL).await;
    emu.add_fault(fault(Endpoint::Imds, 410, None)).await;
    let started = Instant::now();
    let err = imds(
        &emu,
        RetryOptions::imds().with_max_elapsed(Duration::from_secs(10)),
    )
    .get_token(&TokenRequest::new(SCOPE))
    .await
    .unwrap_err();
    assert_eq!(err.kind(), CredentialErrorKind::Unreachable);
    assert!(err.fix().unwrap().contains("max_elapsed"));
    assert!(started.elapsed() <= Duration::from_secs(11));
    // Attempts at 0, 2, 6 and 10 s.
    assert_eq!(statuses(&emu, Endpoint::Imds).await, [410; 4]);

    emu.clear_requests().await;
    let err = imds(&emu, RetryOptions::none())
        .get_token(&TokenRequest::new(SCOPE))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), CredentialErrorKind::Unreachable);
    assert_eq!(statuses(&emu, Endpoint::Imds).await, [410]);
}

#[tokio::test(start_paused = true)]
async fn imds_429_then_success_honours_retry_after() {
    let emu = start(Identities::ALL).await;
    emu.add_fault(Fault {
        headers: BTreeMap::from([("Retry-After".to_owned(), "9".to_owned())]),
        ..fault(Endpoint::Imds, 429, Some(1))
    })
    .await;
    let started = Instant::now();
    imds(&emu, RetryOptions::imds())
        .get_token(&TokenRequest::new(SCOPE))
        .await
        .unwrap();
    // The backoff alone would have waited 2 s.
    assert!(started.elapsed() >= Duration::from_secs(9));
    assert_eq!(statuses(&emu, Endpoint::Imds).await, [429, 200]);
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_beyond_the_budget_stops_at_once() {
    let emu = start(Identities::ALL).await;
    emu.add_fault(Fault {
        headers: BTreeMap::from([("Retry-After".to_owned(), "3600".to_owned())]),
        ..fault(Endpoint::Imds, 429, None)
    })
    .await;
    let err = imds(&emu, RetryOptions::imds())
        .get_token(&TokenRequest::new(SCOPE))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), CredentialErrorKind::Unreachable);
    assert_eq!(statuses(&emu, Endpoint::Imds).await, [429]);
}

#[tokio::test(start_paused = true)]
async fn imds_retries_404_and_5xx() {
    let emu = start(Identities::ALL).await;
    for status in [500, 404, 503] {
        emu.add_fault(fault(Endpoint::Imds, status, Some(1))).await;
    }
    imds(&emu, RetryOptions::imds())
        .get_token(&TokenRequest::new(SCOPE))
        .await
        .unwrap();
    assert_eq!(statuses(&emu, Endpoint::Imds).await, [500, 404, 503, 200]);
}

#[tokio::test(start_paused = true)]
async fn app_service_retries_transient_statuses_but_not_404() {
    let emu = start(Identities::ALL).await;
    let credential = ManagedIdentityCredential::new(ManagedIdentityOptions::new(
        env(&emu, "app_service"),
        transport(&emu),
    ))
    .unwrap();
    emu.add_fault(fault(Endpoint::AppService, 503, Some(1)))
        .await;
    emu.add_fault(fault(Endpoint::AppService, 429, Some(1)))
        .await;
    credential
        .get_token(&TokenRequest::new(SCOPE))
        .await
        .unwrap();
    assert_eq!(statuses(&emu, Endpoint::AppService).await, [503, 429, 200]);

    emu.clear_requests().await;
    emu.add_fault(fault(Endpoint::AppService, 404, Some(1)))
        .await;
    let err = credential
        .get_token(&TokenRequest::new(SCOPE))
        .await
        .unwrap_err();
    assert_eq!(statuses(&emu, Endpoint::AppService).await, [404]);
    // A 404 without an App Service message is not "identity not found": it is reported as is.
    assert_eq!(err.kind(), CredentialErrorKind::Refused, "{err}");
    assert!(err.message().contains("HTTP 404"), "{err}");
}

fn prod_chain(emu: &Emulator) -> DefaultCredential {
    let mut env = env(emu, "imds");
    env.set("AZURE_TOKEN_CREDENTIALS", "prod");
    DefaultCredential::new(DefaultCredentialOptions::new(env, transport(emu))).unwrap()
}

#[tokio::test(start_paused = true)]
async fn the_chain_probes_imds_once_without_the_metadata_header() {
    let emu = start(Identities::ALL).await;
    let chain = prod_chain(&emu);
    for _ in 0..2 {
        let token = chain.get_token(&TokenRequest::new(SCOPE)).await.unwrap();
        assert_eq!(claims(token.secret())["oid"], SYSTEM_OBJECT_ID);
    }
    assert_eq!(chain.selected(), Some("ManagedIdentityCredential"));
    let served = requests_to(&emu, Endpoint::Imds).await;
    // The probe (no query, no Metadata header: IMDS answers 400), then two token requests.
    assert_eq!(served.len(), 3, "{served:?}");
    assert_eq!((served[0].query.as_str(), served[0].status), ("", 400));
    assert!(
        served[1..]
            .iter()
            .all(|e| e.status == 200 && e.query.contains("resource="))
    );
}

#[tokio::test(start_paused = true)]
async fn a_silent_imds_makes_the_chain_fail_fast() {
    let emu = start(Identities::ALL).await;
    emu.add_fault(Fault {
        endpoint: Endpoint::Imds,
        delay_ms: 600_000,
        times: Some(1),
        ..Fault::default()
    })
    .await;
    let started = Instant::now();
    let err = prod_chain(&emu)
        .get_token(&TokenRequest::new(SCOPE))
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(err.kind(), CredentialErrorKind::Unavailable);
    assert!(
        err.message()
            .contains("ManagedIdentityCredential: no managed identity endpoint"),
        "{err}"
    );
    assert!(
        err.message().contains("did not answer within 1000 ms"),
        "{err}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_chain_narrowed_to_managed_identity_does_not_probe() {
    let emu = start(Identities::ALL).await;
    let mut env = env(&emu, "imds");
    env.set("AZURE_TOKEN_CREDENTIALS", "ManagedIdentityCredential");
    let chain =
        DefaultCredential::new(DefaultCredentialOptions::new(env, transport(&emu))).unwrap();
    assert_eq!(
        chain.members().collect::<Vec<_>>(),
        ["ManagedIdentityCredential"]
    );
    chain.get_token(&TokenRequest::new(SCOPE)).await.unwrap();
    let served = requests_to(&emu, Endpoint::Imds).await;
    assert_eq!(served.len(), 1);
    assert!(served[0].query.contains("resource="));
}
