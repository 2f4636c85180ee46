//! Retries against the emulator's injected faults: 429 with and without `Retry-After`, the
//! millisecond hints, 503 and dropped connections are retried within the budget; a hint beyond
//! the budget and throttling that lasts until the budget ends (even while a retry is on its way)
//! end in `Throttled`, a vault that never answers in `FetchTimedOut`. Time is paused: the waits
//! cost nothing, and the virtual clock shows the hints were honoured.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::support::emu;
use kvref::resolve::ResolveStatus;
use kvref::vault::RetryPolicy;
use kvref_emulator::{Emulator, EmulatorConfig, Endpoint, Fault};
use tokio::time::Instant;

fn db() -> Vec<(String, String)> {
    vec![(
        "Db".to_owned(),
        "@KeyVault(VaultName=myvault;SecretName=DbPassword)".to_owned(),
    )]
}

fn fault(status: Option<u16>, headers: &[(&str, &str)], times: Option<u32>) -> Fault {
    Fault {
        endpoint: Endpoint::KeyVault,
        status,
        headers: headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<BTreeMap<_, _>>(),
        times,
        ..Fault::default()
    }
}

/// Resolves `Db` with `faults` injected; returns the status, the statuses the vault answered
/// (0 = dropped) and the virtual time it took.
async fn resolve_with(faults: Vec<Fault>, budget: Duration) -> (ResolveStatus, Vec<u16>, Duration) {
    let emu = Emulator::start(EmulatorConfig::sample()).await.unwrap();
    for f in faults {
        emu.add_fault(f).await;
    }
    let resolver = emu::resolver(&emu, emu::credential(&emu))
        .retry_policy(RetryPolicy::default()) // 200 ms doubling, as shipped
        .budget(budget)
        .build()
        .unwrap();
    let started = Instant::now();
    let resolution = resolver.resolve(db()).await;
    let took = started.elapsed();
    let statuses = emu::vault_requests(&emu)
        .await
        .iter()
        .map(|r| r.status)
        .collect();
    (resolution.outcomes()[0].status(), statuses, took)
}

