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
use crate::support::cred_emulator::TENANT;
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
    assert_eq!(
        (change.key.as_str(), change.secret.as_str()),
        ("a", "vault1/s0")
    );
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
    assert_eq!(
        after.versions[0].version.as_deref(),
        Some(new_version.as_str())
    );
    assert_eq!(after.versions[1], before.versions[1]);

    // Nothing rotated since: no rebuild, no new generation.
    let again = live.refresh_now().await.unwrap();
    assert!(again.is_empty());
    assert_eq!(again.generation, 1);
    assert!(!generation.has_changed().unwrap());
}

#[tokio::test(start_paused = true)]
async fn the_interval_refreshes_without_being_asked() {
    let fx = Fixture::start(2).await;
    let live = fx
        .pair()
        .interval(Duration::from_secs(60))
        .start()
        .await
        .unwrap();
    let mut generation = live.subscribe();
    let started = Instant::now();
    fx.emu.set_secret("vault1", "s1", "rotated-1").await;

    // Paused time jumps to the refresher's timer; the swap lands one interval after the start.
    generation.changed().await.unwrap();
    assert_eq!(started.elapsed(), Duration::from_secs(60));
    assert_eq!(live.load().b, "rotated-1");
    assert_eq!(live.status().generation, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_never_see_one_of_two_secrets_rotated_together() {
    let fx = Fixture::start(2).await;
    fx.emu.set_secret("vault1", "s0", "round-0").await;
    fx.emu.set_secret("vault1", "s1", "round-0").await;
    let live = fx.pair().start().await.unwrap();
    const ROUNDS: u64 = 10;

    let done = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicU64::new(0));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (live, done, reads) = (live.clone(), done.clone(), reads.clone());
            std::thread::spawn(move || {
                // Until the last swap is done, then once more: that read must see it.
                loop {
                    let stop = done.load(Ordering::Acquire);
                    let pair = live.load();
                    assert_eq!(pair.a, pair.b, "a torn read");
                    reads.fetch_add(1, Ordering::Relaxed);
                    if stop {
                        return pair.a.clone();
                    }
                }
            })
        })
        .collect();

    for round in 1..=ROUNDS {
        let value = format!("round-{round}");
        fx.emu.set_secret("vault1", "s0", &value).await;
        fx.emu.set_secret("vault1", "s1", &value).await;
        let changes = live.refresh_now().await.unwrap();
        assert_eq!(changes.changed.len(), 2, "both rotated in one cycle");
        assert_eq!(changes.generation, round);
    }
    done.store(true, Ordering::Release);
    for reader in readers {
        assert_eq!(reader.join().unwrap(), format!("round-{ROUNDS}"));
    }
    assert!(reads.load(Ordering::Relaxed) > 0);
}

/// The Key Vault requests in the journal since it was last cleared.
async fn vault_gets(emu: &Emulator) -> Vec<kvref_emulator::JournalEntry> {
    emu::vault_requests(emu).await
}

#[tokio::test]
async fn a_refresh_of_pinned_references_makes_no_request() {
    let fx = Fixture::start(2).await;
    let v0 = fx.emu.set_secret("vault1", "s0", "pinned-0").await;
    let v1 = fx.emu.set_secret("vault1", "s1", "pinned-1").await;
    let a = format!("@KeyVault(VaultName=vault1;SecretName=s0;SecretVersion={v0})");
    let b = format!("@KeyVault(VaultName=vault1;SecretName=s1;SecretVersion={v1})");
    let live = Live::builder(fx.resolver(), [("a", a), ("b", b)], pair)
        .interval(Duration::from_secs(24 * 3600))
        .start()
        .await
        .unwrap();
    let tokens = fx.credential.calls();
    fx.emu.clear_requests().await;
    fx.emu
        .set_secret("vault1", "s0", "newer-but-not-pinned")
        .await;

    let changes = live.refresh_now().await.unwrap();
    assert!(changes.is_empty());
    assert!(vault_gets(&fx.emu).await.is_empty());
    assert_eq!(fx.credential.calls(), tokens, "no token asked for");
    assert_eq!(live.load().a, "pinned-0");
}

