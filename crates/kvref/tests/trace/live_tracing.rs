//! The live settings' expiry warnings: one per version as its expiry nears, one more once it
//! has passed, one per pushed expiry event about a secret in use; names, versions and times,
//! never the value. Lines are told apart by the version ids, unique to each test's emulator.

use std::time::Duration;

use kvref::Resolved;
use kvref::live::Live;
use kvref::secrecy::ExposeSecret;

use crate::capture;
use crate::support::emu;
use crate::support::expiry::{events, expiry_event, in_secs, set_expiry};

/// The captured lines that hold every one of `words`.
fn lines_with(words: &[&str]) -> usize {
    capture::text()
        .lines()
        .filter(|line| words.iter().all(|w| line.contains(w)))
        .count()
}

async fn started(emu: &kvref_emulator::Emulator) -> Live<Vec<String>> {
    let resolver = emu::resolver(emu, emu::credential(emu)).build().unwrap();
    let settings = [("a", "@KeyVault(VaultName=vault1;SecretName=s0)")];
    Live::builder(resolver, settings, |r: &Resolved| {
        Ok::<_, String>(
            r.secrets()
                .map(|(_, _, s)| s.expose_secret().to_owned())
                .collect(),
        )
    })
    .interval(Duration::from_secs(24 * 3600))
    .start()
    .await
    .unwrap()
}

#[tokio::test]
async fn an_expiry_that_nears_is_warned_once_and_once_more_when_it_passed() {
    capture::start();
    let emu = emu::start(&emu::vaults_toml(&["vault1"], 1)).await;
    let v0 = emu.set_secret("vault1", "s0", "value-that-expires").await;
    set_expiry(&emu, "s0", &v0, in_secs(10 * 24 * 3600)).await;
    let live = started(&emu).await;
    live.refresh_now().await.unwrap();
    live.refresh_now().await.unwrap();
    assert_eq!(
        lines_with(&["expires soon", "vault1/s0", &v0]),
        1,
        "{}",
        capture::text()
    );

    // The attribute changes without a new version: the next cycle sees it.
    set_expiry(&emu, "s0", &v0, in_secs(-60)).await;
    live.refresh_now().await.unwrap();
    live.refresh_now().await.unwrap();
    assert_eq!(
        lines_with(&["has expired", "Key Vault still serves it", &v0]),
        1
    );
    assert_eq!(live.status().nearest_expiry.unwrap().version, Some(v0));
    assert!(!capture::text().contains("value-that-expires"));
}

#[tokio::test]
async fn a_pushed_expiry_event_is_warned_about_without_a_value() {
    capture::start();
    let emu = emu::start(&emu::vaults_toml(&["vault1"], 1)).await;
    let v0 = emu.set_secret("vault1", "s0", "value-near-expiry").await;
    let live = started(&emu).await;
    let mut updates = live.status_updates();
    updates.borrow_and_update();
    let exp = in_secs(3 * 24 * 3600).as_second();
    let near = expiry_event("n1", "SecretNearExpiry", "vault1", "s0", &v0, exp);
    let expired = expiry_event("x1", "SecretExpired", "vault1", "s0", &v0, exp);
    let other = expiry_event("o1", "SecretExpired", "vault2", "s0", &v0, exp);
    for body in [&near, &expired, &other] {
        live.push(&events(body)).unwrap();
    }
    while updates.borrow_and_update().expiry_notices.is_empty() {
        updates.changed().await.unwrap();
    }
    assert_eq!(lines_with(&["expires within 30 days", "vault1/s0", &v0]), 1);
    assert_eq!(
        lines_with(&["Key Vault says a secret in use has expired", &v0]),
        1
    );
    assert_eq!(
        lines_with(&["vault2", &v0]),
        0,
        "another vault's event is nobody's"
    );
    assert!(!capture::text().contains("value-near-expiry"));
}
