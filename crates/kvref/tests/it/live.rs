//! `Live<T>` over the emulator: rotation seen after one refresh and never torn, the requests a
//! cycle makes, failures that keep the last good snapshot and recover, the back-off schedule,
//! and a refresher that ends with its last `Live` or its token.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use kvref::Resolved;
use kvref::live::{Live, LiveError};
use kvref::secrecy::ExposeSecret;
use kvref_emulator::{Emulator, Endpoint, Fault};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::support::CountingCredential;
use crate::support::emu;

/// Two settings that rotate together: `a` from secret `s0`, `b` from `s1`.
#[derive(Clone, Debug, PartialEq)]
struct Pair {
    a: String,
    b: String,
}

const A: &str = "@KeyVault(VaultName=vault1;SecretName=s0)";
const B: &str = "@KeyVault(VaultName=vault1;SecretName=s1)";

/// Builds a [`Pair`] from the resolved `a` and `b`.
fn pair(resolved: &Resolved) -> Result<Pair, String> {
    let value = |key: &str| {
        resolved
            .secrets()
            .find(|(_, outcome, _)| outcome.key() == key)
            .map(|(_, _, secret)| secret.expose_secret().to_owned())
            .ok_or_else(|| format!("{key} did not resolve"))
    };
    Ok(Pair {
        a: value("a")?,
        b: value("b")?,
    })
}

struct Fixture {
    emu: Emulator,
    credential: Arc<CountingCredential>,
}

impl Fixture {
    /// An emulator with vault `vault1` holding `secrets` secrets `s{i}` = `value-vault1-{i}`.
    async fn start(secrets: usize) -> Fixture {
        let emu = emu::start(&emu::vaults_toml(&["vault1"], secrets)).await;
        let credential = emu::credential(&emu);
        Fixture { emu, credential }
    }

    fn resolver(&self) -> kvref::Resolver {
        emu::resolver(&self.emu, self.credential.clone())
            .build()
            .expect("resolver")
    }

    /// `Live<Pair>` over `a` and `b`, with the interval far away unless the test sets one.
    fn pair(&self) -> kvref::live::LiveBuilder<Pair> {
        Live::builder(self.resolver(), [("a", A), ("b", B)], pair)
            .interval(Duration::from_secs(24 * 3600))
            .jitter(0.0)
    }
}

#[tokio::test]
async fn a_rotated_secret_is_read_after_one_refresh() {
    let fx = Fixture::start(2).await;
    let live = fx.pair().start().await.unwrap();
    let mut generation = live.subscribe();
    assert_eq!(live.load().a, "value-vault1-0");
    let before = live.status();
    assert_eq!(before.generation, 0);
    assert_eq!(before.versions.len(), 2);
    let old_version = before.versions[0].version.clone();

    let new_version = fx.emu.set_secret("vault1", "s0", "rotated-0").await;
    let changes = live.refresh_now().await.unwrap();

    assert_eq!(changes.generation, 1);
    assert_eq!(changes.changed.len(), 1, "{changes:?}");
    let change = &changes.changed[0];
    assert_eq!((change.key.as_str(), change.secret.as_str()), ("a", "vault1/s0"));
    assert_eq!(change.from, old_version);
    assert_eq!(change.to.as_deref(), Some(new_version.as_str()));
    assert!(generation.has_changed().unwrap());
    assert_eq!(*generation.borrow_and_update(), 1);
    assert_eq!(
        **live.load(),
        Pair {
            a: "rotated-0".into(),
            b: "value-vault1-1".into()
        }
    );
    let after = live.status();
    assert_eq!(after.versions[0].version.as_deref(), Some(new_version.as_str()));
    assert_eq!(after.versions[1], before.versions[1]);

    // Nothing rotated since: no rebuild, no new generation.
    let again = live.refresh_now().await.unwrap();
    assert!(again.is_empty());
    assert_eq!(again.generation, 1);
    assert!(!generation.has_changed().unwrap());
}