#[tokio::test]
async fn each_cycle_gets_each_distinct_versionless_secret_once() {
    const K: usize = 3;
    let fx = Fixture::start(K).await;
    // Four settings, three distinct secrets (s0 twice): one GET each per cycle.
    let mut settings: Vec<(String, String)> = (0..K)
        .map(|i| {
            (
                format!("k{i}"),
                format!("@KeyVault(VaultName=vault1;SecretName=s{i})"),
            )
        })
        .collect();
    settings.push((
        "again".into(),
        "@KeyVault(VaultName=vault1;SecretName=s0)".into(),
    ));
    let live = Live::builder(fx.resolver(), settings, |r: &Resolved| {
        Ok::<_, String>(r.secrets().count())
    })
    .start()
    .await
    .unwrap();
    assert_eq!(*live.load().as_ref(), K + 1);
    let tokens = fx.credential.calls();

    for _ in 0..2 {
        fx.emu.clear_requests().await;
        live.refresh_now().await.unwrap();
        let gets = vault_gets(&fx.emu).await;
        assert_eq!(gets.len(), K, "{gets:?}");
        assert!(gets.iter().all(|g| g.method == "GET" && g.status == 200));
        assert!(
            gets.iter().all(|g| g.authorization),
            "no challenge after the first"
        );
        assert_eq!(emu::token_requests(&fx.emu).await, 0);
    }
    assert_eq!(
        fx.credential.calls(),
        tokens,
        "the cached token serves every cycle"
    );
}

/// Settings with a typed field: `port` comes from secret `s1` and must parse.
#[derive(Debug, PartialEq)]
struct Service {
    a: String,
    port: u16,
}

fn service(resolved: &Resolved) -> Result<Service, String> {
    let Pair { a, b } = pair(resolved)?;
    // Quotes the value, as serde's type errors do: the refresher must redact it.
    let port = b
        .parse()
        .map_err(|e| format!("b: invalid port {b:?}: {e}"))?;
    Ok(Service { a, port })
}

/// One way a cycle can fail after a good start.
#[derive(Clone, Copy, Debug)]
enum Failure {
    Unavailable,
    Throttled,
    DroppedConnection,
    SecretDisabled,
    SecretDeleted,
    RoleRemoved,
    ExpiredToken,
    IdentityEndpointDown,
    VaultGone,
    DoesNotDeserialise,
    RefusedByCheck,
}

impl Failure {
    const ALL: [Failure; 11] = [
        Failure::Unavailable,
        Failure::Throttled,
        Failure::DroppedConnection,
        Failure::SecretDisabled,
        Failure::SecretDeleted,
        Failure::RoleRemoved,
        Failure::ExpiredToken,
        Failure::IdentityEndpointDown,
        Failure::VaultGone,
        Failure::DoesNotDeserialise,
        Failure::RefusedByCheck,
    ];

