//! The API an app meets: outcomes by input index, `into_result` applying the policy once,
//! `refresh` fetching only what can change, redaction of resolved values from any message,
//! budgets that cannot overflow, and a resolution given up leaving nothing running.

use std::time::Duration;

use crate::support::emu;
use kvref::secrecy::ExposeSecret;
use kvref::{ResolveStatus, Resolver};
use kvref_emulator::{Emulator, EmulatorConfig};

const LATEST: &str = "@KeyVault(VaultName=myvault;SecretName=DbPassword)";
const PINNED: &str = "@KeyVault(VaultName=myvault;SecretName=DbPassword;SecretVersion=0a1b2c3d4e5f60718293a4b5c6d7e8f9)";
const API_KEY: &str = "@KeyVault(VaultName=myvault;SecretName=ApiKey)";

async fn sample() -> Emulator {
    Emulator::start(EmulatorConfig::sample()).await.unwrap()
}

async fn authorised_gets(emu: &Emulator) -> Vec<String> {
    emu::vault_requests(emu)
        .await
        .into_iter()
        .filter(|r| r.authorization)
        .map(|r| r.path)
        .collect()
}

#[tokio::test]
async fn outcomes_carry_the_input_position() {
    let emu = sample().await;
    let resolver = emu::resolver(&emu, emu::credential(&emu)).build().unwrap();
    // Two settings with the same key and value: the index keeps them apart.
    let settings = [
        ("port", "8080"),
        ("db", LATEST),
        ("db", LATEST),
        ("bad", "@KeyVault(VaultName=x)"),
        ("api", API_KEY),
    ];
    let resolution = resolver.resolve(settings).await;
    let indices: Vec<usize> = resolution.outcomes().iter().map(|o| o.index()).collect();
    assert_eq!(indices, [1, 2, 3, 4]);
    for outcome in resolution.outcomes() {
        assert_eq!(outcome.key(), settings[outcome.index()].0);
    }
    assert_eq!(
        resolution.outcomes()[2].status(),
        ResolveStatus::InvalidSyntax
    );
}

#[tokio::test]
async fn into_result_fails_with_every_failure_or_hands_over_the_secrets() {
    let emu = sample().await;
    let resolver = emu::resolver(&emu, emu::credential(&emu)).build().unwrap();
    let error = resolver
        .resolve([
            ("a", LATEST),
            ("b", "@KeyVault(VaultName=myvault;SecretName=Gone)"),
        ])
        .await
        .into_result()
        .unwrap_err();
    assert_eq!(error.failed_keys().collect::<Vec<_>>(), ["b"]);
    assert_eq!(error.status_of("b"), Some(ResolveStatus::SecretNotFound));

    let resolved = resolver
        .resolve([("a", LATEST), ("plain", "x"), ("c", API_KEY)])
        .await
        .into_result()
        .unwrap();
    let secrets: Vec<(usize, String)> = resolved
        .secrets()
        .map(|(i, _, s)| (i, s.expose_secret().to_owned()))
        .collect();
    assert_eq!(
        secrets,
        [
            (0, "db-password-from-the-emulator".to_owned()),
            (2, "api-key-from-the-emulator".to_owned())
        ]
    );
    assert_eq!(
        resolved.kept_literal().count() + resolved.dropped().count(),
        0
    );
}

#[tokio::test]
async fn refresh_fetches_only_versionless_references_and_sees_a_new_version() {
    let emu = sample().await;
    let resolver = emu::resolver(&emu, emu::credential(&emu)).build().unwrap();
    let first = resolver
        .resolve([
            ("latest", LATEST),
            ("pinned", PINNED),
            ("again", LATEST),
            ("bad", "@KeyVault(VaultName=x)"),
        ])
        .await;
    assert_eq!(first.failures().count(), 1);
    let old_version = first.outcomes()[0].resolved_version().unwrap().to_owned();
    emu.clear_requests().await;

    let new_version = emu
        .set_secret("myvault", "DbPassword", "rotated-db-password")
        .await;
    let second = resolver.refresh(&first).await;

    // One GET, for the one distinct versionless secret; the pinned version is never asked again.
    let gets = authorised_gets(&emu).await;
    assert_eq!(gets.len(), 1, "{gets:?}");
    assert!(gets[0].ends_with("/secrets/DbPassword/"), "{gets:?}");
    let keys: Vec<&str> = second.outcomes().iter().map(|o| o.key()).collect();
    assert_eq!(keys, ["latest", "pinned", "again", "bad"]);
    let versions: Vec<Option<&str>> = second.versions().map(|(_, v)| v).collect();
    assert_eq!(versions[0], Some(new_version.as_str()));
    assert_eq!(versions[2], Some(new_version.as_str()));
    assert_ne!(versions[0], Some(old_version.as_str()));
    assert_eq!(versions[1], first.outcomes()[1].resolved_version());
    assert_eq!(
        second.outcomes()[0].value().unwrap().expose_secret(),
        "rotated-db-password"
    );
    assert_eq!(second.outcomes()[3].status(), ResolveStatus::InvalidSyntax);
}

