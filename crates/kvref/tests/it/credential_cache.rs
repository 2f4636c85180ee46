//! The token cache in front of a real credential, against the emulator: one request however many
//! callers, refresh ahead of expiry exactly once, and the old token kept when a refresh fails.

use std::sync::Arc;
use std::time::Duration;

use crate::support::cred_emulator::*;
use kvref::credential::{
    ManagedIdentityCredential, ManagedIdentityOptions, TokenCache, TokenCredential, TokenRequest,
};
use kvref_emulator::{Emulator, Endpoint, Fault};

fn cached_app_service(emu: &Emulator) -> Arc<TokenCache> {
    let credential = ManagedIdentityCredential::new(ManagedIdentityOptions::new(
        env(emu, "app_service"),
        transport(emu),
    ))
    .unwrap();
    Arc::new(TokenCache::new(Arc::new(credential)))
}

async fn app_service_requests(emu: &Emulator) -> usize {
    requests_to(emu, Endpoint::AppService).await.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_concurrent_callers_cause_one_token_request() {
    let emu = start(Identities::ALL).await;
    let cache = cached_app_service(&emu);
    let start = Arc::new(tokio::sync::Barrier::new(100));
    let callers: Vec<_> = (0..100)
        .map(|_| {
            let cache = cache.clone();
            let start = start.clone();
            tokio::spawn(async move {
                start.wait().await;
                cache.get_token(&TokenRequest::new(SCOPE)).await
            })
        })
        .collect();
    let mut tokens = Vec::new();
    for caller in callers {
        tokens.push(caller.await.unwrap().unwrap().secret().to_owned());
    }
    assert!(tokens.windows(2).all(|w| w[0] == w[1]));
    assert_eq!(app_service_requests(&emu).await, 1);

    // Another scope is another cache entry; the same scope again is not.
    cache
        .get_token(&TokenRequest::new("https://management.azure.com/.default"))
        .await
        .unwrap();
    cache.get_token(&TokenRequest::new(SCOPE)).await.unwrap();
    assert_eq!(app_service_requests(&emu).await, 2);
}

#[tokio::test(start_paused = true)]
async fn a_token_near_expiry_is_refreshed_before_it_expires_and_only_once() {
    // Tokens live 10 minutes: refreshed from 5 minutes before expiry.
    let emu = start_with_lifetime(Identities::ALL, 600).await;
    let cache = cached_app_service(&emu);
    let first = cache.get_token(&TokenRequest::new(SCOPE)).await.unwrap();
    assert_eq!(app_service_requests(&emu).await, 1);

    tokio::time::advance(Duration::from_secs(299)).await;
    cache.get_token(&TokenRequest::new(SCOPE)).await.unwrap();
    assert_eq!(app_service_requests(&emu).await, 1, "still fresh");

    // 301 s in: 299 s before expiry. Many callers at once; one refresh.
    tokio::time::advance(Duration::from_secs(2)).await;
    let callers: Vec<_> = (0..50)
        .map(|_| {
            let cache = cache.clone();
            tokio::spawn(async move { cache.get_token(&TokenRequest::new(SCOPE)).await })
        })
        .collect();
    for caller in callers {
        caller.await.unwrap().unwrap();
    }
    assert_eq!(app_service_requests(&emu).await, 2);
    let refreshed = cache.get_token(&TokenRequest::new(SCOPE)).await.unwrap();
    assert!(refreshed.expires_on() >= first.expires_on());

    // The new token is fresh for another 5 minutes.
    tokio::time::advance(Duration::from_secs(290)).await;
    cache.get_token(&TokenRequest::new(SCOPE)).await.unwrap();
    assert_eq!(app_service_requests(&emu).await, 2);
}

#[tokio::test(start_paused = true)]
async fn a_failed_refresh_keeps_the_old_token_until_it_expires() {
    let emu = start_with_lifetime(Identities::ALL, 600).await;
    let cache = cached_app_service(&emu);
    let first = cache.get_token(&TokenRequest::new(SCOPE)).await.unwrap();

    emu.add_fault(Fault {
        endpoint: Endpoint::AppService,
        status: Some(500),
        times: None,
        ..Fault::default()
    })
    .await;
    tokio::time::advance(Duration::from_secs(400)).await;
    let kept = cache.get_token(&TokenRequest::new(SCOPE)).await.unwrap();
    assert_eq!(kept.secret(), first.secret());
    let failed = app_service_requests(&emu).await - 1;
    assert!(failed >= 1, "a refresh was attempted");

    // Not retried on every call while the old token is good.
    cache.get_token(&TokenRequest::new(SCOPE)).await.unwrap();
    assert_eq!(app_service_requests(&emu).await, 1 + failed);

    // The service recovers: the next attempt (30 s later) succeeds.
    emu.clear_faults().await;
    tokio::time::advance(Duration::from_secs(31)).await;
    cache.get_token(&TokenRequest::new(SCOPE)).await.unwrap();
    let served = requests_to(&emu, Endpoint::AppService).await;
    assert_eq!(served.last().unwrap().status, 200);
    assert_eq!(served.len(), 2 + failed);
}
