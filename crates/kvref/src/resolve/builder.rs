//! [`ResolverBuilder`]: limits, policies and where the credential comes from.

use std::sync::Arc;
use std::time::Duration;

use crate::Env;
use crate::allow_list::{AllowedHosts, normalize_suffix};
use crate::connect::{ConnectOptions, Connection};
use crate::credential::{DefaultCredential, TokenCache, TokenCredential, UserAssignedId};
use crate::error::Error;
use crate::reference::PUBLIC_CLOUD_SUFFIX;
use crate::transport::HttpTransport;
use crate::vault::{RetryPolicy, SecretClient};

use super::outcome::UnresolvedPolicy;
use super::{DEFAULT_BUDGET, DEFAULT_CONCURRENCY_PER_VAULT, Resolver};

/// The longest budget a resolution is given: `Duration::MAX` ("no limit") and anything else past
/// it are taken as this, so that no deadline computed from it can overflow.
pub const MAX_BUDGET: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// Builds a [`Resolver`]: [`connect`](Self::connect) takes the credential and the transport
/// from the environment (what an app wants), [`build`](Self::build) uses the ones given.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// # let emulator = kvref_emulator::Emulator::start(kvref_emulator::EmulatorConfig::sample()).await.unwrap();
/// # let url = format!("http://{}", emulator.http_addr());
/// use std::time::Duration;
/// let resolver = kvref::Resolver::builder()
///     .budget(Duration::from_secs(20))
///     .concurrency_per_vault(16)
///     .emulator(url) // or KVREF_EMULATOR; leave both out on Azure
///     .connect(&kvref::Env::from_process())
///     .await?;
/// assert!(resolver.is_local());
/// # Ok::<(), kvref::Error>(()) }).unwrap();
/// ```
#[derive(Debug, Default)]
pub struct ResolverBuilder {
    credential: Option<Arc<dyn TokenCredential>>,
    transport: Option<HttpTransport>,
    connect: ConnectOptions,
    extra_suffixes: Vec<String>,
    default_suffix: Option<String>,
    concurrency_per_vault: Option<usize>,
    budget: Option<Duration>,
    api_version: Option<String>,
    retry: Option<RetryPolicy>,
    policy: UnresolvedPolicy,
}

impl ResolverBuilder {
    /// The credential for Key Vault tokens, instead of the environment's chain. It is wrapped in
    /// a token cache, so that all requests share one token per identity, audience and tenant.
    pub fn credential(mut self, credential: Arc<dyn TokenCredential>) -> Self {
        self.credential = Some(credential);
        self
    }

    /// The HTTP transport (default: [`HttpTransport::shared`], or the emulator's in local mode).
    pub fn transport(mut self, transport: HttpTransport) -> Self {
        self.transport = Some(transport);
        self
    }

    /// The user-assigned managed identity to use; it takes precedence over `AZURE_CLIENT_ID`.
    pub fn user_assigned(mut self, id: UserAssignedId) -> Self {
        self.connect.user_assigned = Some(id);
        self
    }

    /// Talks to the kvref emulator at `url` (a loopback `http://` URL) instead of the one
    /// `KVREF_EMULATOR` names, as `kvref --emulator URL` does.
    #[cfg(feature = "local")]
    pub fn emulator(mut self, url: impl Into<String>) -> Self {
        self.connect.emulator = Some(url.into());
        self
    }

    /// Leaves `az` and `azd` out of the credential chain, as production should.
    pub fn exclude_developer_credentials(mut self) -> Self {
        self.connect.exclude_developer_credentials = true;
        self
    }

    /// Also allows vaults under `suffix` (such as `.vault.example`), besides the Azure clouds'.
    pub fn allow_vault_suffix(mut self, suffix: impl Into<String>) -> Self {
        self.extra_suffixes.push(suffix.into());
        self
    }

    /// The suffix for `VaultName=` references (default `.vault.azure.net`); it is allowed too.
    pub fn default_vault_suffix(mut self, suffix: impl Into<String>) -> Self {
        self.default_suffix = Some(suffix.into());
        self
    }

