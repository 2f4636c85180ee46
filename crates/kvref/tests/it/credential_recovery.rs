//! Credentials that recover: a refresh that never makes a caller with a valid token wait, an IMDS
//! probe that is tried again after it failed, an identity endpoint the environment names that
//! refuses connections while it starts, and budgets too large to add to an instant.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::cred_emulator::*;
use crate::support::cred_support::closed_port;
use kvref::Env;
use kvref::credential::{
    DefaultCredential, DefaultCredentialOptions, ManagedIdentityCredential, ManagedIdentityOptions,
    RetryOptions, TokenCache, TokenCredential, TokenRequest,
};
use kvref::transport::HttpTransport;
use kvref_emulator::{Endpoint, Fault};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

fn request() -> TokenRequest {
    TokenRequest::new(SCOPE)
}

#[tokio::test(start_paused = true)]
async fn a_slow_identity_endpoint_never_delays_a_caller_with_a_valid_token() {
    // Tokens live 10 minutes: due for refresh 5 minutes before expiry.
    let emu = start_with_lifetime(Identities::ALL, 600).await;
    let credential = ManagedIdentityCredential::new(ManagedIdentityOptions::new(
        env(&emu, "app_service"),
        transport(&emu),
    ))
    .unwrap();
    let cache = Arc::new(TokenCache::new(Arc::new(credential)));
    let first = cache.get_token(&request()).await.unwrap();
    assert_eq!(requests_to(&emu, Endpoint::AppService).await.len(), 1);

    // From now on the identity endpoint takes 20 s to answer (under the 30 s request timeout).
    emu.add_fault(Fault {
        endpoint: Endpoint::AppService,
        delay_ms: 20_000,
        times: None,
        ..Fault::default()
    })
    .await;
    tokio::time::advance(Duration::from_secs(301)).await;

    // The first caller past the refresh point gets the valid token without any time passing.
    let asked = Instant::now();
    let token = cache.get_token(&request()).await.unwrap();
    assert_eq!(asked.elapsed(), Duration::ZERO);
    assert_eq!(token.secret(), first.secret());

    // 10 s into the refresh (the endpoint answers at 20 s), callers still get the token at once;
    // the journal, which records a request when it is answered, has nothing new yet.
    tokio::time::sleep(Duration::from_secs(10)).await;
    let callers: Vec<_> = (0..20)
        .map(|_| {
            let cache = cache.clone();
            tokio::spawn(async move {
                let asked = Instant::now();
                let token = cache.get_token(&request()).await.unwrap();
                (asked.elapsed(), token.secret().to_owned())
            })
        })
        .collect();
    for caller in callers {
        let (waited, secret) = caller.await.unwrap();
        assert_eq!(waited, Duration::ZERO);
        assert_eq!(secret, first.secret());
    }
    assert_eq!(requests_to(&emu, Endpoint::AppService).await.len(), 1);

    // The one refresh lands; its token is fresh, so asking again starts no other.
    cache.refreshes_finished().await;
    let served = requests_to(&emu, Endpoint::AppService).await;
    assert_eq!(served.len(), 2, "exactly one refresh request");
    assert_eq!(served[1].status, 200);
    cache.get_token(&request()).await.unwrap();
    cache.refreshes_finished().await;
    assert_eq!(requests_to(&emu, Endpoint::AppService).await.len(), 2);
}

/// The chain of production credentials on an emulated VM (IMDS, probed first).
fn production_chain(emu: &kvref_emulator::Emulator) -> DefaultCredential {
    let mut prod = env(emu, "imds");
    prod.set("AZURE_TOKEN_CREDENTIALS", "prod");
    DefaultCredential::new(DefaultCredentialOptions::new(prod, transport(emu))).unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_failed_imds_probe_is_tried_again_after_a_back_off() {
    let emu = start(Identities::ALL).await;
    // IMDS drops the first connection: the chain's probe fails at start-up.
    emu.add_fault(Fault {
        endpoint: Endpoint::Imds,
        drop_connection: true,
        times: Some(1),
        ..Fault::default()
    })
    .await;
    let chain = production_chain(&emu);
    let err = chain.get_token(&request()).await.unwrap_err();
    assert!(err.is_unavailable(), "{err}");
    assert!(err.message().contains("IMDS"), "{err}");
    assert_eq!(requests_to(&emu, Endpoint::Imds).await.len(), 1);

    // Within the back-off the failure is answered without probing again.
    let err = chain.get_token(&request()).await.unwrap_err();
    assert!(err.is_unavailable(), "{err}");
    assert_eq!(requests_to(&emu, Endpoint::Imds).await.len(), 1);

    // After it, the same process probes again, finds IMDS, and gets a token.
    tokio::time::advance(Duration::from_secs(5)).await;
    let token = chain.get_token(&request()).await.unwrap();
    assert!(!token.secret().is_empty());
    assert_eq!(chain.selected(), Some("ManagedIdentityCredential"));
    let served = requests_to(&emu, Endpoint::Imds).await;
    assert_eq!(
        served.len(),
        3,
        "the failed probe, a probe, the token request"
    );
    assert_eq!(served[2].status, 200);

    // Once IMDS has answered, it is not probed again.
    chain.get_token(&request()).await.unwrap();
    assert_eq!(requests_to(&emu, Endpoint::Imds).await.len(), 4);
}

#[tokio::test(start_paused = true)]
async fn the_chain_probe_of_a_refused_imds_stays_fast() {
    let host = format!("http://127.0.0.1:{}", closed_port());
    let env = Env::from_pairs([
        ("AZURE_TOKEN_CREDENTIALS", "prod"),
        ("AZURE_POD_IDENTITY_AUTHORITY_HOST", &host),
    ]);
    let chain = DefaultCredential::new(DefaultCredentialOptions::new(
        env,
        HttpTransport::builder().build().unwrap(),
    ))
    .unwrap();
    let asked = Instant::now();
    let err = chain.get_token(&request()).await.unwrap_err();
    assert!(err.is_unavailable(), "{err}");
    assert_eq!(asked.elapsed(), Duration::ZERO, "no retry, no back-off");
}

/// Answers every connection with an App Service token and records each request's first line.
async fn serve_app_service_tokens(
    listener: tokio::net::TcpListener,
    seen: Arc<Mutex<Vec<String>>>,
) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            return;
        };
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        let text = String::from_utf8_lossy(&head);
        seen.lock()
            .unwrap()
            .push(text.lines().next().unwrap_or_default().to_owned());
        let expires_on = jiff::Timestamp::now().as_second() + 3600;
        let body = format!(
            r#"{{"access_token":"own-listener-token","expires_on":"{expires_on}","resource":"https://vault.azure.net","token_type":"Bearer"}}"#
        );
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = stream.write_all(response.as_bytes()).await;
        let _ = stream.shutdown().await;
    }
}