    /// Rotates a secret and breaks the next cycle; returns what the error says and the version
    /// of `s0` it made.
    async fn apply(self, emu: &Emulator) -> (&'static str, String) {
        let fault = |status: u16, body: Option<serde_json::Value>| Fault {
            endpoint: Endpoint::KeyVault,
            status: Some(status),
            body,
            times: None,
            ..Fault::default()
        };
        let error_body = |code: &str, inner: Option<&str>| {
            let mut error =
                serde_json::json!({"code": code, "message": "from the emulator's fault"});
            if let Some(inner) = inner {
                error["innererror"] = serde_json::json!({ "code": inner });
            }
            Some(serde_json::json!({ "error": error }))
        };
        match self {
            Failure::DoesNotDeserialise => {
                let version = emu.set_secret("vault1", "s1", "not-a-port").await;
                return ("building the settings failed", version);
            }
            Failure::RefusedByCheck => {
                let version = emu.set_secret("vault1", "s0", "refused-by-check").await;
                return ("the settings check refused", version);
            }
            _ => {}
        }
        let version = emu.set_secret("vault1", "s0", "a-2").await;
        match self {
            Failure::Unavailable => emu.add_fault(fault(503, None)).await,
            Failure::Throttled => {
                let mut throttled = fault(429, None);
                throttled.headers.insert("Retry-After".into(), "5".into());
                emu.add_fault(throttled).await;
            }
            Failure::DroppedConnection => {
                emu.add_fault(Fault {
                    endpoint: Endpoint::KeyVault,
                    drop_connection: true,
                    times: None,
                    ..Fault::default()
                })
                .await;
            }
            Failure::SecretDisabled => emu.set_enabled("vault1", "s0", &version, false).await,
            Failure::SecretDeleted => {
                emu.add_fault(fault(404, error_body("SecretNotFound", None)))
                    .await;
            }
            Failure::RoleRemoved => {
                emu.add_fault(fault(403, error_body("Forbidden", Some("ForbiddenByRbac"))))
                    .await;
            }
            Failure::ExpiredToken => emu.add_fault(token_expired(None)).await,
            Failure::IdentityEndpointDown => {
                emu.add_fault(Fault {
                    endpoint: Endpoint::AppService,
                    status: Some(503),
                    times: None,
                    ..Fault::default()
                })
                .await;
                // The cached token (a day's) has expired: the next cycle needs a new one.
                tokio::time::advance(Duration::from_secs(24 * 3600 + 1)).await;
            }
            Failure::VaultGone => emu.delete_vault("vault1").await,
            Failure::DoesNotDeserialise | Failure::RefusedByCheck => unreachable!(),
        }
        let says = match self {
            Failure::Unavailable => "OtherReasons",
            Failure::Throttled => "Throttled",
            Failure::DroppedConnection => "OtherReasons",
            Failure::SecretDisabled => "SecretDisabled",
            Failure::SecretDeleted => "SecretNotFound",
            Failure::RoleRemoved => "AccessToKeyVaultDenied",
            Failure::ExpiredToken => "refused the identity's token as expired",
            Failure::IdentityEndpointDown => "identity service is unavailable",
            Failure::VaultGone => "az keyvault recover",
            _ => unreachable!(),
        };
        (says, version)
    }

    /// Undoes the failure; the next cycle swaps in `a` = `a-2` or `port` = 9090.
    async fn mend(self, emu: &Emulator, version: &str) -> Service {
        emu.clear_faults().await;
        match self {
            Failure::SecretDisabled => emu.set_enabled("vault1", "s0", version, true).await,
            Failure::VaultGone => emu.recover_vault("vault1").await,
            Failure::DoesNotDeserialise => {
                emu.set_secret("vault1", "s1", "9090").await;
                return Service {
                    a: "value-vault1-0".into(),
                    port: 9090,
                };
            }
            Failure::RefusedByCheck => {
                emu.set_secret("vault1", "s0", "a-2").await;
            }
            _ => {}
        }
        Service {
            a: "a-2".into(),
            port: 8080,
        }
    }
}

#[tokio::test(start_paused = true)]
async fn every_failure_keeps_the_last_good_snapshot_says_why_and_recovers() {
    for failure in Failure::ALL {
        let fx = Fixture::start(2).await;
        fx.emu.set_secret("vault1", "s1", "8080").await;
        // Longer than the emulator's tokens live, which one row outlives.
        let week = Duration::from_secs(7 * 24 * 3600);
        let live = Live::builder(fx.resolver(), [("a", A), ("b", B)], service)
            .validate(|s| match s.a.as_str() {
                "refused-by-check" => Err(format!("a may not be {:?}", s.a)),
                _ => Ok(()),
            })
            .interval(week)
            .backoff(week, week)
            .start()
            .await
            .unwrap();
        let good = Service {
            a: "value-vault1-0".into(),
            port: 8080,
        };
        assert_eq!(**live.load(), good);

        let (says, version) = failure.apply(&fx.emu).await;
        let error = live.refresh_now().await.unwrap_err();
        assert!(error.to_string().contains(says), "{failure:?}: {error}");
        assert_eq!(
            **live.load(),
            good,
            "{failure:?}: the last good snapshot stays"
        );
        let status = live.status();
        let text = status.last_error.clone().unwrap_or_default();
        assert!(text.contains(says), "{failure:?}: {text}");
        assert_eq!(status.consecutive_failures, 1, "{failure:?}");
        assert!(status.failing_since.is_some(), "{failure:?}");
        assert_eq!(status.generation, 0, "{failure:?}");
        for value in [
            "a-2",
            "not-a-port",
            "refused-by-check",
            "value-vault1-0",
            "8080",
        ] {
            assert!(!text.contains(value), "{failure:?}: a value in {text}");
            assert!(
                !format!("{error:?}").contains(value),
                "{failure:?}: {error:?}"
            );
        }

        let mended = failure.mend(&fx.emu, &version).await;
        let changes = live.refresh_now().await.unwrap();
        assert!(!changes.is_empty(), "{failure:?}");
        assert_eq!(**live.load(), mended, "{failure:?}");
        let status = live.status();
        assert_eq!(status.last_error, None, "{failure:?}");
        assert_eq!(status.consecutive_failures, 0, "{failure:?}");
        assert_eq!(status.failing_since, None, "{failure:?}");
        assert_eq!(status.generation, 1, "{failure:?}");
    }
}

