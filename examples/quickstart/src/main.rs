//! Quickstart: resolve the Key Vault references in `settings.toml` against the kvref emulator.
//!
//! ```sh
//! cargo run -p kvref-quickstart
//! ```
//!
//! It starts the emulator in this process (real HTTPS on 127.0.0.1, its own CA, the vaults and
//! identities of `examples/emulator.toml`), then does what an app does at start-up, with exactly
//! the code it would run on Azure: `Resolver::from_env` picks the identity and the transport from
//! the environment. Here the environment says `KVREF_EMULATOR=http://127.0.0.1:PORT`, so vault
//! hosts go to the emulator and the emulator's App Service managed identity signs in; on App
//! Service the same code uses the real managed identity.

use std::process::ExitCode;

use kvref::secrecy::ExposeSecret;
use kvref::{Env, Resolver};
use kvref_emulator::{Emulator, EmulatorConfig};

const SETTINGS: &str = include_str!("../settings.toml");

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
    // `Resolver::from_env()` in an app: the same, with the process environment.
    let resolver = Resolver::builder()
        .connect(&env)
        .await
        .map_err(|e| e.to_string())?;

    let settings = flatten(SETTINGS)?;
    let resolved = resolver
        .resolve(settings.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .await
        .into_result()
        .map_err(|e| e.to_string())?;

    println!("\nsettings.toml, resolved:");
    for outcome in resolved.outcomes() {
        println!(
            "  {:<28} {:<10} {} (version {})",
            outcome.key(),
            outcome.status(),
            outcome
                .reference()
                .map(ToString::to_string)
                .unwrap_or_default(),
            outcome.resolved_version().unwrap_or("-"),
        );
    }
    for (index, outcome, secret) in resolved.secrets() {
        // A real app hands the secret to its database driver; we only show its length.
        let (key, _) = &settings[index];
        println!(
            "  {key} = <secret from {}, {} characters>",
            outcome.provenance().unwrap_or_default(),
            secret.expose_secret().len()
        );
    }

    // What an operator sees when a reference cannot be resolved: every failure, with its fix.
    let broken = [
        (
            "smtp.password",
            "@Microsoft.KeyVault(VaultName=myvault;SecretName=SmtpPassword)",
        ),
        (
            "legacy.token",
            "@Microsoft.KeyVault(VaultName=myvault;SecretName=RetiredToken)",
        ),
    ];
    if let Err(error) = resolver.resolve(broken).await.into_result() {
        println!("\nand when references cannot be resolved, start-up stops with:\n{error}");
    }
    Ok(())
}

/// The string leaves of a TOML document as (dotted key, value) pairs.
fn flatten(text: &str) -> Result<Vec<(String, String)>, String> {
    let table: toml::Table = text.parse().map_err(|e| format!("settings.toml: {e}"))?;
    let mut settings = Vec::new();
    walk("", &toml::Value::Table(table), &mut settings);
    Ok(settings)
}

fn walk(prefix: &str, value: &toml::Value, out: &mut Vec<(String, String)>) {
    match value {
        toml::Value::Table(table) => {
            for (key, value) in table {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                walk(&path, value, out);
            }
        }
        toml::Value::String(text) => out.push((prefix.to_owned(), text.clone())),
        other => out.push((prefix.to_owned(), other.to_string())),
    }
}
