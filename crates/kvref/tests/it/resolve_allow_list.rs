//! References to hosts outside the allow-list, to `http://`, or to look-alike hosts are refused
//! before any connection is opened: every such host is routed to a listener that counts
//! connections, and it must count none. A control reference to an allowed host shows that the
//! routes work and the counting can fail.

use std::time::Duration;

use crate::support::{ClosingListener, CountingCredential, SilentListener};
use kvref::reference::Reference;
use kvref::resolve::{ResolveStatus, Resolver};
use kvref::transport::HttpTransport;
use kvref::vault::{RetryPolicy, SecretClient, VaultErrorKind};

#[tokio::test]
async fn foreign_and_look_alike_hosts_never_get_a_connection() {
    let forbidden = SilentListener::bind();
    let control = ClosingListener::start();
    let port = forbidden.addr().port();
    let transport = HttpTransport::builder()
        .route("control.vault.azure.net", control.addr())
        .route(".vault.azure.net", forbidden.addr())
        .route("vault.azure.net", forbidden.addr())
        .route(".azure.net", forbidden.addr())
        .route(".evil.example", forbidden.addr())
        .route(".vault.example", forbidden.addr())
        .route("localhost", forbidden.addr())
        .connect_timeout(Duration::from_secs(2))
        .request_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let credential = CountingCredential::fixed();
    let resolver = Resolver::builder()
        .credential(credential.clone())
        .transport(transport)
        .retry_policy(
            RetryPolicy::default()
                .with_max_retries(1)
                .with_initial_delay(Duration::from_millis(1)),
        )
        .budget(Duration::from_secs(10))
        .build()
        .unwrap();

    let uri = |u: &str| format!("@Microsoft.KeyVault(SecretUri={u})");
    let cases = [
        (
            "lookalike",
            uri("https://myvault.vault.azure.net.evil.example/secrets/s"),
            ResolveStatus::VaultNotAllowed,
        ),
        (
            "bare_suffix",
            uri("https://vault.azure.net/secrets/s"),
            ResolveStatus::VaultNotAllowed,
        ),
        (
            "two_labels",
            uri("https://www.myvault.vault.azure.net/secrets/s"),
            ResolveStatus::VaultNotAllowed,
        ),
        (
            "hsm",
            uri("https://myvault.managedhsm.azure.net/secrets/s"),
            ResolveStatus::VaultNotAllowed,
        ),
        (
            "unlisted_suffix",
            uri("https://myvault.vault.example/secrets/s"),
            ResolveStatus::VaultNotAllowed,
        ),
        (
            "localhost",
            uri("https://localhost/secrets/s"),
            ResolveStatus::VaultNotAllowed,
        ),
        (
            "trailing_dot",
            uri("https://myvault.vault.azure.net./secrets/s"),
            ResolveStatus::InvalidSyntax,
        ),
        (
            "http",
            uri("http://myvault.vault.azure.net/secrets/s"),
            ResolveStatus::InvalidSyntax,
        ),
        (
            "port",
            uri(&format!("https://myvault.vault.azure.net:{port}/secrets/s")),
            ResolveStatus::InvalidSyntax,
        ),
        (
            "ip",
            uri(&format!("https://127.0.0.1:{port}/secrets/s")),
            ResolveStatus::InvalidSyntax,
        ),
        (
            "localhost_port",
            uri(&format!("https://localhost:{port}/secrets/s")),
            ResolveStatus::InvalidSyntax,
        ),
        (
            "userinfo",
            uri("https://evil.example@myvault.vault.azure.net/secrets/s"),
            ResolveStatus::InvalidSyntax,
        ),
        (
            "short_http",
            format!("@KeyVault(SecretUri=http://127.0.0.1:{port}/secrets/s)"),
            ResolveStatus::InvalidSyntax,
        ),
    ];
    let mut settings: Vec<(String, String)> = cases
        .iter()
        .map(|(k, v, _)| (k.to_string(), v.clone()))
        .collect();
    settings.push((
        "control".into(),
        uri("https://control.vault.azure.net/secrets/s"),
    ));

    let resolution = resolver.resolve(settings).await;

    for (key, _, expected) in &cases {
        let outcome = resolution
            .outcomes()
            .iter()
            .find(|o| o.key() == *key)
            .unwrap();
        assert_eq!(
            outcome.status(),
            *expected,
            "{key}: {:?}",
            outcome.message()
        );
        assert!(outcome.fix().is_some(), "{key} has a fix");
    }
    assert_eq!(
        forbidden.connections(),
        0,
        "no connection to a refused host"
    );
    // The control reference did reach its listener (which closed the connection).
    let control_outcome = resolution
        .outcomes()
        .iter()
        .find(|o| o.key() == "control")
        .unwrap();
    assert_eq!(
        control_outcome.status(),
        ResolveStatus::VaultNotFound,
        "{:?}",
        control_outcome.message()
    );
    assert!(control.accepted() >= 1);
    // No request ever got far enough to want a token.
    assert_eq!(credential.calls(), 0);
}

