//! Azure Key Vault references in [figment] settings, resolved with managed identity: add one line
//! to the way you load settings, and get typed settings with every secret in place.
//!
//! ```
//! # figment::Jail::expect_with(|jail| {
//! # let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
//! # runtime.block_on(async {
//! # let emulator = kvref_emulator::Emulator::start(kvref_emulator::EmulatorConfig::sample()).await.unwrap();
//! # jail.set_env("KVREF_EMULATOR", format!("http://{}", emulator.http_addr()));
//! # jail.create_file("settings.toml", "[db]\nhost = 'db.internal'\npassword = 'dev'\n").unwrap();
//! # jail.set_env("APP_DB__PASSWORD", "@Microsoft.KeyVault(VaultName=myvault;SecretName=DbPassword)");
//! use figment::{Figment, providers::{Env, Format, Toml}};
//! use kvref::secrecy::{ExposeSecret, SecretString};
//!
//! #[derive(serde::Deserialize)]
//! struct Settings { db: Db }
//! #[derive(serde::Deserialize)]
//! struct Db { host: String, password: SecretString }
//!
//! let figment = Figment::new()
//!     .merge(Toml::file("settings.toml"))
//!     .merge(Env::prefixed("APP_").split("__"));    // APP_DB__PASSWORD=@Microsoft.KeyVault(…)
//! let figment = kvref_figment::resolve(figment).await?;       // every reference resolved
//! let settings: Settings = kvref_figment::extract(&figment)?; // errors never show a secret
//! # assert_eq!(settings.db.host, "db.internal");
//! assert_eq!(settings.db.password.expose_secret(), "db-password-from-the-emulator");
//! # Ok::<(), kvref_figment::Error>(())
//! # }).unwrap();
//! # Ok(())
//! # });
//! ```
//!
//! Any string value, from any provider and in any profile, may be a reference, in any of the
//! forms App Service accepts:
//!
//! ```toml
//! [db]
//! host = "db.internal"
//! password = "@Microsoft.KeyVault(SecretUri=https://myvault.vault.azure.net/secrets/DbPassword/)"
//! api_key = "@Microsoft.KeyVault(VaultName=myvault;SecretName=ApiKey)"
//! report_key = "@KeyVault(SecretUri=https://othervault.vault.azure.net/secrets/ReportingKey)"
//! ```
//!
//! What you get back is your own figment with one overlay per secret merged on top. The overlay's
//! metadata is named [`METADATA_NAME`] (`"Azure Key Vault"`) with the secret id (the secret's URL
//! with the version Key Vault served) as its source, so `figment.find_metadata("db.password")`
//! and figment's own errors say which secret a value came from; every other value keeps its own
//! provenance, and the selected profile stays selected. References are found in every profile
//! (`default`, `global`, the selected one and every other profile in the data) and each is
//! overlaid under the profile it was found in, so figment's precedence (global over the selected
//! profile over default) holds for secrets as for any value, and selecting another profile later
//! finds its secrets resolved too. That also means a reference in any profile must resolve (or
//! see the unresolved policy below).
//!
//! A figment with no reference is returned untouched, without a request or a credential lookup.
//!
//! # Typed settings and secret-safe errors
//!
//! Figment's type errors quote the value (`invalid type: found string "…", expected u16`).
//! [`extract`], [`extract_inner`] and the [`FigmentExt`] methods redact every value that came
//! from Key Vault in every error they return (`Display` and `Debug`), naming the key, the expected
//! type and the secret instead (`<redacted: myvault/DbPassword@…>`). Hold secrets as
//! [`kvref::secrecy::SecretString`] (kvref's re-export, so that the versions match), or as
//! [`Tagged<SecretString>`](figment::value::magic::Tagged) to keep the tag that leads to the
//! secret id.
//!
//! The resolved figment holds the secrets as plain strings (figment extracts from those): do not
//! print it with `{:?}`, and extract with this crate's functions rather than figment's.
//!
//! # A user-assigned identity, and other options
//!
//! The options are the core's: build a [`kvref::Resolver`] and pass it to [`resolve_with`]
//! (`AZURE_CLIENT_ID` in the environment selects a user-assigned identity for [`resolve`] too).
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! # let emulator = kvref_emulator::Emulator::start(kvref_emulator::EmulatorConfig::sample()).await.unwrap();
//! # let env = kvref::Env::from_pairs([("KVREF_EMULATOR", format!("http://{}", emulator.http_addr()))]);
//! # let figment = figment::Figment::from(figment::providers::Serialized::defaults(
//! #     serde_json::json!({ "db": { "password": "@KeyVault(VaultName=myvault;SecretName=DbPassword)" } })));
//! use kvref::credential::UserAssignedId;
//!
//! let resolver = kvref::Resolver::builder()
//!     .user_assigned(UserAssignedId::ClientId("6beb3ab0-6e28-4a92-8e5a-ce0d5abf3a8c".into()))
//!     .connect(&env) // `&kvref::Env::from_process()` in an app
//!     .await?;
//! let figment = kvref_figment::resolve_with(figment, &resolver).await?;
//! # let password: String = kvref_figment::extract_inner(&figment, "db.password")?;
//! # assert_eq!(password, "db-password-from-the-emulator");
//! # Ok::<(), kvref_figment::Error>(()) }).unwrap();
//! ```
//!
//! # Sovereign clouds
//!
//! Vaults of Azure China (`*.vault.azure.cn`) and Azure US Government
//! (`*.vault.usgovcloudapi.net`) are allowed by default: `SecretUri=` references to them just
//! work. `VaultName=` references resolve under the public cloud's suffix unless you set another;
//! allow any other suffix you use with
//! [`allow_vault_suffix`](kvref::ResolverBuilder::allow_vault_suffix).
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! # let config = format!("{}\n{}", kvref_emulator::EmulatorConfig::sample_toml(), r#"
//! # [[vaults]]
//! # name = "chinavault"
//! # cloud = "china"
//! # [[vaults.secrets]]
//! # name = "DbPassword"
//! # [[vaults.secrets.versions]]
//! # value = "db-password-in-china"
//! # [[role_assignments]]
//! # principal = "system"
//! # vault = "chinavault"
//! # role = "Key Vault Secrets User"
//! # "#);
//! # let emulator = kvref_emulator::Emulator::start(kvref_emulator::EmulatorConfig::from_toml_str(&config).unwrap()).await.unwrap();
//! # let env = kvref::Env::from_pairs([("KVREF_EMULATOR", format!("http://{}", emulator.http_addr()))]);
//! use figment::{Figment, providers::{Format, Toml}};
//!
//! let figment = Figment::from(Toml::string(r#"
//!     db.password = "@KeyVault(VaultName=chinavault;SecretName=DbPassword)"
//! "#));
//! let resolver = kvref::Resolver::builder()
//!     .default_vault_suffix("vault.azure.cn") // VaultName=chinavault => chinavault.vault.azure.cn
//!     .connect(&env)
//!     .await?;
//! let figment = kvref_figment::resolve_with(figment, &resolver).await?;
//! let id = figment.find_metadata("db.password").unwrap().source.as_ref().unwrap().to_string();
//! assert!(id.starts_with("https://chinavault.vault.azure.cn/secrets/DbPassword/"));
//! # let password: String = kvref_figment::extract_inner(&figment, "db.password")?;
//! # assert_eq!(password, "db-password-in-china");
//! # Ok::<(), kvref_figment::Error>(()) }).unwrap();
//! ```
//!
//! # Unresolved policy
//!
//! By default ([`UnresolvedPolicy::Fail`](kvref::UnresolvedPolicy::Fail)) one error lists every
//! setting that could not be resolved, with its key as figment names it (`default.db.password`,
//! `staging.api.key`, `DB.PASSWORD` for `Env`), the vault, the secret, the status and the fix.
//! With `KeepLiteral` the reference stays the value, as App Service does (no overlay). With `Drop`
//! the key cannot be deleted by a merge: it is set to `Empty::None` (an `Option` field reads
//! `None`; any other type fails naming the key) by an overlay whose source says which reference
//! was dropped and why.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! # let emulator = kvref_emulator::Emulator::start(kvref_emulator::EmulatorConfig::sample()).await.unwrap();
//! # let env = kvref::Env::from_pairs([("KVREF_EMULATOR", format!("http://{}", emulator.http_addr()))]);
//! use figment::{Figment, providers::{Format, Toml}};
//!
//! let figment = Figment::from(Toml::string(r#"
//!     token = "@KeyVault(VaultName=myvault;SecretName=NoSuchSecret)"
//! "#));
//! let resolver = kvref::Resolver::builder().connect(&env).await?;
//! let error = kvref_figment::resolve_with(figment.clone(), &resolver).await.unwrap_err();
//! assert!(error.to_string().contains("setting `default.token`"));
//! assert!(error.to_string().contains("SecretNotFound"));
//!
//! let resolver = kvref::Resolver::builder()
//!     .unresolved(kvref::UnresolvedPolicy::Drop)
//!     .connect(&env)
//!     .await?;
//! let figment = kvref_figment::resolve_with(figment, &resolver).await?;
//! let token: Option<String> = kvref_figment::extract_inner(&figment, "token")?;
//! assert_eq!(token, None);
//! # Ok::<(), kvref_figment::Error>(()) }).unwrap();
//! ```
//!
//! # Live settings that follow rotation
//!
//! [`live`] gives a `kvref::live::Live<Settings>`: a snapshot read without a lock, kept fresh by
//! a background refresher that re-reads the references naming no version every 5 minutes and
//! swaps in a new `Settings` when a secret rotated. A new value that does not extract, or that
//! your check refuses, keeps the last good snapshot and shows (redacted) in `live.status()`.
//!
//! ```no_run
//! # async fn start() -> Result<(), Box<dyn std::error::Error>> {
//! # #[derive(serde::Deserialize)] struct Settings { port: u16 }
//! use figment::{Figment, providers::{Env, Format, Toml}};
//! let figment = Figment::new()
//!     .merge(Toml::file("settings.toml"))
//!     .merge(Env::prefixed("APP_").split("__"));
//! let live = kvref_figment::live::<Settings>(figment)
//!     .validate(|s| if s.port > 0 { Ok(()) } else { Err("port must not be 0".into()) })
//!     .start()
//!     .await?;
//! let port = live.load().port; // lock-free; clone `live` into your handlers' state
//! # let _ = port; Ok(()) }
//! ```
//!
//! # Local development with `KVREF_EMULATOR`
//!
//! Run the emulator (`cargo run -p kvref-emulator -- --config examples/emulator.toml`) and set
//! `KVREF_EMULATOR` to its HTTP address (`http://127.0.0.1:…`): [`resolve`] then resolves against
//! the emulator's vaults, with the same code that runs on Azure and no Azure account. kvref logs
//! a warning that local mode is on; leave the variable out of production.
//!
//! [figment]: https://docs.rs/figment/0.10

