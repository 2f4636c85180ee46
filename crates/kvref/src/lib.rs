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
//! # Start-up in three lines
//!
//! ```no_run
//! # async fn start() -> Result<(), kvref::error::Error> {
//! use kvref::{Env, connect::Connection};
//!
//! let settings = vec![
//!     ("db.host".to_string(), "db.internal".to_string()),
//!     ("db.password".to_string(), "@Microsoft.KeyVault(VaultName=myvault;SecretName=DbPassword)".to_string()),
//! ];
//! let resolver = Connection::from_env(&Env::from_process()).await?.resolver().build()?;
//! let resolution = resolver.resolve(settings.clone()).await;
//! // Every reference replaced, or one error that lists every failure with its fix.
//! let settings = resolution.apply(settings)?;
//! # let _ = settings; Ok(()) }
//! ```
//!
//! # What is where
//!
//! | module | what it is for |
//! |---|---|
//! | [`reference`](mod@reference) | the reference grammar, its canonical form, and the vault host allow-list |
//! | [`credential`] | tokens without secrets: managed identity everywhere, workload identity, developer tools, the chain, the token cache |
//! | [`vault`] | the Key Vault client: challenge authentication, retries that honour `Retry-After`, typed errors |
//! | [`resolve`] | many settings at once: deduplicated, bounded per vault, within a budget, a status and fix per setting |
//! | [`connect`] | from the environment to a resolver, on Azure or against the local emulator |
//! | [`local`] | local development mode (`KVREF_EMULATOR`) |
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
//!   dropping the setting are explicit choices ([`resolve::UnresolvedPolicy`]).

pub mod connect;
pub mod credential;
pub mod env;
pub mod error;
#[cfg(feature = "local")]
pub mod local;
#[cfg(not(feature = "local"))]
mod local_off;
pub mod reference;
pub mod resolve;
mod retry;
pub mod transport;
pub mod vault;

pub use env::Env;