    /// How many requests may be in flight to one vault at once over HTTP/1.1, one connection
    /// each (default [`DEFAULT_CONCURRENCY_PER_VAULT`]; at least 1). Over HTTP/2 the
    /// transport's stream and connection limits set the width instead
    /// ([`TransportBuilder::h2_streams_per_connection`](crate::transport::TransportBuilder::h2_streams_per_connection)).
    pub fn concurrency_per_vault(mut self, n: usize) -> Self {
        self.concurrency_per_vault = Some(n);
        self
    }

    /// The time one resolution may take in all, retries included (default [`DEFAULT_BUDGET`];
    /// at most [`MAX_BUDGET`], which `Duration::MAX` means).
    pub fn budget(mut self, budget: Duration) -> Self {
        self.budget = Some(budget);
        self
    }

    /// The Key Vault REST API version (default [`crate::vault::DEFAULT_API_VERSION`]).
    pub fn api_version(mut self, api_version: impl Into<String>) -> Self {
        self.api_version = Some(api_version.into());
        self
    }

    /// How each request is retried (default [`RetryPolicy::default`]). Its budget is replaced by
    /// the resolution's: one deadline bounds every request of a resolution.
    pub fn retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = Some(retry);
        self
    }

    /// What to do with unresolved references (default [`UnresolvedPolicy::Fail`]).
    pub fn unresolved(mut self, policy: UnresolvedPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Builds the resolver with the credential and transport the environment `env` names:
    /// local mode when `KVREF_EMULATOR` (or [`emulator`](Self::emulator)) is set, otherwise the
    /// default chain (environment, workload identity, managed identity, Azure CLI, azd). A
    /// credential or transport given to the builder is used instead of the environment's.
    pub async fn connect(mut self, env: &Env) -> Result<Resolver, Error> {
        let connection = Connection::connect(env, std::mem::take(&mut self.connect)).await?;
        let chain = connection.credential;
        if self.credential.is_none() {
            self.credential = Some(chain.clone());
        }
        if self.transport.is_none() {
            self.transport = Some(connection.transport);
        }
        let mut resolver = self.build()?;
        resolver.local = connection.local;
        resolver.chain = Some(chain);
        Ok(resolver)
    }

    /// Builds the resolver with the credential given to [`credential`](Self::credential).
    pub fn build(self) -> Result<Resolver, Error> {
        let credential = self.credential.ok_or_else(|| {
            Error::configuration(
                "a credential is required: use ResolverBuilder::connect (the environment's), or ResolverBuilder::credential",
            )
        })?;
        let default_suffix = match &self.default_suffix {
            Some(s) => normalize_suffix(s).map_err(Error::invalid_option)?,
            None => PUBLIC_CLOUD_SUFFIX.to_owned(),
        };
        let mut allowed = AllowedHosts::default();
        for suffix in self
            .extra_suffixes
            .iter()
            .chain(std::iter::once(&default_suffix))
        {
            allowed = allowed.with_suffix(suffix).map_err(Error::invalid_option)?;
        }
        let concurrency_per_vault = self
            .concurrency_per_vault
            .unwrap_or(DEFAULT_CONCURRENCY_PER_VAULT);
        if concurrency_per_vault == 0 {
            return Err(Error::configuration(
                "concurrency_per_vault must be at least 1",
            ));
        }
        let budget = self.budget.unwrap_or(DEFAULT_BUDGET).min(MAX_BUDGET);
        let retry = self.retry.unwrap_or_default().with_budget(budget);
        let transport = match self.transport {
            Some(t) => t,
            None => HttpTransport::shared().map_err(Error::transport)?,
        };
        // The one place where the credential gets its token cache.
        let cached: Arc<dyn TokenCredential> = Arc::new(TokenCache::new(credential));
        let mut client = SecretClient::builder(cached)
            .transport(transport.clone())
            .allowed_hosts(allowed.clone())
            .retry_policy(retry);
        if let Some(api_version) = self.api_version {
            client = client.api_version(api_version);
        }
        let client = client.build().map_err(Error::transport)?;
        Ok(Resolver {
            client,
            transport,
            allowed,
            default_suffix,
            concurrency_per_vault,
            budget,
            policy: self.policy,
            local: None,
            chain: None::<Arc<DefaultCredential>>,
        })
    }
}