mod error;
mod live;
mod overlay;
mod redact;
mod resolve;
mod walk;

use figment::Figment;
use serde::de::DeserializeOwned;

pub use error::Error;
pub use live::{LiveBuilder, live, live_from};
pub use overlay::METADATA_NAME;

/// Resolves every Key Vault reference in `figment`, in every profile, with
/// [`kvref::Resolver::from_env`]: managed identity on Azure, `az login` on a developer's machine,
/// the emulator with `KVREF_EMULATOR` set. The result is `figment` itself with one overlay per
/// secret merged on top: its values carry the metadata [`METADATA_NAME`] with the secret id as
/// their [`Source::Custom`](figment::Source::Custom); every other value, and the selected
/// profile, stay as they were.
///
/// A figment with no reference is returned as it is, without a request or a credential lookup.
///
/// ```
/// # figment::Jail::expect_with(|jail| {
/// # let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
/// # runtime.block_on(async {
/// # let emulator = kvref_emulator::Emulator::start(kvref_emulator::EmulatorConfig::sample()).await.unwrap();
/// # jail.set_env("KVREF_EMULATOR", format!("http://{}", emulator.http_addr()));
/// # jail.set_env("APP_DB__PASSWORD", "@Microsoft.KeyVault(VaultName=myvault;SecretName=DbPassword)");
/// use figment::{Figment, providers::{Env, Format, Toml}};
///
/// let figment = Figment::new()
///     .merge(Toml::string("db.host = 'db.internal'"))
///     .merge(Env::prefixed("APP_").split("__"));
/// let figment = kvref_figment::resolve(figment).await?;
///
/// let password: String = kvref_figment::extract_inner(&figment, "db.password")?;
/// assert_eq!(password, "db-password-from-the-emulator");
/// let metadata = figment.find_metadata("db.password").unwrap();
/// assert_eq!(metadata.name, "Azure Key Vault");
/// # Ok::<(), kvref_figment::Error>(())
/// # }).unwrap();
/// # Ok(())
/// # });
/// ```
pub async fn resolve(figment: Figment) -> Result<Figment, Error> {
    resolve::resolve_lazily(figment, kvref::Resolver::from_env).await
}

