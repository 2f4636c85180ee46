#![doc = include_str!("../README.md")]

mod error;
mod overlay;
mod redact;
mod resolve;
mod walk;

use figment::Figment;
use serde::de::DeserializeOwned;

pub use error::Error;
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
