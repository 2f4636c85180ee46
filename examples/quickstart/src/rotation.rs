//! Rotation: the same settings as live settings, following a new secret version by poll
//! (`refresh_now`, what the refresher does every few minutes) and by push (Event Grid's
//! `SecretNewVersionCreated`, delivered by the emulator to this process's webhook).

use config::{Config, Environment, File};
use kvref::Resolver;
use kvref::live::{Changes, Live};
use kvref_emulator::Emulator;

use crate::{SETTINGS, Settings};

/// Starts live settings from the quickstart's file and rotates `database.password` once by poll.
pub(crate) async fn by_poll(
    emulator: &Emulator,
    resolver: &Resolver,
) -> Result<Live<Settings>, String> {
    let live = kvref_config::live::<Settings>(|| {
        Config::builder()
            .add_source(File::with_name(SETTINGS))
            .add_source(Environment::with_prefix("APP").separator("__"))
    })
    .resolver(resolver)
    .start()
    .await
    .map_err(|e| e.to_string())?;
    println!("\nlive settings: generation {}", live.status().generation);
    print_versions(&live);

    let version = emulator
        .set_secret("myvault", "DbPassword", "rotated-db-password")
        .await;
    println!("\nrotated myvault/DbPassword in the emulator: new version {version}");
    let changes = live.refresh_now().await.map_err(|e| e.to_string())?;
    print_changes(
        "by poll (refresh_now, as the refresher does every 5 minutes)",
        &changes,
    );
    Ok(live)
}

fn print_versions(live: &Live<Settings>) {
    for secret in live.status().versions {
        println!(
            "  {:<28} {}@{}",
            secret.key,
            secret.secret,
            secret.version.as_deref().unwrap_or("-")
        );
    }
}

fn print_changes(how: &str, changes: &Changes) {
    println!("  {how}: generation {}", changes.generation);
    for change in &changes.changed {
        println!(
            "  {:<28} {} {} -> {}",
            change.key,
            change.secret,
            change.from.as_deref().unwrap_or("-"),
            change.to.as_deref().unwrap_or("-")
        );
    }
}
