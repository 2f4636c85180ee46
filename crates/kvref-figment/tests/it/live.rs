//! `kvref_figment::live` over the emulator: a rotated secret reaches the snapshot, a value that no
//! longer extracts or that the check refuses keeps the last good snapshot (and shows in the
//! status without the value), and a figment without a reference starts without a request.

use figment::Figment;
use figment::providers::{Format, Toml};
use kvref::live::{Live, LiveError};
use kvref::secrecy::{ExposeSecret, SecretString};
use kvref_emulator::Emulator;

use crate::support::{DB_PASSWORD, emulator, resolver};

#[derive(Debug, serde::Deserialize)]
struct Settings {
    mode: Mode,
    db: Db,
}

/// A field whose type error quotes the value (`unknown variant `…``), for the redaction.
#[derive(Debug, PartialEq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
enum Mode {
    Primary,
    Replica,
}

#[derive(Debug, serde::Deserialize)]
struct Db {
    password: SecretString,
}

/// `mode` and `db.password` both from Key Vault: the secrets `Mode` and `DbPassword`.
fn settings() -> Figment {
    Figment::from(Toml::string(
        r#"
        mode = "@KeyVault(VaultName=myvault;SecretName=Mode)"
        [db]
        password = "@KeyVault(VaultName=myvault;SecretName=DbPassword)"
        "#,
    ))
}

/// The sample emulator with `Mode` = primary, and live [`Settings`] over it checked by `check`.
async fn started(check: fn(&Settings) -> Result<(), String>) -> (Emulator, Live<Settings>) {
    let emu = emulator().await;
    emu.set_secret("myvault", "Mode", "primary").await;
    let live = kvref_figment::live::<Settings>(settings())
        .resolver(&resolver(&emu).await)
        .validate(check)
        .start()
        .await
        .expect("the live settings start");
    (emu, live)
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
    let (emu, live) = started(|_| Ok(())).await;
    let first = live.snapshot();
    assert_eq!(first.db.password.expose_secret(), DB_PASSWORD);

    let version = emu
        .set_secret("myvault", "DbPassword", "rotated-password")
        .await;
    let changes = live.refresh_now().await.unwrap();

    assert_eq!(changes.changed.len(), 1);
    assert!(
        changes.changed[0].key.ends_with("db.password"),
        "{changes:?}"
    );
    assert_eq!(changes.changed[0].to.as_deref(), Some(version.as_str()));
    assert_eq!(live.load().db.password.expose_secret(), "rotated-password");
    assert_eq!(live.load().mode, Mode::Primary);
    assert_eq!(first.db.password.expose_secret(), DB_PASSWORD);
}

#[tokio::test]
async fn a_value_that_no_longer_extracts_keeps_the_last_good_snapshot() {
    let (emu, live) = started(|_| Ok(())).await;

    emu.set_secret("myvault", "Mode", "not-a-mode-4c1d").await;
    let error = live.refresh_now().await.unwrap_err();

    assert!(matches!(error, LiveError::Build(_)), "{error:?}");
    assert_eq!(live.load().mode, Mode::Primary);
    let status = live.status();
    assert_eq!(status.generation, 0);
    assert_eq!(status.consecutive_failures, 1);
    let shown = status.last_error.expect("the failure shows in the status");
    assert!(
        shown.contains("mode") && shown.contains("unknown variant"),
        "{shown}"
    );
    for text in [shown, error.to_string(), format!("{error:?}")] {
        assert!(!text.contains("not-a-mode-4c1d"), "{text}");
    }

    // The next good value is swapped in.
    emu.set_secret("myvault", "Mode", "replica").await;
    live.refresh_now().await.unwrap();
    assert_eq!(live.load().mode, Mode::Replica);
    assert_eq!(live.status().last_error, None);
}

#[tokio::test]
async fn a_refused_check_keeps_the_last_good_snapshot() {
    let (emu, live) = started(refuse_weak_passwords).await;

    emu.set_secret("myvault", "DbPassword", "x1y2z3").await;
    let error = live.refresh_now().await.unwrap_err();

    assert!(matches!(error, LiveError::Refused(_)), "{error:?}");
    assert_eq!(live.load().db.password.expose_secret(), DB_PASSWORD);
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
async fn a_figment_without_references_starts_without_a_request() {
    let emu = emulator().await;
    let resolver = resolver(&emu).await;
    emu.clear_requests().await;
    let plain = || {
        Figment::from(Toml::string(
            "mode = \"replica\"\n[db]\npassword = \"plain\"\n",
        ))
    };

    let live = kvref_figment::live::<Settings>(plain())
        .resolver(&resolver)
        .start()
        .await
        .unwrap();
    assert!(live.refresh_now().await.unwrap().is_empty());

    assert_eq!(emu.requests().await.len(), 0);
    assert_eq!(live.load().mode, Mode::Replica);
    assert!(live.status().versions.is_empty());

    // Without a resolver none is built from the environment.
    let live = kvref_figment::live::<Settings>(plain())
        .start()
        .await
        .unwrap();
    assert_eq!(live.load().db.password.expose_secret(), "plain");
}

#[tokio::test]
async fn with_reread_sources_an_edited_toml_file_is_swapped_in_at_the_next_cycle() {
    let emu = emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("settings.toml");
    let write = |mode: &str| {
        let toml = format!(
            "mode = \"{mode}\"\n[db]\npassword = \"@KeyVault(VaultName=myvault;SecretName=DbPassword)\"\n"
        );
        std::fs::write(&path, toml).unwrap()
    };
    write("primary");
    let file = path.clone();
    let live = kvref_figment::live_from::<Settings>(move || Figment::from(Toml::file(&file)))
        .resolver(&resolver(&emu).await)
        .reread_sources(true)
        .start()
        .await
        .unwrap();
    let generation = live.subscribe();
    // The same read: nothing is swapped.
    assert!(live.refresh_now().await.unwrap().is_empty());
    assert!(!generation.has_changed().unwrap());

    write("replica");
    live.refresh_now().await.unwrap();
    assert!(generation.has_changed().unwrap());
    assert_eq!(live.load().mode, Mode::Replica);
    assert_eq!(live.load().db.password.expose_secret(), DB_PASSWORD);
}
