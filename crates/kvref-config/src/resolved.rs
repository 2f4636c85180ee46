//! [`ResolvedConfig`]: the user's `Config` with the secrets overlaid, and where each came from.

use std::fmt;
use std::ops::Deref;

use config::Config;
use kvref::reference::Reference;
use kvref::{Outcome, ResolveStatus};
use serde::de::DeserializeOwned;

use crate::Error;
use crate::tree::Path;

/// A `Config` with every Key Vault reference replaced by its secret; every other value keeps its
/// type and its origin. It derefs to [`Config`] for `get_string`, `get_int` and the like; read
/// typed settings with its own [`try_deserialize`](Self::try_deserialize) and
/// [`get`](Self::get), whose errors never show a secret. Its `Debug` shows which settings came
/// from Key Vault, never a value.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// # let emulator = kvref_emulator::Emulator::start(kvref_emulator::EmulatorConfig::sample()).await.unwrap();
/// # let resolver = kvref::Resolver::builder().emulator(format!("http://{}", emulator.http_addr())).connect(&kvref::Env::default()).await.unwrap();
/// let config = config::Config::builder()
///     .set_override("db.port", 5432)?
///     .set_override("db.password", "@KeyVault(VaultName=myvault;SecretName=DbPassword)")?
///     .build()?;
/// let config = kvref_config::resolve_with(config, &resolver).await?;
/// assert_eq!(config.get_int("db.port")?, 5432);
/// assert_eq!(config.get_string("db.password")?, "db-password-from-the-emulator");
/// assert!(!format!("{config:?}").contains("db-password-from-the-emulator"));
/// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
/// ```
#[derive(Clone)]
pub struct ResolvedConfig {
    config: Config,
    resolved: Option<kvref::Resolved>,
}

impl ResolvedConfig {
    pub(crate) fn new(config: Config, resolved: Option<kvref::Resolved>) -> Self {
        ResolvedConfig { config, resolved }
    }

    /// The whole settings tree as `T`, like [`Config::try_deserialize`], with every resolved
    /// secret redacted out of the error: it names the key, the expected type and the secret
    /// (`<redacted: myvault/DbPassword@version>`), never the value.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # let emulator = kvref_emulator::Emulator::start(kvref_emulator::EmulatorConfig::sample()).await.unwrap();
    /// # let resolver = kvref::Resolver::builder().emulator(format!("http://{}", emulator.http_addr())).connect(&kvref::Env::default()).await.unwrap();
    /// #[derive(Debug, serde::Deserialize)]
    /// struct Settings { port: u16 }
    /// let config = config::Config::builder()
    ///     .set_override("port", "@KeyVault(VaultName=myvault;SecretName=DbPassword)")?
    ///     .build()?;
    /// let error = kvref_config::resolve_with(config, &resolver).await?
    ///     .try_deserialize::<Settings>()
    ///     .unwrap_err();
    /// assert_eq!(error.key(), Some("port"));
    /// assert!(!error.to_string().contains("db-password-from-the-emulator"));
    /// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
    /// ```
    pub fn try_deserialize<T: DeserializeOwned>(self) -> Result<T, Error> {
        let ResolvedConfig { config, resolved } = self;
        config
            .try_deserialize()
            .map_err(|e| Error::config(&e, resolved.as_ref()))
    }

    /// The setting at `key` (`db.port`, `servers[0].password`) as `T`, like [`Config::get`],
    /// with the secrets redacted out of the error.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # let emulator = kvref_emulator::Emulator::start(kvref_emulator::EmulatorConfig::sample()).await.unwrap();
    /// # let resolver = kvref::Resolver::builder().emulator(format!("http://{}", emulator.http_addr())).connect(&kvref::Env::default()).await.unwrap();
    /// use kvref::secrecy::{ExposeSecret, SecretString};
    /// let config = config::Config::builder()
    ///     .set_override("db.password", "@KeyVault(VaultName=myvault;SecretName=DbPassword)")?
    ///     .build()?;
    /// let config = kvref_config::resolve_with(config, &resolver).await?;
    /// let password: SecretString = config.get("db.password")?;
    /// assert_eq!(password.expose_secret(), "db-password-from-the-emulator");
    /// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
    /// ```
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<T, Error> {
        self.config
            .get(key)
            .map_err(|e| Error::config(&e, self.resolved.as_ref()))
    }

