//! Quickstart: load `settings.toml` with `config`, resolve its Key Vault references with
//! `kvref-config` against the kvref emulator, read typed settings, follow rotations as live
//! settings by poll and by Event Grid push, and show an operator's view of broken references.
//!
//! ```sh
//! cargo run -p kvref-quickstart
//! ```
//!
//! It starts the emulator in this process (real HTTPS on 127.0.0.1, its own CA, the vaults and
//! identities of `examples/emulator.toml`), then does what an app does at start-up, with exactly
//! the code it would run on Azure: `kvref_config::resolve(config)` picks the identity and the
//! transport from the environment. Here the environment says `KVREF_EMULATOR=http://127.0.0.1:PORT`,
//! so vault hosts go to the emulator and the emulator's App Service managed identity signs in; on
//! App Service the same code uses the real managed identity.

mod rotation;

use std::process::ExitCode;

use config::{Config, Environment, File};
use kvref::secrecy::{ExposeSecret, SecretString};
use kvref::{Env, Resolver};
use kvref_config::ResolvedConfig;
use kvref_emulator::{Emulator, EmulatorConfig};
use serde::Deserialize;

pub(crate) const SETTINGS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/settings.toml");

/// The service's typed settings: secrets are `SecretString`, never printed.
#[derive(Deserialize)]
pub(crate) struct Settings {
    listen: String,
    database: Database,
    payments: Payments,
}

#[derive(Deserialize)]
struct Database {
    host: String,
    password: SecretString,
    previous_password: SecretString,
}

#[derive(Deserialize)]
struct Payments {
    api_key: SecretString,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("quickstart: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let emulator = Emulator::start(EmulatorConfig::sample())
        .await
        .map_err(|e| format!("cannot start the emulator: {e}"))?;
    println!(
        "kvref emulator: Key Vault at https://{}, identity endpoints at http://{}",
        emulator.https_addr(),
        emulator.http_addr()
    );

    // The one thing that differs from Azure: this variable. Unset, the same code uses Azure.
    let env = Env::from_process().overlay(&Env::from_pairs([(
        "KVREF_EMULATOR",
        format!("http://{}", emulator.http_addr()),
    )]));
    let resolver = Resolver::builder()
        .connect(&env)
        .await
        .map_err(|e| e.to_string())?;

    // What an app's start-up looks like: its usual config loading, plus one line.
    let config = Config::builder()
        .add_source(File::with_name(SETTINGS))
        .add_source(Environment::with_prefix("APP").separator("__"))
        .build()
        .map_err(|e| e.to_string())?;
    // In an app: `kvref_config::resolve(config).await?`, the same with the process environment.
    let config = kvref_config::resolve_with(config, &resolver)
        .await
        .map_err(|e| e.to_string())?;
    print_provenance(&config);
    let settings: Settings = config.try_deserialize().map_err(|e| e.to_string())?;

    // A real app hands the secrets to its drivers; we only show their lengths.
    println!("\ntyped settings:");
    println!("  {:<26} = {}", "listen", settings.listen);
    println!("  {:<26} = {}", "database.host", settings.database.host);
    for (key, secret) in [
        ("database.password", &settings.database.password),
        (
            "database.previous_password",
            &settings.database.previous_password,
        ),
        ("payments.api_key", &settings.payments.api_key),
    ] {
        println!(
            "  {key:<26} = <secret, {} characters>",
            secret.expose_secret().len()
        );
    }

    let live = rotation::by_poll(&emulator, &resolver).await?;
    rotation::by_push(&emulator, &resolver, &live).await?;

    // What an operator sees when references cannot be resolved: every failure, with its fix.
    let broken = Config::builder()
        .set_override(
            "smtp.password",
            "@Microsoft.KeyVault(VaultName=myvault;SecretName=SmtpPassword)",
        )
        .and_then(|b| {
            b.set_override(
                "legacy.token",
                "@Microsoft.KeyVault(VaultName=myvault;SecretName=RetiredToken)",
            )
        })
        .and_then(|b| b.build())
        .map_err(|e| e.to_string())?;
    if let Err(error) = kvref_config::resolve_with(broken, &resolver).await {
        println!("\nand when references cannot be resolved, start-up stops with:\n{error}");
    }
    Ok(())
}

/// Where each setting that held a reference came from: vault, secret and version, and the
/// origin `config` now reports for it. Never the value.
fn print_provenance(config: &ResolvedConfig) {
    println!("\nsettings.toml, resolved:");
    for setting in config.provenance() {
        println!(
            "  {:<28} {:<10} {}/{}@{}",
            setting.key(),
            setting.status(),
            setting.vault(),
            setting.secret(),
            setting.version().unwrap_or("-"),
        );
        println!(
            "  {:<28} origin: {}",
            "",
            config.origin(setting.key()).unwrap_or("-")
        );
    }
    println!(
        "  {:<28} origin: {}",
        "database.host",
        config.origin("database.host").unwrap_or("-")
    );
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn the_quickstart_resolves_its_settings_and_shows_the_failing_run() {
        super::run().await.expect("the quickstart runs");
    }
}
