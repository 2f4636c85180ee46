//! The service's typed settings, read with `config` from the TOML file and `APP__...`
//! environment overrides; Key Vault references in them are resolved by `kvref-config`.

use std::path::PathBuf;

use config::{Config, ConfigBuilder, Environment, File, FileFormat, builder::DefaultState};
use kvref::secrecy::SecretString;
use kvref_example_support::settings::{Database, Events, Refresh};
use serde::Deserialize;

/// Everything the service is configured with. Secrets are `SecretString`: never printed.
#[derive(Deserialize)]
pub struct Settings {
    /// Where to listen, `host:port` (port 0 picks a free one).
    pub listen: String,
    /// How receipts are signed.
    pub signing: Signing,
    /// The database the service would use.
    pub database: Database,
    /// The Event Grid webhook.
    pub events: Events,
    /// The refresher's timing.
    #[serde(default)]
    pub refresh: Refresh,
}

/// How receipts are signed.
#[derive(Deserialize)]
pub struct Signing {
    /// The HMAC-SHA256 key.
    pub key: SecretString,
}

/// The settings file in use: `$APP_SETTINGS`, or the package's `settings.toml`.
pub fn file() -> PathBuf {
    kvref_example_support::settings::file(concat!(env!("CARGO_MANIFEST_DIR"), "/settings.toml"))
}

/// The sources: the file, then `APP__SECTION__KEY` variables over it. A function, not a
/// value, because kvref-config rebuilds the sources on its own terms.
pub fn sources(file: PathBuf) -> impl Fn() -> ConfigBuilder<DefaultState> + Send + Sync + 'static {
    move || {
        Config::builder()
            .add_source(File::from(file.clone()).format(FileFormat::Toml))
            .add_source(
                Environment::with_prefix("APP")
                    .prefix_separator("__")
                    .separator("__"),
            )
    }
}
