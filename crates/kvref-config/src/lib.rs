#![doc = include_str!("../README.md")]

mod error;
mod live;
mod overlay;
mod resolved;
mod tree;

use config::Config;

pub use error::Error;
pub use live::{LiveBuilder, live};
pub use resolved::{Provenance, ResolvedConfig};

use overlay::{Entry, Overlay, Replacement};
use resolved::secret_id;
pub use tree::{Leaf, Path, Step, references};

/// Resolves every Key Vault reference in `config` with the resolver the environment describes
/// ([`kvref::Resolver::from_env`]: managed identity on Azure, the kvref emulator when
/// `KVREF_EMULATOR` is set). Settings without a reference make no request: no resolver is built.
///
/// ```no_run
/// # async fn start() -> Result<(), Box<dyn std::error::Error>> {
/// use config::{Config, Environment, File};
/// let config = Config::builder()
///     .add_source(File::with_name("settings"))
///     .add_source(Environment::with_prefix("APP").separator("__"))
///     .build()?;
/// let config = kvref_config::resolve(config).await?;
/// # Ok(()) }
/// ```
pub async fn resolve(config: Config) -> Result<ResolvedConfig, Error> {
    let leaves = references(&config.cache);
    if leaves.is_empty() {
        return Ok(ResolvedConfig::new(config, None));
    }
    let resolver = kvref::Resolver::from_env().await.map_err(Error::kvref)?;
    overlay_secrets(config, leaves, &resolver).await
}

/// [`resolve`] with a resolver of your own: a user-assigned identity, a sovereign cloud, other
/// limits or another [`UnresolvedPolicy`](kvref::UnresolvedPolicy), all set on
/// [`kvref::Resolver::builder`].
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// # let emulator = kvref_emulator::Emulator::start(kvref_emulator::EmulatorConfig::sample()).await.unwrap();
/// # let env = kvref::Env::from_pairs([("KVREF_EMULATOR", format!("http://{}", emulator.http_addr()))]);
/// let resolver = kvref::Resolver::builder()
///     .unresolved(kvref::UnresolvedPolicy::KeepLiteral)
/// #   .connect(&env).await?;
/// # /*
///     .connect(&kvref::Env::from_process()).await?;
/// # */
/// let config = config::Config::builder()
///     .set_override("smtp.password", "@KeyVault(VaultName=myvault;SecretName=NoSuchSecret)")?
///     .build()?;
/// let config = kvref_config::resolve_with(config, &resolver).await?;
/// assert!(config.get_string("smtp.password")?.starts_with("@KeyVault("));
/// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
/// ```
pub async fn resolve_with(
    config: Config,
    resolver: &kvref::Resolver,
) -> Result<ResolvedConfig, Error> {
    let leaves = references(&config.cache);
    if leaves.is_empty() {
        return Ok(ResolvedConfig::new(config, None));
    }
    overlay_secrets(config, leaves, resolver).await
}

/// Resolves the candidate leaves and layers the overlay on top of `config`.
async fn overlay_secrets(
    config: Config,
    leaves: Vec<Leaf>,
    resolver: &kvref::Resolver,
) -> Result<ResolvedConfig, Error> {
    let resolved = resolver
        .resolve(
            leaves
                .iter()
                .map(|leaf| (leaf.path().to_string(), leaf.value())),
        )
        .await
        .into_result()
        .map_err(Error::kvref)?;
    let paths = leaves.into_iter().map(Leaf::into_path).collect();
    overlay_resolved(config, paths, resolved)
}

/// Layers the `resolved` secrets on top of `config`: `paths` are the candidate leaves' paths, in
/// the order they were given to the resolver (an outcome's index is its position here).
fn overlay_resolved(
    config: Config,
    paths: Vec<Path>,
    resolved: kvref::Resolved,
) -> Result<ResolvedConfig, Error> {
    let mut paths: Vec<Option<Path>> = paths.into_iter().map(Some).collect();
    let mut entries = Vec::new();
    for (index, outcome, secret) in resolved.secrets() {
        if let Some(path) = paths.get_mut(index).and_then(Option::take) {
            entries.push(Entry {
                path,
                origin: format!("Azure Key Vault secret {}", secret_id(outcome)),
                replacement: Replacement::Secret(secret.clone()),
            });
        }
    }
    for index in resolved.dropped() {
        if let Some(path) = paths.get_mut(index).and_then(Option::take) {
            let reference = resolved.outcomes().iter().find(|o| o.index() == index);
            let secret = reference.map(secret_id).unwrap_or_default();
            entries.push(Entry {
                path,
                origin: format!("Azure Key Vault secret {secret} (unresolved, dropped)"),
                replacement: Replacement::Nil,
            });
        }
    }

    let config = Config::builder()
        .add_source(config)
        .add_source(Overlay(entries))
        .build()
        .map_err(|e| Error::config(&e, Some(&resolved)))?;
    Ok(ResolvedConfig::new(config, Some(resolved)))
}
