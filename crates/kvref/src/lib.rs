//! kvref resolves Azure Key Vault references in application settings with managed identity.
//!
//! A setting whose value is `@Microsoft.KeyVault(SecretUri=https://myvault.vault.azure.net/secrets/DbPassword/)`
//! (or the `VaultName=…;SecretName=…` form, or the short `@KeyVault(…)`) is replaced by the
//! secret, fetched with the application's managed identity, before the typed settings reach the
//! application.

pub mod connect;
pub mod credential;
pub mod env;
pub mod error;
pub mod local;
pub mod reference;
pub mod resolve;
mod retry;
pub mod transport;
pub mod vault;

pub use env::Env;
