//! kvref resolves Azure Key Vault references in application settings with managed identity.
//!
//! A setting whose value is a Key Vault reference, in any of the forms App Service accepts,
//!
//! ```text
//! @Microsoft.KeyVault(SecretUri=https://myvault.vault.azure.net/secrets/DbPassword/)
//! @Microsoft.KeyVault(VaultName=myvault;SecretName=DbPassword;SecretVersion=ec96f02080254f109c51a1f14cdb1931)
//! @KeyVault(SecretUri=https://myvault.vault.azure.net/secrets/DbPassword)
//! ```
//!
//! is replaced by the secret, fetched with the application's managed identity, before the typed
//! settings reach the application. The same code runs on every Azure host, on a developer's
//! machine (`az login`) and, with `KVREF_EMULATOR` set, against the kvref emulator.
//!
//! # Start-up in one line
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! # let emulator = kvref_emulator::Emulator::start(kvref_emulator::EmulatorConfig::sample()).await.unwrap();
//! # let env = kvref::Env::from_pairs([("KVREF_EMULATOR", format!("http://{}", emulator.http_addr()))]);
//! # let from_env = || kvref::Resolver::builder().connect(&env);
//! let settings = [
//!     ("db.host", "db.internal"),
//!     ("db.password", "@Microsoft.KeyVault(VaultName=myvault;SecretName=DbPassword)"),
//! ];
//! # let resolver = from_env().await?;
//! # /*
//! let resolver = kvref::Resolver::from_env().await?;   // managed identity, or KVREF_EMULATOR
//! # */
//! // Every reference resolved, or one error that lists every failure with its fix.
//! let resolved = resolver.resolve(settings).await.into_result()?;
//! assert_eq!(resolved.secrets().count(), 1);
//! # Ok::<(), kvref::Error>(()) }).unwrap();
//! ```
//!
//! Apps that load settings with `config` or `figment` use the `kvref-config` and
//! `kvref-figment` crates instead, which walk the settings tree, resolve it with this crate and
//! overlay the secrets, keeping every other value's type.
//!
//! # What is where
//!
//! | module | what it is for |
//! |---|---|
//! | [`reference`](mod@reference) | the reference grammar, its canonical form, and the vault host allow-list |
//! | [`credential`] | tokens without secrets: managed identity everywhere, workload identity, developer tools, the chain, the token cache |
//! | [`vault`] | the Key Vault client: challenge authentication, retries that honour `Retry-After`, typed errors |
//! | [`resolve`] | many settings at once: deduplicated, bounded per vault, within a budget, a status and fix per setting; [`Resolver::refresh`] for rotation |
//! | [`events`] | push refresh: Azure Event Grid deliveries parsed, authenticated and handed to a `Live` |
//! | [`live`] | [`Live<T>`](live::Live): settings that follow secret rotation, refreshed in the background, swapped without a lock |
//! | [`allow_list`] | the vault hosts a reference may point at: the security boundary |
//! | `local` | local development mode (`KVREF_EMULATOR`; cargo feature `local`, on by default) |
//! | [`transport`] | the HTTP clients (rustls, timeouts, no proxy for identity endpoints) |
//! | [`error`] | the public error |
//!
//! # Guarantees
//!
//! - Tokens go only to `https://` hosts under an allowed vault suffix (the Azure clouds' by
//!   default), and only after the vault's challenge names a matching resource.
//! - Secret values are [`secrecy::SecretString`]: never in `Debug`, `Display`, logs or errors.
//! - A resolved value is never parsed again: a secret that looks like a reference stays a value.
//! - By default start-up fails when any reference cannot be resolved; keeping the literal or
//!   dropping the setting are explicit choices ([`UnresolvedPolicy`]).

pub mod allow_list;
mod connect;
pub mod credential;
pub mod env;
pub mod error;
pub mod events;
pub mod live;
#[cfg(feature = "local")]
pub mod local;
pub mod redact;
pub mod reference;
pub mod resolve;
mod retry;
mod status;
pub mod transport;
pub mod vault;

// Entry points for the fuzz targets (fuzz/) into parsers that are private to the crate: built only
// with the `fuzzing` feature (and for this crate's own proptests), hidden, not part of the API.
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod __fuzz;

pub use env::Env;
pub use error::Error;
pub use resolve::{
    Outcome, Progress, Resolution, ResolveStatus, Resolved, Resolver, ResolverBuilder,
    UnresolvedPolicy,
};
/// The `secrecy` kvref's secret values are made of, so that apps and integrations share one version.
pub use secrecy;