fn app_service_at(addr: std::net::SocketAddr, retry: RetryOptions) -> ManagedIdentityCredential {
    let env = Env::from_pairs([
        ("IDENTITY_ENDPOINT", format!("http://{addr}/msi/token")),
        ("IDENTITY_HEADER", "header-value".to_owned()),
    ]);
    ManagedIdentityCredential::new(
        ManagedIdentityOptions::new(env, HttpTransport::builder().build().unwrap())
            .with_retry(retry),
    )
    .unwrap()
}

#[tokio::test(start_paused = true)]
async fn an_app_service_endpoint_that_refuses_at_start_is_retried_until_it_listens() {
    // A socket bound but not yet listening: the port is ours, and connections to it are refused.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = socket.local_addr().unwrap();
    let credential = app_service_at(addr, RetryOptions::standard());
    let started = Instant::now();
    let fetch = tokio::spawn(async move { credential.get_token(&request()).await });

    // The standard retries try at 0, 1, 3 and 7 s (virtual time). Let the first two be refused,
    // then start listening: the attempt at 3 s gets through.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(!fetch.is_finished(), "a refused connection is retried");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let server = tokio::spawn(serve_app_service_tokens(
        socket.listen(16).unwrap(),
        seen.clone(),
    ));

    let token = fetch.await.unwrap().unwrap();
    assert_eq!(token.secret(), "own-listener-token");
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(
        seen[0].starts_with("GET /msi/token?api-version=2019-08-01"),
        "{seen:?}"
    );
    server.abort();
}

#[tokio::test(start_paused = true)]
async fn an_endpoint_that_keeps_refusing_fails_after_the_retry_budget() {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = socket.local_addr().unwrap();
    let err = app_service_at(addr, RetryOptions::standard())
        .get_token(&request())
        .await
        .unwrap_err();
    let message = err.message();
    assert!(message.contains("refused the connection"), "{message}");
    assert!(message.contains("after 4 attempt(s)"), "{message}");
    assert!(!message.contains("header-value"), "{message}");
    drop(socket);
}

#[tokio::test(start_paused = true)]
async fn an_unlimited_retry_budget_does_not_overflow() {
    let emu = start(Identities::ALL).await;
    let unlimited = RetryOptions::standard().with_max_elapsed(Duration::MAX);
    emu.add_fault(Fault {
        endpoint: Endpoint::AppService,
        status: Some(503),
        headers: [("Retry-After".to_owned(), "2".to_owned())].into(),
        times: Some(2),
        ..Fault::default()
    })
    .await;
    let app_service = ManagedIdentityCredential::new(
        ManagedIdentityOptions::new(env(&emu, "app_service"), transport(&emu))
            .with_retry(unlimited.clone()),
    )
    .unwrap();
    let cache = TokenCache::new(Arc::new(app_service));
    cache.get_token(&request()).await.unwrap();
    assert_eq!(requests_to(&emu, Endpoint::AppService).await.len(), 3);

    // IMDS in the chain, with an unlimited budget: the probe takes any answer (a 410 here), the
    // token request is answered 410 once and retried.
    emu.add_fault(Fault {
        endpoint: Endpoint::Imds,
        status: Some(410),
        times: Some(2),
        ..Fault::default()
    })
    .await;
    let mut prod = env(&emu, "imds");
    prod.set("AZURE_TOKEN_CREDENTIALS", "prod");
    let chain = DefaultCredential::new(
        DefaultCredentialOptions::new(prod, transport(&emu))
            .with_imds_retry(RetryOptions::imds().with_max_elapsed(Duration::MAX)),
    )
    .unwrap();
    chain.get_token(&request()).await.unwrap();

    // An endpoint that never listens, with an unlimited budget, still stops after its retries.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let err = app_service_at(socket.local_addr().unwrap(), unlimited)
        .get_token(&request())
        .await
        .unwrap_err();
    assert!(err.message().contains("after 4 attempt(s)"), "{err}");
}
