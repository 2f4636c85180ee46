//! How many HTTP/2 connections a batch opens to one vault: one while the batch fits in one
//! connection's streams, a few more (bounded) when the stream limit is the bottleneck. Counted
//! in the emulator's TLS handshakes per vault.

use kvref::transport::HttpTransport;
use kvref_emulator::Emulator;

use crate::h2::{resolve_all, vault_protocols};
use crate::support::emu;

const VAULT: [&str; 1] = ["vaulta"];

/// An emulator whose vault holds `secrets` secrets and whose connections advertise `streams`.
async fn emulator(secrets: usize, streams: u32) -> Emulator {
    emu::start(&format!(
        "{}\n[http2]\nmax_concurrent_streams = {streams}\n",
        emu::vaults_toml(&VAULT, secrets)
    ))
    .await
}

/// The emulator's transport, told the server's stream limit and the most connections per vault.
fn transport(emu: &Emulator, streams: usize, connections: usize) -> HttpTransport {
    emu::transport(emu)
        .settings()
        .clone()
        .h2_streams_per_connection(streams)
        .h2_connections_per_host(connections)
        .build()
        .unwrap()
}

async fn vault_handshakes(emu: &Emulator) -> u64 {
    emu.tls_handshakes().await["vaulta.vault.azure.net"]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_beyond_one_connections_streams_goes_over_a_few_more() {
    let emu = emulator(40, 10).await;
    resolve_all(&emu, transport(&emu, 10, 4), &VAULT, 40).await;
    // 40 secrets, 10 streams a connection: four connections, each opened once.
    assert_eq!(vault_handshakes(&emu).await, 4);
    assert_eq!(vault_protocols(&emu).await, ["h2"]);
    assert_eq!(emu::vault_requests(&emu).await.len(), 40 + 1);
    // Every lane shares one TLS session cache: the extra connections resume the first one's
    // session (it left two tickets; a third lane may have to do a full handshake).
    let resumed = emu.tls_resumptions().await;
    let resumed = resumed.get(&format!("{}.vault.azure.net", VAULT[0]));
    assert!(
        resumed.is_some_and(|n| (2..=3).contains(n)),
        "{resumed:?} of the 3 extra connections resumed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_extra_connections_are_bounded() {
    let emu = emulator(200, 10).await;
    resolve_all(&emu, transport(&emu, 10, 3), &VAULT, 200).await;
    // 200 secrets would need 20 connections of 10 streams; three is the bound.
    assert_eq!(vault_handshakes(&emu).await, 3);
    assert_eq!(emu::vault_requests(&emu).await.len(), 200 + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_within_a_large_stream_limit_uses_one_connection() {
    let emu = emulator(400, 1000).await;
    resolve_all(&emu, transport(&emu, 1000, 4), &VAULT, 400).await;
    assert_eq!(vault_handshakes(&emu).await, 1);
    assert_eq!(vault_protocols(&emu).await, ["h2"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_http11_the_batch_keeps_to_its_bound() {
    let toml = format!(
        "{}\n[http2]\nenabled = false\n",
        emu::vaults_toml(&VAULT, 40)
    );
    let emu = emu::start(&toml).await;
    // Four in flight at most over HTTP/1.1, one connection each; the HTTP/2 width (4 lanes of
    // 100 streams) would put all 40 in flight and open about 40 connections.
    let resolver = emu::resolver(&emu, emu::credential(&emu))
        .transport(transport(&emu, 100, 4))
        .concurrency_per_vault(4)
        .build()
        .unwrap();
    let resolution = resolver.resolve(crate::h2::settings(&VAULT, 40)).await;
    assert!(
        resolution.is_success(),
        "{:?}",
        resolution.failures().next()
    );
    assert_eq!(vault_protocols(&emu).await, ["http/1.1"]);
    // A little above four: the pool may start a connection for a request just before another
    // request hands back its own, and keeps both.
    let handshakes = vault_handshakes(&emu).await;
    assert!(
        (1..=12).contains(&handshakes),
        "about one connection per request in flight: {handshakes}"
    );
}