/// [`resolve`] with a resolver of your own: a user-assigned identity, more vault suffixes, other
/// limits or another [`UnresolvedPolicy`](kvref::UnresolvedPolicy), all set on
/// [`kvref::Resolver::builder`].
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// # let emulator = kvref_emulator::Emulator::start(kvref_emulator::EmulatorConfig::sample()).await.unwrap();
/// # let env = kvref::Env::from_pairs([("KVREF_EMULATOR", format!("http://{}", emulator.http_addr()))]);
/// use figment::{Figment, providers::{Format, Toml}};
///
/// let resolver = kvref::Resolver::builder()
///     .unresolved(kvref::UnresolvedPolicy::KeepLiteral)
///     .connect(&env) // `&kvref::Env::from_process()` in an app
///     .await?;
/// let figment = Figment::from(Toml::string(r#"
///     api_key = "@KeyVault(SecretUri=https://myvault.vault.azure.net/secrets/ApiKey)"
///     missing = "@KeyVault(VaultName=myvault;SecretName=NoSuchSecret)"
/// "#));
/// let figment = kvref_figment::resolve_with(figment, &resolver).await?;
/// let api_key: String = kvref_figment::extract_inner(&figment, "api_key")?;
/// assert_eq!(api_key, "api-key-from-the-emulator");
/// let missing: String = kvref_figment::extract_inner(&figment, "missing")?;
/// assert!(missing.starts_with("@KeyVault(")); // kept as written
/// # Ok::<(), kvref_figment::Error>(()) }).unwrap();
/// ```
pub async fn resolve_with(figment: Figment, resolver: &kvref::Resolver) -> Result<Figment, Error> {
    resolve::resolve_lazily(figment, || async { Ok(resolver.clone()) }).await
}

