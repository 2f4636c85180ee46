//! The service's typed settings, read with `figment` from the TOML file and `APP__...`
//! environment overrides; Key Vault references in them are resolved by `kvref-figment`.

use std::path::PathBuf;
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use kvref::secrecy::SecretString;
use serde::Deserialize;

/// The variable that names the settings file (default: the package's `settings.toml`).
pub const SETTINGS_VAR: &str = "APP_SETTINGS";

/// Everything the service is configured with. Secrets are `SecretString`: never printed.
#[derive(Deserialize)]
pub struct Settings {
    /// Where to listen, `host:port` (port 0 picks a free one).
    pub listen: String,
    /// The API key callers present.
    pub api: Api,
    /// The database the service would use.
    pub database: Database,
    /// The Event Grid webhook.
    pub events: Events,
    /// The refresher's timing.
    #[serde(default)]
    pub refresh: Refresh,
}

/// The API key callers present in `x-api-key`.
#[derive(Deserialize)]
pub struct Api {
    /// The key.
    pub key: SecretString,
}

/// The database the service would use (the example only shows that its password resolves).
#[derive(Deserialize)]
pub struct Database {
    /// `host:port`.
    pub host: String,
    /// Its password.
    pub password: SecretString,
}

/// Who may deliver Event Grid events: Entra-protected delivery for this application.
#[derive(Deserialize)]
pub struct Events {
    /// The Entra application (id or App ID URI) the delivery tokens are for.
    pub application_id: String,
    /// The tenant issuing them; with the emulator, the emulator's own.
    #[serde(default)]
    pub tenant_id: Option<String>,
}

/// The refresher's timing.
#[derive(Deserialize)]
pub struct Refresh {
    /// Seconds between polls.
    pub interval_secs: u64,
}

impl Default for Refresh {
    fn default() -> Self {
        Refresh { interval_secs: 300 }
    }
}

impl Refresh {
    /// The poll interval.
    pub fn interval(&self) -> Duration {
        Duration::from_secs(self.interval_secs.max(1))
    }
}

/// The settings file in use: `$APP_SETTINGS`, or the package's `settings.toml`.
pub fn file() -> PathBuf {
    std::env::var_os(SETTINGS_VAR)
        .map(PathBuf::from)
        .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/settings.toml").into())
}

/// The sources: the file, then `APP__SECTION__KEY` variables over it.
pub fn figment(file: PathBuf) -> Figment {
    Figment::from(Toml::file_exact(file)).merge(Env::prefixed("APP__").split("__"))
}
