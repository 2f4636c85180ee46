//! The service's typed settings, read with `figment` from the TOML file and `APP__...`
//! environment overrides; Key Vault references in them are resolved by `kvref-figment`.

use std::path::PathBuf;

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use kvref::secrecy::SecretString;
use kvref_example_support::settings::{Database, Events, Refresh};
use serde::Deserialize;

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

/// The settings file in use: `$APP_SETTINGS`, or the package's `settings.toml`.
pub fn file() -> PathBuf {
    kvref_example_support::settings::file(concat!(env!("CARGO_MANIFEST_DIR"), "/settings.toml"))
}

/// The sources: the file, then `APP__SECTION__KEY` variables over it.
pub fn figment(file: PathBuf) -> Figment {
    Figment::from(Toml::file_exact(file)).merge(Env::prefixed("APP__").split("__"))
}
