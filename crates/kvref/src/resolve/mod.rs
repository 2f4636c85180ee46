//! Resolving many settings at once: find the references, fetch each distinct secret once, with
//! bounded concurrency per vault and an overall time budget, and report every failure with its fix.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! # let emulator = kvref_emulator::Emulator::start(kvref_emulator::EmulatorConfig::sample()).await.unwrap();
//! # let env = kvref::Env::from_pairs([("KVREF_EMULATOR", format!("http://{}", emulator.http_addr()))]);
//! use kvref::secrecy::ExposeSecret;
//!
//! let resolver = kvref::Resolver::builder().connect(&env).await?; // Resolver::from_env() in an app
//! let settings = [
//!     ("db.host", "db.internal"),
//!     ("db.password", "@Microsoft.KeyVault(VaultName=myvault;SecretName=DbPassword)"),
//! ];
//! // Every reference resolved, or one error that lists every failure with its fix.
//! let resolved = resolver.resolve(settings).await.into_result()?;
//! for (index, outcome, secret) in resolved.secrets() {
//!     assert_eq!(settings[index].0, outcome.key());
//!     let _ = secret.expose_secret(); // hand it to the app; never log it
//! }
//! # Ok::<(), kvref::Error>(()) }).unwrap();
//! ```

mod batch;
mod builder;
mod diagnose;
mod engine;
mod outcome;

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use crate::allow_list::AllowedHosts;
use crate::credential::DefaultCredential;
use crate::reference::Reference;
use crate::transport::HttpTransport;
use crate::vault::SecretClient;

pub use self::builder::{MAX_BUDGET, ResolverBuilder};
pub use self::outcome::{Outcome, Progress, Resolution, Resolved, UnresolvedPolicy};
pub use crate::status::ResolveStatus;

use self::diagnose::{not_allowed_outcome, syntax_outcome};
use self::engine::Plan;

/// Concurrent requests per vault over HTTP/1.1 unless configured, chosen with an HTTP/1.1 sweep
/// of the startup bench (1,000 secrets over 4 vaults, 25 ms per request): 32 took 295 ms, 64
/// took 249 ms, 128 took 379 ms and 256 took 736 ms, because every extra connection costs a TLS
/// handshake while the round trips saved shrink. Over HTTP/2 the transport's stream and
/// connection limits decide instead.
pub const DEFAULT_CONCURRENCY_PER_VAULT: usize = 64;
/// The overall time budget of one resolution unless configured.
pub const DEFAULT_BUDGET: Duration = Duration::from_secs(60);

/// Resolves the Key Vault references among settings. Cheap to clone; clones share the HTTP
/// connections, the token cache and the per-vault challenges.
#[derive(Clone, Debug)]
pub struct Resolver {
    client: SecretClient,
    transport: HttpTransport,
    allowed: AllowedHosts,
    default_suffix: String,
    concurrency_per_vault: usize,
    budget: Duration,
    policy: UnresolvedPolicy,
    local: Option<crate::connect::LocalEntra>,
    chain: Option<Arc<DefaultCredential>>,
}

impl Resolver {
    /// A builder with the defaults.
    pub fn builder() -> ResolverBuilder {
        ResolverBuilder::default()
    }

    /// The resolver an app wants: identity and transport from the process environment, on
    /// Azure or (with `KVREF_EMULATOR` set) against the emulator; the default limits. The same as
    /// `Resolver::builder().connect(&Env::from_process())`.
    ///
    /// ```no_run
    /// # async fn start() -> Result<(), kvref::Error> {
    /// let resolver = kvref::Resolver::from_env().await?;
    /// let resolved = resolver
    ///     .resolve([("db.password", "@KeyVault(VaultName=myvault;SecretName=DbPassword)")])
    ///     .await
    ///     .into_result()?;
    /// # let _ = resolved; Ok(()) }
    /// ```
    pub async fn from_env() -> Result<Resolver, crate::Error> {
        Self::builder().connect(&crate::Env::from_process()).await
    }

    /// The client this resolver fetches with.
    pub fn client(&self) -> &SecretClient {
        &self.client
    }

    /// The HTTP transport this resolver's client uses.
    pub fn transport(&self) -> &HttpTransport {
        &self.transport
    }

    /// Whether this resolver talks to the kvref emulator (local mode).
    pub fn is_local(&self) -> bool {
        self.local.is_some()
    }

    /// In local mode, the emulator's Entra tenant and authority.
    pub(crate) fn local_entra(&self) -> Option<&crate::connect::LocalEntra> {
        self.local.as_ref()
    }

    /// The environment's credential chain, when [`ResolverBuilder::connect`] built it; `None`
    /// when the builder was given a credential of its own.
    pub fn default_credential(&self) -> Option<&DefaultCredential> {
        self.chain.as_deref()
    }

    /// Resolves every reference among `settings`: each distinct secret (vault, name, version)
    /// is fetched once, as many at a time per vault as its connections carry, all within the
    /// budget. Settings that are not references get no outcome; each outcome knows its
    /// setting's position in `settings` ([`Outcome::index`]).
    pub async fn resolve<K, V>(&self, settings: impl IntoIterator<Item = (K, V)>) -> Resolution
    where
        K: Into<String>,
        V: Into<String>,
    {
        self.resolve_reporting(settings, None).await
    }