/// Key Vault's answer to a token past its `exp`: the challenge again, with AKV10022.
fn token_expired(times: Option<u32>) -> Fault {
    let challenge = format!(
        r#"Bearer authorization="https://login.microsoftonline.com/{TENANT}", resource="https://vault.azure.net""#
    );
    Fault {
        endpoint: Endpoint::KeyVault,
        status: Some(401),
        headers: [("WWW-Authenticate".to_owned(), challenge)].into(),
        body: Some(serde_json::json!({"error": {"code": "Unauthorized",
            "message": "AKV10022: Token validation failed: the token has expired."}})),
        times,
        ..Fault::default()
    }
}

#[tokio::test]
async fn a_token_refused_as_expired_is_replaced_at_once() {
    let fx = Fixture::start(2).await;
    let live = fx.pair().start().await.unwrap();
    let tokens = fx.credential.calls();
    fx.emu.set_secret("vault1", "s0", "rotated-0").await;
    fx.emu.clear_requests().await;
    // The cached token is still valid by our clock, but the vault says it has expired.
    fx.emu.add_fault(token_expired(Some(1))).await;

    let changes = live.refresh_now().await.unwrap();
    assert_eq!(changes.changed.len(), 1, "{changes:?}");
    assert_eq!(live.load().a, "rotated-0");
    assert_eq!(fx.credential.calls(), tokens + 1, "one fresh token");
    let statuses: Vec<u16> = vault_gets(&fx.emu).await.iter().map(|g| g.status).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 401).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| [200, 401].contains(s)),
        "{statuses:?}"
    );
    assert_eq!(emu::token_requests(&fx.emu).await, 1);
    assert_eq!(live.status().last_error, None);
}

/// The waits between the ends of the next `cycles` cycles, as tokio's paused clock tells them.
async fn waits_between_cycles(live: &Live<Pair>, cycles: usize) -> Vec<Duration> {
    let mut updates = live.status_updates();
    updates.borrow_and_update();
    let mut last = Instant::now();
    let mut waits = Vec::new();
    for _ in 0..cycles {
        updates.changed().await.unwrap();
        let now = Instant::now();
        waits.push(now - last);
        last = now;
        let status = updates.borrow_and_update().clone();
        assert_eq!(
            status.next_attempt.map(|at| at - now),
            Some(expected_next(&status))
        );
    }
    waits
}

/// The wait the status promises, by its failure count (jitter off, 60 s, 30 s .. 240 s).
fn expected_next(status: &kvref::live::Status) -> Duration {
    let secs = match status.consecutive_failures {
        0 => 60,
        n => (30u64 << (n - 1).min(3)).min(240),
    };
    Duration::from_secs(secs)
}

