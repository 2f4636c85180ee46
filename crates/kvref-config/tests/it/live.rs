//! `kvref_config::live` over the emulator: a rotated secret reaches the snapshot, a value that no
//! longer deserialises or that the check refuses keeps the last good snapshot (and shows in the
//! status without the value), and settings without a reference start without a request.

use config::{Config, ConfigBuilder, File, FileFormat, builder::DefaultState};
use kvref::UnresolvedPolicy;
use kvref::live::{Live, LiveError};
use kvref::secrecy::{ExposeSecret, SecretString};
use kvref_emulator::Emulator;

use crate::emulator_and_resolver;

#[derive(Debug, serde::Deserialize)]
struct Settings {
    port: u16,
    db: Db,
}

#[derive(Debug, serde::Deserialize)]
struct Db {
    password: SecretString,
}

/// `port` and `db.password` both from Key Vault: the secret `Port` and `DbPassword`.
fn settings() -> ConfigBuilder<DefaultState> {
    Config::builder().add_source(File::from_str(
        r#"
        port = "@KeyVault(VaultName=myvault;SecretName=Port)"
        [db]
        password = "@KeyVault(VaultName=myvault;SecretName=DbPassword)"
        "#,
        FileFormat::Toml,
    ))
}

/// The sample emulator with `Port` = 5432, and live [`Settings`] over it checked by `check`.
async fn started(check: fn(&Settings) -> Result<(), String>) -> (Emulator, Live<Settings>) {
    let (emulator, resolver) = emulator_and_resolver(UnresolvedPolicy::Fail).await;
    emulator.set_secret("myvault", "Port", "5432").await;
    let live = kvref_config::live::<Settings>(settings)
        .resolver(&resolver)
        .validate(check)
        .start()
        .await
        .expect("the live settings start");
    (emulator, live)
}

/// Refuses a password under 12 characters, quoting it (the refusal must come out redacted).
fn refuse_weak_passwords(settings: &Settings) -> Result<(), String> {
    let password = settings.db.password.expose_secret();
    match password.len() {
        ..12 => Err(format!("db.password `{password}` is too weak")),
        _ => Ok(()),
    }
}

#[tokio::test]
async fn a_rotated_secret_reaches_the_snapshot_after_one_refresh() {
    let (emulator, live) = started(|_| Ok(())).await;
    let first = live.snapshot();
    assert_eq!(
        first.db.password.expose_secret(),
        "db-password-from-the-emulator"
    );

    let version = emulator
        .set_secret("myvault", "DbPassword", "rotated-password")
        .await;
    let changes = live.refresh_now().await.unwrap();

    assert_eq!(changes.changed.len(), 1);
    assert_eq!(changes.changed[0].key, "db.password");
    assert_eq!(changes.changed[0].to.as_deref(), Some(version.as_str()));
    assert_eq!(live.load().db.password.expose_secret(), "rotated-password");
    assert_eq!(live.load().port, 5432);
    assert_eq!(
        first.db.password.expose_secret(),
        "db-password-from-the-emulator"
    );
}

#[tokio::test]
async fn a_value_that_no_longer_deserialises_keeps_the_last_good_snapshot() {
    let (emulator, live) = started(|_| Ok(())).await;

    emulator
        .set_secret("myvault", "Port", "not-a-port-4c1d")
        .await;
    let error = live.refresh_now().await.unwrap_err();

    assert!(matches!(error, LiveError::Build(_)), "{error:?}");
    assert_eq!(live.load().port, 5432);
    let status = live.status();
    assert_eq!(status.generation, 0);
    assert_eq!(status.consecutive_failures, 1);
    let shown = status.last_error.expect("the failure shows in the status");
    assert!(shown.contains("port"), "{shown}");
    for text in [shown, error.to_string(), format!("{error:?}")] {
        assert!(!text.contains("not-a-port-4c1d"), "{text}");
    }

    // The next good value is swapped in.
    emulator.set_secret("myvault", "Port", "6543").await;
    live.refresh_now().await.unwrap();
    assert_eq!(live.load().port, 6543);
    assert_eq!(live.status().last_error, None);
}

#[tokio::test]
async fn a_refused_check_keeps_the_last_good_snapshot() {
    let (emulator, live) = started(refuse_weak_passwords).await;

    emulator.set_secret("myvault", "DbPassword", "x1y2z3").await;
    let error = live.refresh_now().await.unwrap_err();

    assert!(matches!(error, LiveError::Refused(_)), "{error:?}");
    assert_eq!(
        live.load().db.password.expose_secret(),
        "db-password-from-the-emulator"
    );
    let shown = live
        .status()
        .last_error
        .expect("the refusal shows in the status");
    assert!(shown.contains("too weak"), "{shown}");
    assert!(
        !shown.contains("x1y2z3") && !error.to_string().contains("x1y2z3"),
        "{shown}"
    );
}

#[tokio::test]
async fn settings_without_references_start_without_a_request() {
    let (emulator, resolver) = emulator_and_resolver(UnresolvedPolicy::Fail).await;
    emulator.clear_requests().await;
    let plain = || {
        Config::builder().add_source(File::from_str(
            "port = 8080\n[db]\npassword = \"plain\"\n",
            FileFormat::Toml,
        ))
    };

    let live = kvref_config::live::<Settings>(plain)
        .resolver(&resolver)
        .start()
        .await
        .unwrap();
    assert!(live.refresh_now().await.unwrap().is_empty());

    assert_eq!(emulator.requests().await.len(), 0);
    assert_eq!(live.load().port, 8080);
    assert!(live.status().versions.is_empty());

    // Without a resolver none is built from the environment.
    let live = kvref_config::live::<Settings>(plain).start().await.unwrap();
    assert_eq!(live.load().db.password.expose_secret(), "plain");
}

#[tokio::test]
async fn with_reread_sources_an_edited_file_is_swapped_in_at_the_next_cycle() {
    let (_emulator, resolver) = emulator_and_resolver(UnresolvedPolicy::Fail).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("settings.toml");
    let write = |port: u16| {
        std::fs::write(
            &path,
            format!("port = {port}\n[db]\npassword = \"@KeyVault(VaultName=myvault;SecretName=DbPassword)\"\n"),
        )
        .unwrap()
    };
    write(8080);
    let file = path.clone();
    let factory = move || Config::builder().add_source(File::from(file.clone()));
    let rereading = kvref_config::live::<Settings>(factory.clone())
        .resolver(&resolver)
        .reread_sources(true)
        .start()
        .await
        .unwrap();
    let fixed = kvref_config::live::<Settings>(factory)
        .resolver(&resolver)
        .start()
        .await
        .unwrap();
    let generation = rereading.subscribe();

    // The same read: nothing is swapped.
    assert!(rereading.refresh_now().await.unwrap().is_empty());
    assert!(!generation.has_changed().unwrap());

    write(9090);
    rereading.refresh_now().await.unwrap();
    assert!(generation.has_changed().unwrap());
    assert_eq!(rereading.load().port, 9090);
    assert_eq!(
        rereading.load().db.password.expose_secret(),
        "db-password-from-the-emulator"
    );
    // Off by default: the file is read once.
    fixed.refresh_now().await.unwrap();
    assert_eq!(fixed.load().port, 8080);

    // A file that no longer parses keeps the last good snapshot.
    std::fs::write(&path, "port = [").unwrap();
    assert!(rereading.refresh_now().await.is_err());
    assert_eq!(rereading.load().port, 9090);
}
