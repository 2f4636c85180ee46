//! One entry point from the environment to a resolver: the same code on Azure, on a developer's
//! machine and against the kvref emulator.
//!
//! [`Connection::from_env`] looks at the environment once and decides everything a resolver needs:
//!
//! - with `KVREF_EMULATOR` set (or [`ConnectOptions::emulator`]), local development mode
//!   ([`crate::local`]): vault hosts go to the emulator, its CA is trusted, and the emulator's App
//!   Service identity is used unless the environment names an identity source itself; developer
//!   tools (`az`, `azd`) are left out, since they would fetch real Azure tokens;
//! - otherwise the process-wide transport and the [`DefaultCredential`] chain (environment,
//!   workload identity, managed identity, Azure CLI, Azure Developer CLI).
//!
//! The credential is wrapped in a [`TokenCache`](crate::credential::TokenCache) by the resolver, so one token serves every vault
//! of the same cloud and tenant.
//!
//! ```no_run
//! # async fn start() -> Result<(), kvref::error::Error> {
//! use kvref::Env;
//! use kvref::connect::Connection;
//!
//! let connection = Connection::from_env(&Env::from_process()).await?;
//! let resolver = connection.resolver().build()?;
//! let settings = [("db.password", "@Microsoft.KeyVault(VaultName=myvault;SecretName=DbPassword)")];
//! let resolution = resolver.resolve(settings).await;
//! let settings = resolution.apply(settings)?; // fails, listing every failure, unless all resolved
//! # let _ = settings; Ok(()) }
//! ```

use std::fmt;
use std::sync::Arc;

use crate::Env;
use crate::credential::{
    DefaultCredential, DefaultCredentialOptions, TokenCredential, UserAssignedId,
};
use crate::error::Error;
#[cfg(feature = "local")]
use crate::local::LocalEmulator;
#[cfg(not(feature = "local"))]
use crate::local_off::LocalEmulator;
use crate::resolve::{Resolver, ResolverBuilder};
use crate::transport::HttpTransport;

/// Choices that the environment alone does not make.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct ConnectOptions {
    /// The user-assigned managed identity to use; it takes precedence over `AZURE_CLIENT_ID`.
    pub user_assigned: Option<UserAssignedId>,
    /// A kvref emulator URL to use instead of `KVREF_EMULATOR` (as `kvref --emulator URL` does).
    pub emulator: Option<String>,
    /// Leave the developer tools (`az`, `azd`) out of the credential chain, as production should.
    pub exclude_developer_credentials: bool,
}

impl ConnectOptions {
    /// Uses this user-assigned identity.
    pub fn user_assigned(mut self, id: UserAssignedId) -> Self {
        self.user_assigned = Some(id);
        self
    }

    /// Talks to the kvref emulator at `url` (a loopback `http://` URL).
    pub fn emulator(mut self, url: impl Into<String>) -> Self {
        self.emulator = Some(url.into());
        self
    }

    /// Leaves `az` and `azd` out of the credential chain.
    pub fn exclude_developer_credentials(mut self) -> Self {
        self.exclude_developer_credentials = true;
        self
    }
}

/// How this process reaches Key Vault: the transport, the credential, and whether it is the
/// local emulator.
#[derive(Clone)]
pub struct Connection {
    transport: HttpTransport,
    credential: Arc<DefaultCredential>,
    local: Option<LocalEmulator>,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("credential", &self.credential.name())
            .field(
                "local_emulator",
                &self.local.as_ref().map(LocalEmulator::url),
            )
            .finish()
    }
}

impl Connection {
    /// Works out the connection from `env` alone.
    pub async fn from_env(env: &Env) -> Result<Connection, Error> {
        Self::connect(env, ConnectOptions::default()).await
    }

    /// Works out the connection from `env` and `options`.
    pub async fn connect(env: &Env, options: ConnectOptions) -> Result<Connection, Error> {
        let local = match &options.emulator {
            Some(url) => Some(LocalEmulator::connect(url).await.map_err(configuration)?),
            None => LocalEmulator::from_env(env).await.map_err(configuration)?,
        };
        let (transport, credential_env) = match &local {
            Some(local) => (
                local.transport().map_err(configuration)?,
                local.credential_env(env).map_err(configuration)?,
            ),
            None => (HttpTransport::shared().map_err(configuration)?, env.clone()),
        };
        let mut credential_options =
            DefaultCredentialOptions::new(credential_env, transport.clone());
        credential_options.user_assigned = options.user_assigned;
        credential_options.exclude_developer_credentials =
            options.exclude_developer_credentials || local.is_some();
        let credential = DefaultCredential::new(credential_options).map_err(configuration)?;
        Ok(Connection {
            transport,
            credential: Arc::new(credential),
            local,
        })
    }

    /// The HTTP transport to use.
    pub fn transport(&self) -> &HttpTransport {
        &self.transport
    }

    /// The credential chain to use.
    pub fn credential(&self) -> Arc<dyn TokenCredential> {
        self.credential.clone()
    }

    /// The same chain with its concrete type, to ask which members it holds.
    pub fn default_credential(&self) -> &DefaultCredential {
        &self.credential
    }

    /// Whether local development mode is on.
    pub fn is_local(&self) -> bool {
        self.local.is_some()
    }

    /// The local emulator, when local development mode is on.
    pub fn local_emulator(&self) -> Option<&LocalEmulator> {
        self.local.as_ref()
    }

    /// A resolver builder already holding this connection's credential and transport; set limits
    /// and policies on it, then `build()`.
    pub fn resolver(&self) -> ResolverBuilder {
        Resolver::builder()
            .credential(self.credential())
            .transport(self.transport.clone())
    }
}

fn configuration(error: impl fmt::Display) -> Error {
    Error::configuration(error.to_string())
}