#[tokio::test(start_paused = true)]
async fn under_a_persistent_fault_the_attempts_back_off_on_schedule() {
    let fx = Fixture::start(2).await;
    let live = fx
        .pair()
        .interval(Duration::from_secs(60))
        .backoff(Duration::from_secs(30), Duration::from_secs(240))
        .start()
        .await
        .unwrap();
    // A refusal Key Vault does not retry: each cycle is one request, taking no paused time.
    let forbidden = Fault {
        endpoint: Endpoint::KeyVault,
        status: Some(403),
        body: Some(
            serde_json::json!({"error": {"code": "Forbidden", "message": "no role",
            "innererror": {"code": "ForbiddenByRbac"}}}),
        ),
        times: None,
        ..Fault::default()
    };
    fx.emu.add_fault(forbidden).await;
    fx.emu.clear_requests().await;

    let waits = waits_between_cycles(&live, 6).await;
    let secs: Vec<u64> = waits.iter().map(Duration::as_secs).collect();
    assert_eq!(secs, [60, 30, 60, 120, 240, 240]);
    assert!(waits.iter().all(|w| w.subsec_nanos() == 0), "{waits:?}");
    assert_eq!(live.status().consecutive_failures, 6);
    // Two GETs per cycle (s0, s1): the attempts are the journal's, not only the status's.
    assert_eq!(vault_gets(&fx.emu).await.len(), 12);

    // Mended: the next cycle succeeds and the interval is back.
    fx.emu.clear_faults().await;
    let waits = waits_between_cycles(&live, 2).await;
    assert_eq!(waits, [Duration::from_secs(240), Duration::from_secs(60)]);
    assert_eq!(live.status().consecutive_failures, 0);
    assert_eq!(live.load().a, "value-vault1-0");
}

#[tokio::test(start_paused = true)]
async fn jitter_spreads_the_interval_within_its_fraction() {
    let fx = Fixture::start(2).await;
    let live = fx
        .pair()
        .interval(Duration::from_secs(100))
        .jitter(0.5)
        .start()
        .await
        .unwrap();
    let mut updates = live.status_updates();
    let mut last = Instant::now();
    let mut waits = Vec::new();
    for _ in 0..5 {
        updates.changed().await.unwrap();
        waits.push(last.elapsed());
        last = Instant::now();
    }
    let range = Duration::from_secs(50)..=Duration::from_secs(150);
    assert!(waits.iter().all(|w| range.contains(w)), "{waits:?}");
    assert!(
        waits.iter().any(|w| *w != Duration::from_secs(100)),
        "{waits:?}"
    );
}

#[tokio::test]
async fn dropping_the_last_live_ends_the_refresher() {
    let fx = Fixture::start(2).await;
    let live = fx.pair().start().await.unwrap();
    let mut generation = live.subscribe();
    let mut updates = live.status_updates();
    let clone = live.clone();
    drop(live);
    // A clone keeps it going.
    clone.refresh_now().await.unwrap();
    drop(clone);
    // The senders live in the task: they are gone once it has ended.
    assert!(generation.changed().await.is_err());
    // Its last word (no next attempt) may be unread; after it, the channel is closed.
    while updates.changed().await.is_ok() {}
    assert_eq!(updates.borrow().next_attempt, None, "it said it stopped");
}

#[tokio::test]
async fn cancelling_the_token_ends_the_refresher_and_keeps_the_snapshot() {
    let fx = Fixture::start(2).await;
    let token = CancellationToken::new();
    let live = fx.pair().cancel_on(token.clone()).start().await.unwrap();
    let mut generation = live.subscribe();
    token.cancel();
    assert!(generation.changed().await.is_err());
    assert!(matches!(live.refresh_now().await, Err(LiveError::Stopped)));
    assert_eq!(live.load().a, "value-vault1-0");
    assert_eq!(live.status().next_attempt, None);
}

#[test]
fn a_runtime_shut_down_under_a_live_panics_nothing() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (live, emu) = runtime.block_on(async {
        let fx = Fixture::start(2).await;
        let live = fx
            .pair()
            .interval(Duration::from_millis(1))
            .start()
            .await
            .unwrap();
        (live, fx.emu)
    });
    let generation = live.subscribe();
    runtime.shutdown_timeout(Duration::from_secs(5));
    // The task is gone with its runtime; the snapshot stays readable.
    assert!(generation.has_changed().is_err());
    assert_eq!(live.load().b, "value-vault1-1");
    drop(live);
    drop(emu);
}

#[tokio::test]
async fn debug_and_status_hold_no_value() {
    let fx = Fixture::start(2).await;
    let live = fx.pair().start().await.unwrap();
    let text = format!("{live:?} {:?} {:?}", live.status(), fx.pair());
    assert!(!text.contains("value-vault1"), "{text}");
    assert!(text.contains("generation"), "{text}");
}