    /// [`resolve`](Self::resolve), telling `progress` how far it is: once when the distinct
    /// secrets are known (nothing settled yet), then each time one more is settled, fetched or
    /// failed. For progress bars; it is called from the resolving task, so keep it quick.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # #[derive(Debug)] struct NoCredential;
    /// # #[async_trait::async_trait]
    /// # impl kvref::credential::TokenCredential for NoCredential {
    /// #     fn name(&self) -> &str { "NoCredential" }
    /// #     async fn get_token(&self, _: &kvref::credential::TokenRequest)
    /// #         -> Result<kvref::credential::AccessToken, kvref::credential::CredentialError> { unreachable!() }
    /// # }
    /// use std::sync::Mutex;
    /// let resolver = kvref::resolve::Resolver::builder()
    ///     .credential(std::sync::Arc::new(NoCredential))
    ///     .build()
    ///     .unwrap();
    /// let seen = Mutex::new(Vec::new());
    /// // Not a reference: nothing to fetch, so one report of 0 of 0.
    /// resolver
    ///     .resolve_with_progress([("Plain", "text")], |p| seen.lock().unwrap().push(p))
    ///     .await;
    /// assert_eq!(seen.into_inner().unwrap(), [kvref::resolve::Progress { settled: 0, total: 0 }]);
    /// # });
    /// ```
    pub async fn resolve_with_progress<K, V>(
        &self,
        settings: impl IntoIterator<Item = (K, V)>,
        progress: impl Fn(Progress) + Sync,
    ) -> Resolution
    where
        K: Into<String>,
        V: Into<String>,
    {
        self.resolve_reporting(settings, Some(&progress)).await
    }

    async fn resolve_reporting<K, V>(
        &self,
        settings: impl IntoIterator<Item = (K, V)>,
        progress: Option<&(dyn Fn(Progress) + Sync)>,
    ) -> Resolution
    where
        K: Into<String>,
        V: Into<String>,
    {
        let mut plan = Plan::default();
        for (index, (key, value)) in settings.into_iter().enumerate() {
            let key: String = key.into();
            let literal: String = value.into();
            match Reference::parse_with_default_suffix(&literal, &self.default_suffix) {
                Ok(None) => {}
                Err(e) => plan.settled(syntax_outcome(index, key, literal, &e)),
                Ok(Some(reference)) if !self.allowed.is_allowed(reference.vault_host()) => {
                    plan.settled(not_allowed_outcome(
                        index,
                        key,
                        literal,
                        reference,
                        &self.allowed,
                    ));
                }
                Ok(Some(reference)) => {
                    let outcome = Outcome::pending(index, key, literal, Some(reference.clone()));
                    plan.pending(outcome, &reference);
                }
            }
        }
        self.run(plan, progress).await
    }

    /// Resolves `previous` again for what can have changed since: references that name no
    /// version are fetched anew (one request per distinct secret), and so are those that failed;
    /// a resolved pinned version never changes and is kept without a request, as are malformed
    /// references and hosts outside the allow-list. Outcomes keep their keys and indices, so
    /// comparing [`Resolution::versions`] tells what rotated. For `Live<T>`'s refresher.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # let emulator = kvref_emulator::Emulator::start(kvref_emulator::EmulatorConfig::sample()).await.unwrap();
    /// # let env = kvref::Env::from_pairs([("KVREF_EMULATOR", format!("http://{}", emulator.http_addr()))]);
    /// let resolver = kvref::Resolver::builder().connect(&env).await?;
    /// let first = resolver
    ///     .resolve([("db.password", "@KeyVault(VaultName=myvault;SecretName=DbPassword)")])
    ///     .await;
    /// let again = resolver.refresh(&first).await;
    /// assert_eq!(again.outcomes()[0].key(), "db.password");
    /// assert!(again.is_success());
    /// # Ok::<(), kvref::Error>(()) }).unwrap();
    /// ```
    pub async fn refresh(&self, previous: &Resolution) -> Resolution {
        self.refresh_where(previous, |_| true).await
    }

    /// [`refresh`](Self::refresh) limited to the references `wanted` picks; every other
    /// outcome is kept without a request. For a pushed refresh of the secrets an event names.
    pub async fn refresh_where(
        &self,
        previous: &Resolution,
        wanted: impl Fn(&Reference) -> bool,
    ) -> Resolution {
        let mut plan = Plan::default();
        for outcome in previous.outcomes() {
            match outcome.reference() {
                Some(reference)
                    if self.allowed.is_allowed(reference.vault_host())
                        && (outcome.follows_latest() || !outcome.status().is_resolved())
                        && wanted(reference) =>
                {
                    let reference = reference.clone();
                    plan.pending(outcome.clone(), &reference);
                }
                _ => plan.settled(outcome.clone()),
            }
        }
        let mut refreshed = self.run(plan, None).await;
        // A service's message may quote what it saw (a proxy echoing the request or the value
        // it served). The values served before are known here: none of them may reach an
        // error, a status or a log line through a message.
        let served = previous.served();
        for outcome in &mut refreshed.outcomes {
            if let Some(message) = &mut outcome.message
                && let Cow::Owned(redacted) = served.apply(message)
            {
                *message = redacted;
            }
        }
        refreshed
    }
}
