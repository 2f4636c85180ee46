//! Rotation: the same settings as live settings, following a new secret version by poll
//! (`refresh_now`, what the refresher does every few minutes) and by push (Event Grid's
//! `SecretNewVersionCreated`, delivered by the emulator to this process's webhook).

use std::time::Instant;

use config::{Config, Environment, File};
use kvref::Resolver;
use kvref::events::{EntraAuth, Webhook};
use kvref::live::{Changes, Live};
use kvref_emulator::{Emulator, Subscription, SubscriptionAuth};

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

/// The Entra application Event Grid gets tokens for: the webhook accepts no other audience.
const APPLICATION_ID: &str = "8c4e2f4a-1b3d-4e5f-9a6b-7c8d9e0f1a2b";

/// Serves the Event Grid webhook for `live`, subscribes it in the emulator (which runs the
/// validation handshake), rotates `payments.api_key` and waits for the pushed swap.
pub(crate) async fn by_push(
    emulator: &Emulator,
    resolver: &Resolver,
    live: &Live<Settings>,
) -> Result<(), String> {
    // The same code on Azure: there the tenant is the app's, here the emulator's.
    let entra =
        EntraAuth::for_resolver(resolver, None, APPLICATION_ID).and_then(|entra| entra.build())?;
    let webhook = Webhook::builder(live.clone())
        .entra(entra)
        .build()
        .map_err(|e| e.to_string())?;
    let app: axum::Router = kvref_axum::router("/events/keyvault", webhook);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("cannot listen for Event Grid: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let endpoint = format!("http://{addr}/events/keyvault");
    let subscription = Subscription::new("quickstart", &endpoint).auth(SubscriptionAuth::Entra {
        application_id: APPLICATION_ID.to_owned(),
    });
    emulator
        .add_subscription(subscription)
        .await
        .map_err(|e| e.to_string())?;
    println!(
        "
Event Grid subscription `quickstart` -> {endpoint} (handshake passed, Entra-protected)"
    );

    // The status follows each swap: waiting on it, the versions printed below are the new ones.
    let mut status = live.status_updates();
    let before = status.borrow_and_update().generation;
    let started = Instant::now();
    let version = emulator
        .set_secret("myvault", "ApiKey", "rotated-api-key")
        .await;
    println!("rotated myvault/ApiKey in the emulator: new version {version}");
    let generation = status
        .wait_for(|now| now.generation > before)
        .await
        .map_err(|_| "the refresher stopped".to_owned())?
        .generation;
    println!(
        "  by push (SecretNewVersionCreated from Event Grid): generation {generation} after {} ms",
        started.elapsed().as_millis()
    );
    print_versions(live);
    server.abort();
    Ok(())
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