#[tokio::test(start_paused = true)]
async fn throttling_with_retry_after_is_honoured() {
    let (status, statuses, took) = resolve_with(
        vec![fault(Some(429), &[("Retry-After", "3")], Some(2))],
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(status, ResolveStatus::Resolved);
    assert_eq!(statuses, [429, 429, 401, 200]);
    assert!(
        took >= Duration::from_secs(6),
        "waited {took:?}, at least 2 × Retry-After"
    );
}

#[tokio::test(start_paused = true)]
async fn millisecond_hints_are_honoured() {
    for header in ["retry-after-ms", "x-ms-retry-after-ms"] {
        let (status, statuses, took) = resolve_with(
            vec![fault(Some(429), &[(header, "2500")], Some(1))],
            Duration::from_secs(60),
        )
        .await;
        assert_eq!(status, ResolveStatus::Resolved, "{header}");
        assert_eq!(statuses, [429, 401, 200]);
        assert!(
            took >= Duration::from_millis(2500),
            "{header}: waited {took:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn throttling_without_retry_after_backs_off() {
    let (status, statuses, _) = resolve_with(
        vec![fault(Some(429), &[], Some(3))],
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(status, ResolveStatus::Resolved);
    assert_eq!(statuses, [429, 429, 429, 401, 200]);
}

#[tokio::test(start_paused = true)]
async fn server_errors_and_dropped_connections_are_retried() {
    for first in [Some(503), Some(500), Some(502), Some(504), Some(408)] {
        let (status, statuses, _) =
            resolve_with(vec![fault(first, &[], Some(2))], Duration::from_secs(60)).await;
        assert_eq!(status, ResolveStatus::Resolved, "{first:?}");
        assert_eq!(statuses.len(), 4, "{first:?}: {statuses:?}");
    }
    let dropped = Fault {
        drop_connection: true,
        ..fault(None, &[], Some(2))
    };
    let (status, statuses, _) = resolve_with(vec![dropped], Duration::from_secs(60)).await;
    assert_eq!(status, ResolveStatus::Resolved);
    assert_eq!(statuses, [0, 0, 401, 200]);
}

#[tokio::test(start_paused = true)]
async fn a_retry_hint_beyond_the_budget_is_not_waited_for() {
    let (status, statuses, took) = resolve_with(
        vec![fault(Some(429), &[("Retry-After", "120")], None)],
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(status, ResolveStatus::Throttled);
    assert_eq!(statuses, [429], "no retry that cannot fit in the budget");
    assert!(
        took < Duration::from_secs(30),
        "gave up at once, not after {took:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn persistent_throttling_ends_as_throttled_within_the_budget() {
    let (status, statuses, took) =
        resolve_with(vec![fault(Some(429), &[], None)], Duration::from_secs(10)).await;
    assert_eq!(status, ResolveStatus::Throttled);
    assert!(
        statuses.len() > 2 && statuses.iter().all(|s| *s == 429),
        "{statuses:?}"
    );
    assert!(took <= Duration::from_secs(10), "{took:?}");
}

#[tokio::test(start_paused = true)]
async fn throttling_until_the_budget_ends_is_throttled_not_timed_out() {
    // `Retry-After: 0` lets a retry start shortly before the end of the budget; the vault takes
    // 400 ms to answer (the paused clock would otherwise make every answer instant), so the
    // budget runs out while that retry waits. Key Vault did answer every time, with 429: the
    // outcome is Throttled, with the service's code, whatever the jitter drew.
    let body = serde_json::json!({"error": {
        "code": "Throttled",
        "message": "Request was not processed because too many requests were received. \
                    Reason: VaultRequestTypeLimitReached"
    }});
    for (answer_ms, budget_ms) in [(400, 1000), (400, 1500), (0, 1000), (0, 2500)] {
        let throttling = Fault {
            body: Some(body.clone()),
            delay_ms: answer_ms,
            ..fault(Some(429), &[("Retry-After", "0")], None)
        };
        let emu = Emulator::start(EmulatorConfig::sample()).await.unwrap();
        emu.add_fault(throttling).await;
        let resolver = emu::resolver(&emu, emu::credential(&emu))
            .retry_policy(RetryPolicy::default())
            .budget(Duration::from_millis(budget_ms))
            .build()
            .unwrap();
        // Two secrets of one vault: the second waits for the first one's discovery.
        let mut settings = db();
        settings.push((
            "Api".to_owned(),
            "@KeyVault(VaultName=myvault;SecretName=ApiKey)".to_owned(),
        ));
        let resolution = resolver.resolve(settings).await;
        let case = format!("answers after {answer_ms} ms, budget {budget_ms} ms");
        assert_eq!(resolution.outcomes().len(), 2, "{case}");
        for outcome in resolution.outcomes() {
            assert_eq!(
                outcome.status(),
                ResolveStatus::Throttled,
                "{case}, {}: {:?}",
                outcome.key(),
                outcome.message()
            );
            assert_eq!(outcome.error_code(), Some("Throttled"), "{case}");
        }
        let statuses: Vec<u16> = emu::vault_requests(&emu)
            .await
            .iter()
            .map(|r| r.status)
            .collect();
        assert!(
            !statuses.is_empty() && statuses.iter().all(|s| *s == 429),
            "{case}: {statuses:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_vault_that_never_answers_times_out_at_the_budget() {
    let slow = Fault {
        delay_ms: 600_000,
        ..fault(None, &[], None)
    };
    let (status, _, took) = resolve_with(vec![slow], Duration::from_secs(5)).await;
    assert_eq!(status, ResolveStatus::FetchTimedOut);
    assert!(took <= Duration::from_secs(6), "{took:?}");
}