    /// Where the value at `key` came from, as config records it: the file (`settings.toml`),
    /// `the environment`, or for a resolved setting `Azure Key Vault secret <secret id>`.
    /// `None` when there is no such key or its source recorded no origin.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # let emulator = kvref_emulator::Emulator::start(kvref_emulator::EmulatorConfig::sample()).await.unwrap();
    /// # let resolver = kvref::Resolver::builder().emulator(format!("http://{}", emulator.http_addr())).connect(&kvref::Env::default()).await.unwrap();
    /// let config = config::Config::builder()
    ///     .set_override("db.password", "@KeyVault(VaultName=myvault;SecretName=DbPassword)")?
    ///     .build()?;
    /// let config = kvref_config::resolve_with(config, &resolver).await?;
    /// let origin = config.origin("db.password").unwrap();
    /// assert!(origin.starts_with("Azure Key Vault secret https://myvault.vault.azure.net/secrets/DbPassword/"));
    /// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
    /// ```
    pub fn origin(&self, key: &str) -> Option<&str> {
        Path::parse(key)?.get(&self.config.cache)?.origin()
    }

    /// Each setting that held a reference, in the order found, with where its value came from.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # let emulator = kvref_emulator::Emulator::start(kvref_emulator::EmulatorConfig::sample()).await.unwrap();
    /// # let resolver = kvref::Resolver::builder().emulator(format!("http://{}", emulator.http_addr())).connect(&kvref::Env::default()).await.unwrap();
    /// let config = config::Config::builder()
    ///     .set_override("db.password", "@KeyVault(VaultName=myvault;SecretName=DbPassword)")?
    ///     .build()?;
    /// let config = kvref_config::resolve_with(config, &resolver).await?;
    /// let db = config.provenance().next().unwrap();
    /// assert_eq!((db.key(), db.vault(), db.secret()), ("db.password", "myvault", "DbPassword"));
    /// assert_eq!(db.secret_id(), format!("https://myvault.vault.azure.net/secrets/DbPassword/{}", db.version().unwrap()));
    /// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
    /// ```
    pub fn provenance(&self) -> impl Iterator<Item = Provenance<'_>> {
        self.resolved
            .iter()
            .flat_map(|resolved| resolved.outcomes())
            .filter_map(|outcome| {
                Some(Provenance {
                    reference: outcome.reference()?,
                    outcome,
                })
            })
    }

    /// The core's result, for what [`provenance`](Self::provenance) does not show (error codes,
    /// fixes of settings the policy kept or dropped, [`kvref::Resolved::redact`]). `None` when
    /// the settings held no reference: then no resolver was even built.
    pub fn resolution(&self) -> Option<&kvref::Resolved> {
        self.resolved.as_ref()
    }

    /// The `Config` itself. Its `Debug` and its own `try_deserialize` errors show the secrets;
    /// prefer this type's methods.
    pub fn into_config(self) -> Config {
        self.config
    }
}

impl Deref for ResolvedConfig {
    type Target = Config;

    fn deref(&self) -> &Config {
        &self.config
    }
}

impl fmt::Debug for ResolvedConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let from_key_vault: Vec<_> = self
            .provenance()
            .map(|p| (p.key(), p.outcome.provenance(), p.status()))
            .collect();
        f.debug_struct("ResolvedConfig")
            .field("from_key_vault", &from_key_vault)
            .finish_non_exhaustive()
    }
}

/// Where one setting's value came from: its key, the vault, the secret and its version. Never
/// the value.
#[derive(Clone, Copy, Debug)]
pub struct Provenance<'a> {
    outcome: &'a Outcome,
    reference: &'a Reference,
}

impl<'a> Provenance<'a> {
    /// The setting's key as config writes it: `db.password`, `servers[0].password`.
    pub fn key(&self) -> &'a str {
        self.outcome.key()
    }

    /// The vault's name (`myvault`).
    pub fn vault(&self) -> &'a str {
        self.reference.vault_name()
    }

    /// The secret's name (`DbPassword`).
    pub fn secret(&self) -> &'a str {
        self.reference.secret_name()
    }

    /// The version the value is: pinned by the reference, or the one resolved. `None` when
    /// unresolved and unpinned.
    pub fn version(&self) -> Option<&'a str> {
        self.outcome.resolved_version().or(self.reference.version())
    }

    /// The secret id, `https://myvault.vault.azure.net/secrets/DbPassword/<version>` (without the
    /// version when there is none yet): the name the `config` origin of the setting carries.
    pub fn secret_id(&self) -> String {
        secret_id(self.outcome)
    }

    /// Resolved, or why not (for settings an [`UnresolvedPolicy`](kvref::UnresolvedPolicy)
    /// kept as literal or dropped).
    pub fn status(&self) -> ResolveStatus {
        self.outcome.status()
    }

    /// The core's outcome for this setting.
    pub fn outcome(&self) -> &'a Outcome {
        self.outcome
    }
}

/// The secret id of an outcome: the reference's secret URL with the version it resolved to.
pub(crate) fn secret_id(outcome: &Outcome) -> String {
    let Some(reference) = outcome.reference() else {
        return String::new();
    };
    let url = reference.secret_url();
    match (reference.version(), outcome.resolved_version()) {
        (None, Some(version)) => format!("{url}/{version}"),
        _ => url,
    }
}