/// [`Figment::extract`], secret-safe: an error names the key, the expected type and the secret
/// (`<redacted: myvault/DbPassword@…>`), never a value that came from Key Vault.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// # let emulator = kvref_emulator::Emulator::start(kvref_emulator::EmulatorConfig::sample()).await.unwrap();
/// # let resolver = kvref::Resolver::builder().emulator(format!("http://{}", emulator.http_addr())).connect(&kvref::Env::default()).await.unwrap();
/// use figment::{Figment, providers::{Format, Toml}, value::magic::Tagged};
/// use kvref::secrecy::{ExposeSecret, SecretString};
///
/// #[derive(serde::Deserialize)]
/// struct Settings {
///     host: String,
///     password: SecretString,
///     api_key: Tagged<SecretString>,
/// }
///
/// let figment = Figment::from(Toml::string(r#"
///     host = "db.internal"
///     password = "@KeyVault(VaultName=myvault;SecretName=DbPassword)"
///     api_key = "@KeyVault(VaultName=myvault;SecretName=ApiKey)"
/// "#));
/// let figment = kvref_figment::resolve_with(figment, &resolver).await?;
/// let settings: Settings = kvref_figment::extract(&figment)?;
/// assert_eq!(settings.password.expose_secret(), "db-password-from-the-emulator");
/// let source = figment.get_metadata(settings.api_key.tag()).unwrap().source.as_ref().unwrap();
/// assert!(source.custom().unwrap().starts_with("https://myvault.vault.azure.net/secrets/ApiKey/"));
/// # Ok::<(), kvref_figment::Error>(()) }).unwrap();
/// ```
pub fn extract<T: DeserializeOwned>(figment: &Figment) -> Result<T, Error> {
    figment.extract().map_err(|e| redacted(figment, e))
}