#[tokio::test]
async fn refresh_tries_failed_references_again() {
    let emu = sample().await;
    let resolver = emu::resolver(&emu, emu::credential(&emu)).build().unwrap();
    let missing = "@KeyVault(VaultName=myvault;SecretName=LateComer)";
    let first = resolver.resolve([("late", missing)]).await;
    assert_eq!(first.outcomes()[0].status(), ResolveStatus::SecretNotFound);
    emu.set_secret("myvault", "LateComer", "here-now").await;
    let second = resolver.refresh(&first).await;
    assert!(second.is_success(), "{:?}", second.outcomes());
    assert!(second.outcomes()[0].fix().is_none());
}

#[tokio::test]
async fn redact_removes_values_in_every_form_a_message_can_hold_them() {
    let emu = sample().await;
    let tricky = "pa\"ss\\word\n42";
    emu.set_secret("myvault", "Tricky", tricky).await;
    let resolver = emu::resolver(&emu, emu::credential(&emu)).build().unwrap();
    let resolved = resolver
        .resolve([
            ("t", "@KeyVault(VaultName=myvault;SecretName=Tricky)"),
            ("d", LATEST),
        ])
        .await
        .into_result()
        .unwrap();
    let serde_style = format!("invalid type: string {tricky:?}, expected u16");
    let raw = format!("value {tricky} and db-password-from-the-emulator");
    for message in [&serde_style, &raw] {
        let safe = resolved.redact(message);
        assert!(!safe.contains(tricky), "{safe}");
        assert!(!safe.contains(&format!("{tricky:?}")[1..10]), "{safe}");
        assert!(!safe.contains("db-password-from-the-emulator"), "{safe}");
        assert!(safe.contains("<redacted: myvault/Tricky@"), "{safe}");
    }
    assert!(resolved.redact("nothing secret").eq("nothing secret"));
}

#[tokio::test]
async fn an_unlimited_budget_does_not_overflow() {
    let emu = sample().await;
    let resolver = emu::resolver(&emu, emu::credential(&emu))
        .budget(Duration::MAX)
        .build()
        .unwrap();
    let resolution = resolver.resolve([("db", LATEST)]).await;
    assert!(resolution.is_success(), "{:?}", resolution.outcomes());
}

#[tokio::test]
async fn configuration_errors_keep_their_source() {
    let error = Resolver::builder()
        .credential(crate::support::CountingCredential::fixed())
        .allow_vault_suffix(".net")
        .build()
        .unwrap_err();
    assert!(error.is_configuration() && !error.is_credential());
    let source = std::error::Error::source(&error).expect("the suffix error");
    assert!(source.to_string().contains(".net"), "{source}");

    let error = Resolver::builder()
        .connect(&kvref::Env::from_pairs([(
            "AZURE_TOKEN_CREDENTIALS",
            "nonsense",
        )]))
        .await
        .unwrap_err();
    assert!(error.is_credential(), "{error:?}");
    assert!(std::error::Error::source(&error).is_some());
}

/// Each vault's batch is a task of its own: a resolution that is given up (its future dropped,
/// here by a timeout) takes them all with it, no fetch is left waiting for Key Vault.
#[tokio::test(start_paused = true)]
async fn a_resolution_given_up_leaves_no_fetch_behind() {
    let emu = sample().await;
    let resolver = emu::resolver(&emu, emu::credential(&emu))
        .budget(Duration::from_secs(3600))
        .build()
        .unwrap();
    // Connections, challenge and token in place: the next batch only sends GETs.
    let warm = resolver.resolve([("api", API_KEY)]).await;
    assert!(warm.is_success());
    let tasks = tokio::runtime::Handle::current().metrics();
    let before = tasks.num_alive_tasks();

    // Every answer now takes a minute (of paused time); the resolution is given up at 30 s.
    emu.add_fault(kvref_emulator::Fault {
        endpoint: kvref_emulator::Endpoint::KeyVault,
        delay_ms: 60_000,
        times: None,
        ..kvref_emulator::Fault::default()
    })
    .await;
    let given_up = tokio::time::timeout(
        Duration::from_secs(30),
        resolver.resolve([("db", LATEST), ("api", API_KEY)]),
    )
    .await;
    assert!(given_up.is_err(), "no answer comes within 30 s");
    // The aborted tasks go as soon as the scheduler reaches them.
    for _ in 0..100 {
        if tasks.num_alive_tasks() <= before {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(
        tasks.num_alive_tasks(),
        before,
        "no fetch task outlives its resolution"
    );
}
