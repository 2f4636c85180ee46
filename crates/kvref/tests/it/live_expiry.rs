//! `Live<T>` and secrets' expiry (`exp`), over the emulator whose control API sets `exp` on a
//! version: the status names the nearest expiry, the refresher comes back before it so that a
//! rotated version replaces the old one in time, and Event Grid's expiry events show in the
//! status without a Key Vault request. (The warnings are tested in the `trace` binary.)

use std::time::Duration;

use kvref::Resolved;
use kvref::live::{Live, LiveBuilder};
use kvref::secrecy::ExposeSecret;
use kvref_emulator::Emulator;
use tokio::time::Instant;

use crate::support::emu;
use crate::support::expiry::{events, expiry_event, in_secs, set_expiry};

const A: &str = "@KeyVault(VaultName=vault1;SecretName=s0)";

/// `a` from `s0` (latest) and `b` from `s1` (latest unless pinned by the test).
fn values(resolved: &Resolved) -> Result<Vec<String>, String> {
    Ok(resolved
        .secrets()
        .map(|(_, _, s)| s.expose_secret().to_owned())
        .collect())
}

async fn start() -> Emulator {
    emu::start(&emu::vaults_toml(&["vault1"], 2)).await
}

fn live(emu: &Emulator, b: &str) -> LiveBuilder<Vec<String>> {
    let resolver = emu::resolver(emu, emu::credential(emu))
        .build()
        .expect("resolver");
    Live::builder(resolver, [("a", A.to_owned()), ("b", b.to_owned())], values)
        .interval(Duration::from_secs(24 * 3600))
        .jitter(0.0)
}

#[tokio::test(start_paused = true)]
async fn the_status_names_the_nearest_expiry_and_a_rotation_lands_before_it() {
    let emu = start().await;
    let v0 = emu.set_secret("vault1", "s0", "old-0").await;
    let v1 = emu.set_secret("vault1", "s1", "old-1").await;
    let (soon, later) = (in_secs(3600), in_secs(7200));
    set_expiry(&emu, "s0", &v0, soon).await;
    set_expiry(&emu, "s1", &v1, later).await;
    let live = live(&emu, "@KeyVault(VaultName=vault1;SecretName=s1)")
        .expiry_lead(Duration::from_secs(60))
        .start()
        .await
        .unwrap();

    let status = live.status();
    let nearest = status.nearest_expiry.clone().expect("an expiry");
    assert_eq!(
        (nearest.key.as_str(), nearest.secret.as_str()),
        ("a", "vault1/s0")
    );
    assert_eq!(nearest.version.as_deref(), Some(v0.as_str()));
    assert_eq!(nearest.expires, Some(soon));
    assert_eq!(status.versions[1].expires, Some(later));
    // The next cycle comes a minute before `s0` expires, not after the day-long interval.
    let next = status.next_attempt.unwrap() - Instant::now();
    assert!(next <= Duration::from_secs(3540), "{next:?}");
    assert!(next > Duration::from_secs(3500), "{next:?}");

    // Rotated in time (a new version without an expiry): picked up before the old one expires.
    let started = Instant::now();
    let mut generation = live.subscribe();
    emu.set_secret("vault1", "s0", "new-0").await;
    generation.changed().await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(3600));
    assert_eq!(**live.load(), ["new-0", "old-1"]);
    let status = live.status();
    let nearest = status.nearest_expiry.expect("s1 still expires");
    assert_eq!((nearest.key.as_str(), nearest.expires), ("b", Some(later)));
    assert_eq!(status.versions[0].expires, None);
    // s0's expiry is served: the next cycle is the one before s1's.
    let next = status.next_attempt.unwrap() - Instant::now();
    assert!(
        next > Duration::from_secs(3600) && next <= Duration::from_secs(7140),
        "{next:?}"
    );
}

#[tokio::test]
async fn expiry_events_show_in_the_status_without_a_key_vault_request() {
    let emu = start().await;
    let v1 = emu.set_secret("vault1", "s1", "pinned-1").await;
    let pinned = format!("@KeyVault(VaultName=vault1;SecretName=s1;SecretVersion={v1})");
    let live = live(&emu, &pinned).start().await.unwrap();
    let v0 = live.status().versions[0].version.clone().unwrap();
    let mut updates = live.status_updates();
    updates.borrow_and_update();
    emu.clear_requests().await;
    let exp = in_secs(3 * 24 * 3600);

    // About the version in use of `a`, then of the pinned `b`, then another vault and an old
    // version: the last two are nobody's.
    let batch = [
        expiry_event(
            "e1",
            "SecretNearExpiry",
            "vault1",
            "s0",
            &v0,
            exp.as_second(),
        ),
        expiry_event("e2", "SecretExpired", "VAULT1", "S1", &v1, exp.as_second()),
        expiry_event("e3", "SecretExpired", "vault2", "s0", &v0, exp.as_second()),
        expiry_event(
            "e4",
            "SecretExpired",
            "vault1",
            "s0",
            "0ld",
            exp.as_second(),
        ),
    ];
    for body in &batch {
        live.push(&events(body)).unwrap();
    }
    let notices = loop {
        updates.changed().await.unwrap();
        let notices = updates.borrow_and_update().expiry_notices.clone();
        if notices.len() == 2 {
            break notices;
        }
    };
    assert_eq!(
        (
            notices[0].secret.as_str(),
            &notices[0].keys[..],
            notices[0].expired
        ),
        ("vault1/s0", &["a".to_owned()][..], false)
    );
    assert_eq!(notices[0].version.as_deref(), Some(v0.as_str()));
    assert_eq!(notices[0].expires, Some(exp));
    assert_eq!(
        (
            notices[1].secret.as_str(),
            &notices[1].keys[..],
            notices[1].expired
        ),
        ("vault1/s1", &["b".to_owned()][..], true)
    );
    assert!(
        emu::vault_requests(&emu).await.is_empty(),
        "no Key Vault request"
    );
    assert_eq!(emu::token_requests(&emu).await, 0);

    // Rotated: the notice about the old version of s0 goes; the pinned one stays.
    emu.set_secret("vault1", "s0", "rotated").await;
    live.refresh_now().await.unwrap();
    let notices = live.status().expiry_notices;
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert_eq!(notices[0].secret, "vault1/s1");
}