/// [`Figment::extract_inner`], secret-safe like [`extract`].
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// # let emulator = kvref_emulator::Emulator::start(kvref_emulator::EmulatorConfig::sample()).await.unwrap();
/// # let resolver = kvref::Resolver::builder().emulator(format!("http://{}", emulator.http_addr())).connect(&kvref::Env::default()).await.unwrap();
/// use figment::{Figment, providers::{Format, Toml}};
///
/// let figment = Figment::from(Toml::string(r#"
///     [db]
///     port = "@KeyVault(VaultName=myvault;SecretName=DbPassword)"
/// "#));
/// let figment = kvref_figment::resolve_with(figment, &resolver).await?;
/// let error = kvref_figment::extract_inner::<u16>(&figment, "db.port").unwrap_err();
/// assert!(error.to_string().contains("expected u16"));
/// assert!(!error.to_string().contains("db-password-from-the-emulator"));
/// # Ok::<(), kvref_figment::Error>(()) }).unwrap();
/// ```
pub fn extract_inner<T: DeserializeOwned>(figment: &Figment, key: &str) -> Result<T, Error> {
    figment.extract_inner(key).map_err(|e| redacted(figment, e))
}

fn redacted(figment: &Figment, error: figment::Error) -> Error {
    Error::redacted_figment(redact::Redactions::of(figment).error(error))
}

/// [`extract`] and [`extract_inner`] as methods of [`Figment`].
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// # let emulator = kvref_emulator::Emulator::start(kvref_emulator::EmulatorConfig::sample()).await.unwrap();
/// # let resolver = kvref::Resolver::builder().emulator(format!("http://{}", emulator.http_addr())).connect(&kvref::Env::default()).await.unwrap();
/// use figment::{Figment, providers::{Format, Toml}};
/// use kvref_figment::FigmentExt;
///
/// let figment = Figment::from(Toml::string(r#"
///     [db]
///     host = "db.internal"
///     password = "@KeyVault(VaultName=myvault;SecretName=DbPassword)"
/// "#));
/// let figment = kvref_figment::resolve_with(figment, &resolver).await?;
/// let host: String = figment.extract_inner_resolved("db.host")?;
/// let all: std::collections::BTreeMap<String, String> = figment.extract_inner_resolved("db")?;
/// assert_eq!((host.as_str(), all.len()), ("db.internal", 2));
/// # let _ = figment.extract_resolved::<std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>>()?;
/// # Ok::<(), kvref_figment::Error>(()) }).unwrap();
/// ```
pub trait FigmentExt {
    /// [`extract`]: the whole figment into `T`, with secret-safe errors.
    fn extract_resolved<T: DeserializeOwned>(&self) -> Result<T, Error>;
    /// [`extract_inner`]: the value at `key` into `T`, with secret-safe errors.
    fn extract_inner_resolved<T: DeserializeOwned>(&self, key: &str) -> Result<T, Error>;
}

impl FigmentExt for Figment {
    fn extract_resolved<T: DeserializeOwned>(&self) -> Result<T, Error> {
        extract(self)
    }

    fn extract_inner_resolved<T: DeserializeOwned>(&self, key: &str) -> Result<T, Error> {
        extract_inner(self, key)
    }
}
