//! Pacing against Key Vault's request limit: more distinct secrets in one vault than the limit
//! allows per window are spread over windows, and none is throttled. Under paused time: the
//! emulator's throttle window runs on tokio's clock too.

use std::time::Duration;

use kvref::transport::HttpTransport;
use kvref::transport::pacing::RequestLimit;

use crate::h2::{resolve_all, settings};
use crate::support::emu;

const VAULT: [&str; 1] = ["vaulta"];

/// `secrets` secrets in one vault that admits `requests` per `window_secs`.
async fn throttled_emulator(
    secrets: usize,
    requests: u32,
    window_secs: u64,
) -> kvref_emulator::Emulator {
    let toml = emu::vaults_toml(&VAULT, secrets).replace(
        "requests = 100000\nwindow_secs = 10",
        &format!("requests = {requests}\nwindow_secs = {window_secs}"),
    );
    emu::start(&toml).await
}

async fn statuses(emu: &kvref_emulator::Emulator) -> Vec<u16> {
    emu::vault_requests(emu)
        .await
        .into_iter()
        .map(|e| e.status)
        .collect()
}

/// The emulator's transport, pacing to `limit`.
fn paced_transport(emu: &kvref_emulator::Emulator, limit: Option<RequestLimit>) -> HttpTransport {
    emu::transport(emu)
        .settings()
        .clone()
        .vault_request_limit(limit)
        .build()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn five_thousand_secrets_under_key_vaults_limit_resolve_without_a_429() {
    let emu = throttled_emulator(5000, 4000, 10).await;
    resolve_all(&emu, emu::transport(&emu), &VAULT, 5000).await;
    let statuses = statuses(&emu).await;
    assert_eq!(
        statuses.len(),
        5000 + 1,
        "one challenge, one GET per secret"
    );
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_smaller_limit_is_paced_to_when_configured() {
    let emu = throttled_emulator(250, 100, 1).await;
    let transport = paced_transport(
        &emu,
        Some(RequestLimit {
            requests: 100,
            window: Duration::from_secs(1),
        }),
    );
    let started = tokio::time::Instant::now();
    resolve_all(&emu, transport, &VAULT, 250).await;
    let statuses = statuses(&emu).await;
    assert_eq!(statuses.len(), 250 + 1);
    assert!(statuses.iter().all(|s| *s != 429), "{statuses:?}");
    // 251 requests at 100 per window: the last ones wait two windows (with the margin).
    assert!(tokio::time::Instant::now() - started >= Duration::from_secs(2));
}

#[tokio::test(start_paused = true)]
async fn without_pacing_the_same_batch_is_throttled() {
    // The check above can fail: the same batch unpaced bursts into the emulator's 429s.
    let emu = throttled_emulator(250, 100, 1).await;
    let transport = paced_transport(&emu, None);
    let resolver = emu::resolver(&emu, emu::credential(&emu))
        .transport(transport)
        .build()
        .unwrap();
    let resolution = resolver.resolve(settings(&VAULT, 250)).await;
    assert!(
        resolution.is_success(),
        "{:?}",
        resolution.failures().next()
    );
    assert!(statuses(&emu).await.contains(&429));
}
