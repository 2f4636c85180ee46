//! HTTP/2 to Key Vault: one TLS connection per vault when the server offers h2 by ALPN,
//! HTTP/1.1 when it does not (or when the transport forces it), HTTP/2 only when forced, and a
//! dropped h2 connection mid-batch retried to completion. Counted in the emulator's journal and
//! handshake counts.

use kvref::ResolveStatus;
use kvref::transport::HttpTransport;
use kvref_emulator::{Emulator, Endpoint, Fault};
use secrecy::ExposeSecret;

use crate::support::emu;

const VAULTS: [&str; 2] = ["vaulta", "vaultb"];

/// One reference per secret `s0..s{count}` of each vault.
pub(crate) fn settings(vaults: &[&str], count: usize) -> Vec<(String, String)> {
    let mut settings = Vec::new();
    for vault in vaults {
        for i in 0..count {
            settings.push((
                format!("{vault}_{i}"),
                format!("@KeyVault(VaultName={vault};SecretName=s{i})"),
            ));
        }
    }
    settings
}

/// Resolves `count` secrets of each vault through `transport` and checks every value.
pub(crate) async fn resolve_all(
    emu: &Emulator,
    transport: HttpTransport,
    vaults: &[&str],
    count: usize,
) {
    let resolver = emu::resolver(emu, emu::credential(emu))
        .transport(transport)
        .build()
        .unwrap();
    let resolution = resolver.resolve(settings(vaults, count)).await;
    assert_eq!(resolution.outcomes().len(), vaults.len() * count);
    for outcome in resolution.outcomes() {
        assert_eq!(
            outcome.status(),
            ResolveStatus::Resolved,
            "{}: {:?}",
            outcome.key(),
            outcome.message()
        );
        let (vault, i) = outcome.key().split_once('_').unwrap();
        assert_eq!(
            outcome.value().unwrap().expose_secret(),
            format!("value-{vault}-{i}")
        );
    }
}

/// The protocols the Key Vault requests came over, deduplicated.
pub(crate) async fn vault_protocols(emu: &Emulator) -> Vec<String> {
    let mut protocols: Vec<String> = emu::vault_requests(emu)
        .await
        .into_iter()
        .map(|e| e.protocol)
        .collect();
    protocols.dedup();
    protocols
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_secrets_of_a_vault_go_over_one_h2_connection() {
    // As many secrets per vault as one connection has streams (100): one connection carries all.
    let emu = emu::start(&emu::vaults_toml(&VAULTS, 100)).await;
    resolve_all(&emu, emu::transport(&emu), &VAULTS, 100).await;

    assert_eq!(emu::vault_requests(&emu).await.len(), 2 * (100 + 1));
    assert_eq!(vault_protocols(&emu).await, ["h2"]);
    let handshakes = emu.tls_handshakes().await;
    for vault in VAULTS {
        assert_eq!(
            handshakes.get(&format!("{vault}.vault.azure.net")),
            Some(&1),
            "one connection for {vault}: {handshakes:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_h2_is_spoken_to_over_http11() {
    let toml = format!(
        "{}\n[http2]\nenabled = false\n",
        emu::vaults_toml(&VAULTS, 100)
    );
    let emu = emu::start(&toml).await;
    resolve_all(&emu, emu::transport(&emu), &VAULTS, 100).await;
    assert_eq!(vault_protocols(&emu).await, ["http/1.1"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http1_only_forces_http11_where_h2_is_offered() {
    let emu = emu::start(&emu::vaults_toml(&VAULTS[..1], 50)).await;
    let transport = emu::transport(&emu).settings().clone().http1_only();
    assert!(transport.is_http1_only());
    resolve_all(&emu, transport.build().unwrap(), &VAULTS[..1], 50).await;
    assert_eq!(vault_protocols(&emu).await, ["http/1.1"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_only_speaks_h2_and_never_falls_back_to_http11() {
    let emu = emu::start(&emu::vaults_toml(&VAULTS[..1], 50)).await;
    let transport = emu::transport(&emu).settings().clone().http2_only();
    assert!(transport.is_http2_only());
    resolve_all(&emu, transport.build().unwrap(), &VAULTS[..1], 50).await;
    assert_eq!(vault_protocols(&emu).await, ["h2"]);

    // A server without h2: the request fails (naming the vault), nothing goes over HTTP/1.1.
    let toml = format!(
        "{}\n[http2]\nenabled = false\n",
        emu::vaults_toml(&VAULTS[..1], 1)
    );
    let emu = emu::start(&toml).await;
    let transport = emu::transport(&emu).settings().clone().http2_only();
    let resolver = emu::resolver(&emu, emu::credential(&emu))
        .transport(transport.build().unwrap())
        .build()
        .unwrap();
    let resolution = resolver.resolve(settings(&VAULTS[..1], 1)).await;
    let outcome = &resolution.outcomes()[0];
    // Unreachable, as a vault that refuses the connection is (the TLS alert says why).
    assert_eq!(
        outcome.status(),
        ResolveStatus::VaultNotFound,
        "{outcome:?}"
    );
    let message = outcome.message().unwrap_or_default();
    assert!(message.contains("vaulta.vault.azure.net"), "{message}");
    assert!(emu::vault_requests(&emu).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_h2_connection_mid_batch_is_retried_and_completes() {
    // 100 secrets: one connection's worth of streams, so that all share the dropped one.
    let emu = emu::start(&emu::vaults_toml(&VAULTS[..1], 100)).await;
    // The challenge and nine secrets pass; the tenth secret's request drops the connection,
    // with every other request in flight on it.
    emu.add_fault(Fault {
        endpoint: Endpoint::KeyVault,
        times: Some(10),
        ..Fault::default()
    })
    .await;
    emu.add_fault(Fault {
        endpoint: Endpoint::KeyVault,
        drop_connection: true,
        times: Some(1),
        ..Fault::default()
    })
    .await;
    resolve_all(&emu, emu::transport(&emu), &VAULTS[..1], 100).await;

    let requests = emu::vault_requests(&emu).await;
    assert_eq!(requests.iter().filter(|e| e.status == 0).count(), 1);
    // Requests in flight on the dropped connection may have been served before it closed, and
    // are asked again: every secret has been served at least once.
    let served: std::collections::HashSet<&str> = requests
        .iter()
        .filter(|e| e.status == 200)
        .map(|e| e.path.as_str())
        .collect();
    assert_eq!(served.len(), 100);
    assert_eq!(vault_protocols(&emu).await, ["h2"]);
    let handshakes = emu.tls_handshakes().await["vaulta.vault.azure.net"];
    assert!(
        handshakes >= 2,
        "a new connection after the drop: {handshakes}"
    );
}
