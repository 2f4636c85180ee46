//! From the environment to what a resolver needs: the transport and the credential chain, on
//! Azure or, in local mode, against the kvref emulator. Reached through
//! [`ResolverBuilder::connect`](crate::ResolverBuilder::connect) and
//! [`Resolver::from_env`](crate::Resolver::from_env).

use std::sync::Arc;

use crate::Env;
use crate::credential::{DefaultCredential, DefaultCredentialOptions, UserAssignedId};
use crate::error::Error;
#[cfg(feature = "local")]
use crate::local::LocalEmulator;
use crate::transport::HttpTransport;

/// The choices that the environment alone does not make.
#[derive(Clone, Debug, Default)]
pub(crate) struct ConnectOptions {
    pub(crate) user_assigned: Option<UserAssignedId>,
    pub(crate) emulator: Option<String>,
    pub(crate) exclude_developer_credentials: bool,
}

/// How this process reaches Key Vault.
pub(crate) struct Connection {
    pub(crate) transport: HttpTransport,
    pub(crate) credential: Arc<DefaultCredential>,
    /// In local mode, the emulator's Entra ID: what webhooks check Event Grid's tokens against.
    pub(crate) local: Option<LocalEntra>,
}

/// The emulator's Entra ID, in local mode.
#[derive(Clone, Debug)]
pub(crate) struct LocalEntra {
    /// The tenant every emulator token names.
    pub(crate) tenant: String,
    /// Its authority: the discovery document and signing keys are below it.
    pub(crate) authority: String,
}

impl Connection {
    /// Works out the connection from `env` and `options`: local mode when `KVREF_EMULATOR` or
    /// the emulator option asks for it (developer tools are then left out, since they would fetch
    /// real Azure tokens), otherwise the process-wide transport and the default chain.
    pub(crate) async fn connect(env: &Env, options: ConnectOptions) -> Result<Connection, Error> {
        let (transport, credential_env, local) = Self::transport_and_env(env, &options).await?;
        let mut credential_options =
            DefaultCredentialOptions::new(credential_env, transport.clone());
        credential_options.user_assigned = options.user_assigned;
        credential_options.exclude_developer_credentials =
            options.exclude_developer_credentials || local.is_some();
        let credential =
            DefaultCredential::new(credential_options).map_err(Error::credential_setup)?;
        Ok(Connection {
            transport,
            credential: Arc::new(credential),
            local,
        })
    }

    #[cfg(feature = "local")]
    async fn transport_and_env(
        env: &Env,
        options: &ConnectOptions,
    ) -> Result<(HttpTransport, Env, Option<LocalEntra>), Error> {
        let local = match &options.emulator {
            Some(url) => Some(LocalEmulator::connect(url).await.map_err(Error::local)?),
            None => LocalEmulator::from_env(env).await.map_err(Error::local)?,
        };
        match local {
            Some(local) => Ok((
                local.transport().map_err(Error::transport)?,
                local.credential_env(env).map_err(Error::local)?,
                Some(LocalEntra {
                    tenant: local.tenant_id().unwrap_or_default().to_owned(),
                    // The emulator's certificate names localhost, as its own endpoints do.
                    authority: format!("https://localhost:{}", local.https_addr().port()),
                }),
            )),
            None => Ok((
                HttpTransport::shared().map_err(Error::transport)?,
                env.clone(),
                None,
            )),
        }
    }

    #[cfg(not(feature = "local"))]
    async fn transport_and_env(
        env: &Env,
        options: &ConnectOptions,
    ) -> Result<(HttpTransport, Env, Option<LocalEntra>), Error> {
        if options.emulator.is_some() {
            return Err(Error::configuration(
                "the emulator option needs kvref's `local` cargo feature, which this build leaves out",
            ));
        }
        if env.contains("KVREF_EMULATOR") {
            tracing::warn!(
                "KVREF_EMULATOR is set but this build of kvref has no local mode (cargo feature `local`); ignored"
            );
        }
        Ok((
            HttpTransport::shared().map_err(Error::transport)?,
            env.clone(),
            None,
        ))
    }
}
