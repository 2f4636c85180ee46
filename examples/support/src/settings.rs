//! The settings both examples have besides their own: the database, the webhook, the refresh.

use std::path::PathBuf;
use std::time::Duration;

use kvref::secrecy::SecretString;
use serde::Deserialize;

/// The variable that names the settings file (default: the example's `settings.toml`).
pub const SETTINGS_VAR: &str = "APP_SETTINGS";

/// The settings file in use: `$APP_SETTINGS`, or `default`.
pub fn file(default: &str) -> PathBuf {
    std::env::var_os(SETTINGS_VAR)
        .map(PathBuf::from)
        .unwrap_or_else(|| default.into())
}

/// The database a service would use (the examples only show that its password resolves).
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