#[tokio::test]
async fn the_client_refuses_foreign_hosts_itself() {
    let forbidden = SilentListener::bind();
    let transport = HttpTransport::builder()
        .route(".example", forbidden.addr())
        .build()
        .unwrap();
    let credential = CountingCredential::fixed();
    let client = SecretClient::builder(credential.clone())
        .transport(transport)
        .build()
        .unwrap();
    let reference =
        Reference::parse("@KeyVault(SecretUri=https://myvault.vault.example/secrets/s)")
            .unwrap()
            .unwrap();
    let error = client.get_secret(&reference).await.unwrap_err();
    assert_eq!(error.kind(), VaultErrorKind::NotAllowed);
    assert!(
        error.to_string().contains("myvault.vault.example"),
        "{error}"
    );
    assert_eq!(forbidden.connections(), 0);
    assert_eq!(credential.calls(), 0);
}

#[tokio::test]
async fn an_allowed_custom_suffix_is_contacted_and_an_unlisted_one_is_not() {
    let listener = ClosingListener::start();
    let transport = HttpTransport::builder()
        .route(".vault.example", listener.addr())
        .build()
        .unwrap();
    let settings = vec![(
        "Db",
        "@KeyVault(SecretUri=https://myvault.vault.example/secrets/Db)",
    )];
    let fast = RetryPolicy::default()
        .with_max_retries(0)
        .with_initial_delay(Duration::from_millis(1));

    let strict = Resolver::builder()
        .credential(CountingCredential::fixed())
        .transport(transport.clone())
        .retry_policy(fast)
        .build()
        .unwrap();
    let outcome = strict.resolve(settings.clone()).await.outcomes()[0].clone();
    assert_eq!(outcome.status(), ResolveStatus::VaultNotAllowed);
    assert!(
        outcome
            .fix()
            .unwrap()
            .contains("allow_vault_suffix(\".vault.example\")"),
        "{:?}",
        outcome.fix()
    );
    assert_eq!(listener.accepted(), 0);

    let extended = Resolver::builder()
        .credential(CountingCredential::fixed())
        .transport(transport)
        .retry_policy(fast)
        .allow_vault_suffix(".vault.example")
        .build()
        .unwrap();
    let outcome = extended.resolve(settings).await.outcomes()[0].clone();
    assert_eq!(
        outcome.status(),
        ResolveStatus::VaultNotFound,
        "{:?}",
        outcome.message()
    );
    assert!(listener.accepted() >= 1);
}

#[tokio::test]
async fn a_look_alike_host_is_never_advised_to_be_allowed() {
    let resolver = Resolver::builder()
        .credential(CountingCredential::fixed())
        .build()
        .unwrap();
    let settings = [(
        "Db",
        "@KeyVault(SecretUri=https://myvault.vault.azure.net.evil.example/secrets/Db)",
    )];
    let outcome = resolver.resolve(settings).await.outcomes()[0].clone();
    assert_eq!(outcome.status(), ResolveStatus::VaultNotAllowed);
    let fix = outcome.fix().unwrap();
    assert!(fix.contains("tampered"), "{fix}");
    assert!(!fix.contains("allow_vault_suffix"), "{fix}");
}
