//! Resolving many settings at once: find the references, fetch each distinct secret once, with
//! bounded concurrency per vault and an overall time budget, and report every failure with its fix.
//!
//! ```no_run
//! # async fn demo(credential: std::sync::Arc<dyn kvref::credential::TokenCredential>) -> Result<(), kvref::error::Error> {
//! use kvref::resolve::{Resolver, SettingValue, UnresolvedPolicy};
//!
//! let resolver = Resolver::builder()
//!     .credential(credential)
//!     .unresolved(UnresolvedPolicy::Fail)
//!     .build()?;
//! let settings = vec![
//!     ("Db".to_string(), "@Microsoft.KeyVault(VaultName=myvault;SecretName=DbPassword)".to_string()),
//!     ("Port".to_string(), "8080".to_string()),
//! ];
//! let resolution = resolver.resolve(settings.clone()).await;
//! for (key, value) in resolution.apply(settings)? {
//!     if let SettingValue::Plain(text) = value {
//!         println!("{key} = {text}");
//!     }
//! }
//! # Ok(()) }
//! ```

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::stream::{self, StreamExt};
use secrecy::{ExposeSecret, SecretString};
use tokio::time::Instant;

use crate::credential::{CredentialErrorKind, TokenCache, TokenCredential};
use crate::error::{Error, Failure};
use crate::reference::{
    AllowedHosts, PUBLIC_CLOUD_SUFFIX, Reference, SecretKey, SyntaxError, normalize_suffix,
};
use crate::transport::HttpTransport;
use crate::vault::{RetryPolicy, Secret, SecretClient, VaultError, VaultErrorKind};

/// Concurrent requests per vault unless configured, chosen with `cargo bench -p kvref --bench
/// startup` (1,000 secrets over 4 vaults, 25 ms per request): 32 took 295 ms, 64 took 249 ms,
/// 128 took 379 ms and 256 took 736 ms, because every extra connection costs a TLS handshake
/// while the round trips saved shrink. 64 also stays far below Key Vault's 4,000 requests per
/// 10 s per vault.
pub const DEFAULT_CONCURRENCY_PER_VAULT: usize = 64;
/// The overall time budget of one resolution unless configured.
pub const DEFAULT_BUDGET: Duration = Duration::from_secs(60);

/// The result of resolving one setting. Names follow App Service's Key Vault reference statuses
/// where one exists; `SecretDisabled`, `VaultNotAllowed` and `Throttled` are kvref's own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ResolveStatus {
    /// The secret was fetched.
    Resolved,
    /// The value starts like a reference but is malformed.
    InvalidSyntax,
    /// No managed identity (or other credential) is available to the app.
    MSINotEnabled,
    /// The vault's host could not be reached (DNS or connection failure).
    VaultNotFound,
    /// The vault has no secret of that name.
    SecretNotFound,
    /// The secret has no such version.
    SecretVersionNotFound,
    /// The identity may not read secrets in the vault (RBAC, access policy or firewall).
    AccessToKeyVaultDenied,
    /// The time budget ran out before Key Vault (or the identity endpoint) answered; a vault
    /// that kept answering 429 until then is [`Throttled`](Self::Throttled).
    FetchTimedOut,
    /// The identity was refused by the token service, or its token by the vault.
    UnauthorizedClient,
    /// Anything else; the message says what.
    OtherReasons,
    /// The secret (or the version asked for) is disabled.
    SecretDisabled,
    /// The vault host is not allowed, or its challenge named a foreign audience.
    VaultNotAllowed,
    /// Key Vault kept throttling until the retries or the budget ran out.
    Throttled,
}

impl ResolveStatus {
    /// Whether the setting was resolved.
    pub fn is_resolved(self) -> bool {
        self == ResolveStatus::Resolved
    }

    /// The status's name, as printed.
    pub fn as_str(self) -> &'static str {
        match self {
            ResolveStatus::Resolved => "Resolved",
            ResolveStatus::InvalidSyntax => "InvalidSyntax",
            ResolveStatus::MSINotEnabled => "MSINotEnabled",
            ResolveStatus::VaultNotFound => "VaultNotFound",
            ResolveStatus::SecretNotFound => "SecretNotFound",
            ResolveStatus::SecretVersionNotFound => "SecretVersionNotFound",
            ResolveStatus::AccessToKeyVaultDenied => "AccessToKeyVaultDenied",
            ResolveStatus::FetchTimedOut => "FetchTimedOut",
            ResolveStatus::UnauthorizedClient => "UnauthorizedClient",
            ResolveStatus::OtherReasons => "OtherReasons",
            ResolveStatus::SecretDisabled => "SecretDisabled",
            ResolveStatus::VaultNotAllowed => "VaultNotAllowed",
            ResolveStatus::Throttled => "Throttled",
        }
    }
}

impl fmt::Display for ResolveStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad` so that tables can align statuses with `{:<24}`.
        f.pad(self.as_str())
    }
}

/// What to do with a setting whose reference could not be resolved.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum UnresolvedPolicy {
    /// Fail, listing every failure (the default).
    #[default]
    Fail,
    /// Keep the literal reference string as the value, as App Service does.
    KeepLiteral,
    /// Leave the setting out.
    Drop,
}

/// A setting's value after resolution: plain text, or a secret fetched from Key Vault.
#[derive(Clone, Debug)]
pub enum SettingValue {
    /// A value that was not a reference (or a literal kept by [`UnresolvedPolicy::KeepLiteral`]).
    Plain(String),
    /// A secret fetched from Key Vault.
    Secret(SecretString),
}

impl SettingValue {
    /// Whether this value came from Key Vault.
    pub fn is_secret(&self) -> bool {
        matches!(self, SettingValue::Secret(_))
    }

    /// The text, exposing a secret: only for handing it to the application.
    pub fn expose(&self) -> &str {
        match self {
            SettingValue::Plain(text) => text,
            SettingValue::Secret(secret) => secret.expose_secret(),
        }
    }
}

/// How far a resolution is: `settled` of `total` distinct secrets fetched or failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    /// Distinct secrets settled so far.
    pub settled: usize,
    /// Distinct secrets to fetch (duplicates and malformed references are not counted).
    pub total: usize,
}

/// The outcome for one setting whose value is (or starts like) a reference. Its `Debug` shows
/// neither the value nor, for a malformed reference, the text as written (it may hold a
/// password or a pasted secret).
#[derive(Clone)]
pub struct Outcome {
    key: String,
    literal: String,
    reference: Option<Reference>,
    status: ResolveStatus,
    resolved_version: Option<String>,
    error_code: Option<String>,
    message: Option<String>,
    fix: Option<String>,
    value: Option<SecretString>,
}

impl fmt::Debug for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Outcome")
            .field("key", &self.key)
            .field(
                "reference",
                &self.reference.as_ref().map(ToString::to_string),
            )
            .field("status", &self.status)
            .field("resolved_version", &self.resolved_version)
            .field("error_code", &self.error_code)
            .field("message", &self.message)
            .field("fix", &self.fix)
            .finish_non_exhaustive()
    }
}

impl Outcome {
    /// The setting's key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The setting's value as written: a reference, or for [`ResolveStatus::InvalidSyntax`] the
    /// malformed text, which may hold anything the user typed (do not log it).
    pub fn literal(&self) -> &str {
        &self.literal
    }

    /// The parsed reference; `None` for [`ResolveStatus::InvalidSyntax`].
    pub fn reference(&self) -> Option<&Reference> {
        self.reference.as_ref()
    }

    /// What happened.
    pub fn status(&self) -> ResolveStatus {
        self.status
    }

    /// The version Key Vault served.
    pub fn resolved_version(&self) -> Option<&str> {
        self.resolved_version.as_deref()
    }

    /// The service's most specific error code (`SecretNotFound`, `ForbiddenByRbac`, …).
    pub fn error_code(&self) -> Option<&str> {
        self.error_code.as_deref()
    }

    /// What went wrong, in words (never a secret value).
    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }

    /// How to fix it.
    pub fn fix(&self) -> Option<&str> {
        self.fix.as_deref()
    }

    /// The secret, when resolved.
    pub fn value(&self) -> Option<&SecretString> {
        self.value.as_ref()
    }

    fn failure(&self) -> Failure {
        Failure {
            key: self.key.clone(),
            vault: self.reference.as_ref().map(|r| r.vault_host().to_owned()),
            secret: self.reference.as_ref().map(|r| match r.version() {
                Some(v) => format!("{}/{v}", r.secret_name()),
                None => r.secret_name().to_owned(),
            }),
            status: self.status,
            code: self.error_code.clone(),
            message: self.message.clone(),
            fix: self.fix.clone(),
        }
    }
}

/// The outcomes of one resolution, and the policy for applying them.
#[derive(Clone, Debug)]
pub struct Resolution {
    outcomes: Vec<Outcome>,
    policy: UnresolvedPolicy,
}

impl Resolution {
    /// One outcome per setting whose value is (or starts like) a reference, in input order.
    pub fn outcomes(&self) -> &[Outcome] {
        &self.outcomes
    }

    /// Whether every reference was resolved.
    pub fn is_success(&self) -> bool {
        self.outcomes.iter().all(|o| o.status.is_resolved())
    }

    /// The outcomes that are not [`ResolveStatus::Resolved`].
    pub fn failures(&self) -> impl Iterator<Item = &Outcome> {
        self.outcomes.iter().filter(|o| !o.status.is_resolved())
    }

    /// An error listing every failure, whatever the policy; `None` when all resolved.
    pub fn error(&self) -> Option<Error> {
        let failures: Vec<Failure> = self.failures().map(Outcome::failure).collect();
        (!failures.is_empty()).then(|| Error::unresolved(failures))
    }

    /// Substitutes the resolved secrets into `settings` (the same settings that were resolved),
    /// applying the [`UnresolvedPolicy`]. Secret values are substituted as they are: they are
    /// never parsed again, even when they look like references.
    pub fn apply<K, V>(
        &self,
        settings: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Vec<(String, SettingValue)>, Error>
    where
        K: Into<String>,
        V: Into<String>,
    {
        let by_setting: HashMap<(&str, &str), &Outcome> = self
            .outcomes
            .iter()
            .map(|o| ((o.key.as_str(), o.literal.as_str()), o))
            .collect();
        let mut applied = Vec::new();
        let mut failures = Vec::new();
        for (key, value) in settings {
            let key: String = key.into();
            let value: String = value.into();
            let outcome = match by_setting.get(&(key.as_str(), value.as_str())) {
                Some(outcome) => (*outcome).clone(),
                None => match Reference::parse(&value) {
                    Ok(None) => {
                        applied.push((key, SettingValue::Plain(value)));
                        continue;
                    }
                    // A reference this resolution never saw: it cannot be resolved here.
                    parsed => Outcome {
                        reference: parsed.ok().flatten(),
                        status: ResolveStatus::OtherReasons,
                        message: Some("this setting was not part of the resolution".into()),
                        fix: Some("resolve the same settings that are applied".into()),
                        ..Outcome::pending(key.clone(), value.clone(), None)
                    },
                },
            };
            match (&outcome.value, self.policy) {
                (Some(secret), _) if outcome.status.is_resolved() => {
                    applied.push((key, SettingValue::Secret(secret.clone())));
                }
                (_, UnresolvedPolicy::Fail) => failures.push(outcome.failure()),
                (_, UnresolvedPolicy::KeepLiteral) => {
                    applied.push((key, SettingValue::Plain(value)));
                }
                (_, UnresolvedPolicy::Drop) => {}
            }
        }
        if failures.is_empty() {
            Ok(applied)
        } else {
            Err(Error::unresolved(failures))
        }
    }
}

/// Resolves the Key Vault references among settings. Cheap to clone; clones share the HTTP
/// connections, the token cache and the per-vault challenges.
#[derive(Clone, Debug)]
pub struct Resolver {
    client: SecretClient,
    allowed: AllowedHosts,
    default_suffix: String,
    concurrency_per_vault: usize,
    budget: Duration,
    policy: UnresolvedPolicy,
}

/// Builds a [`Resolver`].
#[derive(Debug, Default)]
pub struct ResolverBuilder {
    credential: Option<Arc<dyn TokenCredential>>,
    transport: Option<HttpTransport>,
    extra_suffixes: Vec<String>,
    default_suffix: Option<String>,
    concurrency_per_vault: Option<usize>,
    budget: Option<Duration>,
    api_version: Option<String>,
    retry: Option<RetryPolicy>,
    policy: UnresolvedPolicy,
}

impl ResolverBuilder {
    /// The credential for Key Vault tokens (required). It is wrapped in a token cache, so that
    /// all requests share one token per identity, audience and tenant.
    pub fn credential(mut self, credential: Arc<dyn TokenCredential>) -> Self {
        self.credential = Some(credential);
        self
    }

    /// The HTTP transport (default: [`HttpTransport::shared`]).
    pub fn transport(mut self, transport: HttpTransport) -> Self {
        self.transport = Some(transport);
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

    /// How many requests may be in flight to one vault at once (default
    /// [`DEFAULT_CONCURRENCY_PER_VAULT`]; at least 1).
    pub fn concurrency_per_vault(mut self, n: usize) -> Self {
        self.concurrency_per_vault = Some(n);
        self
    }

    /// The time one resolution may take in all, retries included (default [`DEFAULT_BUDGET`]).
    pub fn budget(mut self, budget: Duration) -> Self {
        self.budget = Some(budget);
        self
    }

    /// The Key Vault REST API version (default [`crate::vault::DEFAULT_API_VERSION`]).
    pub fn api_version(mut self, api_version: impl Into<String>) -> Self {
        self.api_version = Some(api_version.into());
        self
    }

    /// How each request is retried (default [`RetryPolicy::default`]; the resolution's budget
    /// bounds it too).
    pub fn retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = Some(retry);
        self
    }

    /// What to do with unresolved references (default [`UnresolvedPolicy::Fail`]).
    pub fn unresolved(mut self, policy: UnresolvedPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Builds the resolver.
    pub fn build(self) -> Result<Resolver, Error> {
        let credential = self.credential.ok_or_else(|| {
            Error::configuration("a credential is required (ResolverBuilder::credential)")
        })?;
        let default_suffix = match &self.default_suffix {
            Some(s) => normalize_suffix(s).map_err(|e| Error::configuration(e.to_string()))?,
            None => PUBLIC_CLOUD_SUFFIX.to_owned(),
        };
        let mut allowed = AllowedHosts::default();
        for suffix in self
            .extra_suffixes
            .iter()
            .chain(std::iter::once(&default_suffix))
        {
            allowed = allowed
                .with_suffix(suffix)
                .map_err(|e| Error::configuration(e.to_string()))?;
        }
        let concurrency_per_vault = self
            .concurrency_per_vault
            .unwrap_or(DEFAULT_CONCURRENCY_PER_VAULT);
        if concurrency_per_vault == 0 {
            return Err(Error::configuration(
                "concurrency_per_vault must be at least 1",
            ));
        }
        let budget = self.budget.unwrap_or(DEFAULT_BUDGET);
        let retry = self.retry.unwrap_or_default().with_budget(budget);
        let transport = match self.transport {
            Some(t) => t,
            None => HttpTransport::shared().map_err(|e| Error::configuration(e.to_string()))?,
        };
        let mut client = SecretClient::builder(cached(credential))
            .transport(transport)
            .allowed_hosts(allowed.clone())
            .retry_policy(retry);
        if let Some(api_version) = self.api_version {
            client = client.api_version(api_version);
        }
        let client = client
            .build()
            .map_err(|e| Error::configuration(e.to_string()))?;
        Ok(Resolver {
            client,
            allowed,
            default_suffix,
            concurrency_per_vault,
            budget,
            policy: self.policy,
        })
    }
}

/// The one place where the credential gets its token cache.
fn cached(credential: Arc<dyn TokenCredential>) -> Arc<dyn TokenCredential> {
    Arc::new(TokenCache::new(credential))
}

impl Outcome {
    fn pending(key: String, literal: String, reference: Option<Reference>) -> Outcome {
        Outcome {
            key,
            literal,
            reference,
            status: ResolveStatus::OtherReasons,
            resolved_version: None,
            error_code: None,
            message: None,
            fix: None,
            value: None,
        }
    }
}

impl Resolver {
    /// A builder with the defaults.
    pub fn builder() -> ResolverBuilder {
        ResolverBuilder::default()
    }

    /// The client this resolver fetches with.
    pub fn client(&self) -> &SecretClient {
        &self.client
    }

    /// Resolves every reference among `settings`: each distinct secret (vault, name, version)
    /// is fetched once, at most `concurrency_per_vault` at a time per vault, all within the
    /// budget. Settings that are not references get no outcome.
    pub async fn resolve<K, V>(&self, settings: impl IntoIterator<Item = (K, V)>) -> Resolution
    where
        K: Into<String>,
        V: Into<String>,
    {
        self.resolve_with_progress(settings, |_| {}).await
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
        let deadline = Instant::now() + self.budget;
        let mut outcomes = Vec::new();
        // Per outcome: the index of the distinct fetch it waits for.
        let mut waiting: Vec<(usize, usize)> = Vec::new();
        let mut fetches: Vec<Reference> = Vec::new();
        let mut fetch_index: HashMap<SecretKey, usize> = HashMap::new();
        for (key, value) in settings {
            let key: String = key.into();
            let literal: String = value.into();
            match Reference::parse_with_default_suffix(&literal, &self.default_suffix) {
                Ok(None) => {}
                Err(e) => outcomes.push(syntax_outcome(key, literal, &e)),
                Ok(Some(reference)) if !self.allowed.is_allowed(reference.vault_host()) => {
                    outcomes.push(self.not_allowed_outcome(key, literal, reference));
                }
                Ok(Some(reference)) => {
                    let index = *fetch_index.entry(reference.key()).or_insert_with(|| {
                        fetches.push(reference.clone());
                        fetches.len() - 1
                    });
                    waiting.push((outcomes.len(), index));
                    outcomes.push(Outcome::pending(key, literal, Some(reference)));
                }
            }
        }

        progress(Progress {
            settled: 0,
            total: fetches.len(),
        });
        let results = self.fetch_all(&fetches, deadline, &progress).await;
        for (outcome_index, fetch_index) in waiting {
            let outcome = &mut outcomes[outcome_index];
            match &results[fetch_index] {
                Ok(secret) => {
                    outcome.status = ResolveStatus::Resolved;
                    outcome.resolved_version = secret.version().map(str::to_owned);
                    outcome.value = Some(secret.value().clone());
                }
                Err(error) => describe_failure(outcome, error, self.budget, &self.allowed),
            }
        }
        Resolution {
            outcomes,
            policy: self.policy,
        }
    }

    /// Fetches every distinct secret, vault by vault in parallel, bounded per vault.
    async fn fetch_all(
        &self,
        fetches: &[Reference],
        deadline: Instant,
        progress: &(impl Fn(Progress) + Sync),
    ) -> Vec<Result<Secret, VaultError>> {
        let settled = AtomicUsize::new(0);
        let total = fetches.len();
        let mut by_vault: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, r) in fetches.iter().enumerate() {
            by_vault.entry(r.vault_host()).or_default().push(i);
        }
        let per_vault = by_vault.into_values().map(|indices| {
            stream::iter(indices)
                // No timeout around the fetch: it ends by the deadline itself, with what the
                // vault last said. An outer timeout at the same instant could cut off a fetch
                // waiting for another's discovery of the vault and report a vault that kept
                // answering 429 as one that did not answer.
                .map(|i| {
                    let settled = &settled;
                    async move {
                        let fetched = self.client.fetch(&fetches[i], deadline).await;
                        progress(Progress {
                            settled: settled.fetch_add(1, Ordering::Relaxed) + 1,
                            total,
                        });
                        (i, fetched)
                    }
                })
                .buffer_unordered(self.concurrency_per_vault)
                .collect::<Vec<_>>()
        });
        // Every fetch ends (by the deadline at the latest), so each index comes back once.
        let mut results: Vec<(usize, Result<Secret, VaultError>)> =
            futures_util::future::join_all(per_vault)
                .await
                .into_iter()
                .flatten()
                .collect();
        results.sort_unstable_by_key(|(i, _)| *i);
        results.into_iter().map(|(_, fetched)| fetched).collect()
    }

    fn not_allowed_outcome(&self, key: String, literal: String, reference: Reference) -> Outcome {
        let suffixes: Vec<&str> = self.allowed.suffixes().collect();
        let host = reference.vault_host().to_owned();
        let fix = not_allowed_fix(&host, &self.allowed);
        Outcome {
            status: ResolveStatus::VaultNotAllowed,
            message: Some(format!(
                "the vault host {host} is not under an allowed vault suffix ({}); no connection was made",
                suffixes.join(", ")
            )),
            fix: Some(fix),
            ..Outcome::pending(key, literal, Some(reference))
        }
    }
}

/// The fix for a vault host outside the allow-list. A host that contains an allowed suffix
/// without ending in it imitates a real vault (`myvault.vault.azure.net.evil.example`): never
/// advise allowing that one.
fn not_allowed_fix(host: &str, allowed: &AllowedHosts) -> String {
    let lower = host.to_ascii_lowercase();
    match allowed
        .suffixes()
        .find(|suffix| lower.contains(&suffix.to_ascii_lowercase()))
    {
        Some(suffix) => format!(
            "correct the reference: {host} only looks like a vault under {suffix}; a setting that \
             points there may have been tampered with, so do not allow this host"
        ),
        None => {
            let domain = host.split_once('.').map_or(host, |(_, d)| d);
            format!(
                "point the reference at your vault (`https://<vault>.vault.azure.net/...`); if {host} \
                 really is your vault, allow its domain with `Resolver::builder().allow_vault_suffix(\".{domain}\")` \
                 (`--allow-vault-suffix .{domain}` for the kvref command)"
            )
        }
    }
}

fn syntax_outcome(key: String, literal: String, error: &SyntaxError) -> Outcome {
    Outcome {
        status: ResolveStatus::InvalidSyntax,
        message: Some(error.to_string()),
        fix: Some(
            "write the reference as `@Microsoft.KeyVault(SecretUri=https://<vault>.vault.azure.net/secrets/<name>[/<version>])` \
             or `@Microsoft.KeyVault(VaultName=<vault>;SecretName=<name>[;SecretVersion=<version>])`"
                .into(),
        ),
        ..Outcome::pending(key, literal, None)
    }
}

/// Fills in status, code, message and fix for a failed fetch.
fn describe_failure(
    outcome: &mut Outcome,
    error: &VaultError,
    budget: Duration,
    allowed: &AllowedHosts,
) {
    let Some(reference) = outcome.reference.clone() else {
        return;
    };
    let vault = reference.vault_name();
    let host = reference.vault_host();
    // Key Vault's own words say most about its refusals; for everything else, ours do.
    let message = match (error.kind(), error.service_message()) {
        (VaultErrorKind::Service | VaultErrorKind::Throttled, Some(service)) => service.to_owned(),
        _ => error.to_string(),
    };
    let code = error.inner_code().or(error.code()).map(str::to_owned);
    let (status, fix) = match error.kind() {
        VaultErrorKind::NotAllowed => (
            ResolveStatus::VaultNotAllowed,
            not_allowed_fix(host, allowed),
        ),
        VaultErrorKind::ChallengeRefused => (
            ResolveStatus::VaultNotAllowed,
            format!(
                "check that https://{host} really is your vault: whatever answered there asked for a token for \
                 another audience, so no token was sent (a wrong DNS entry or proxy can cause this)"
            ),
        ),
        VaultErrorKind::Credential => credential_failure(error, vault),
        VaultErrorKind::Throttled => (
            ResolveStatus::Throttled,
            format!(
                "Key Vault throttled the requests to {vault} (about 4,000 requests per 10 s per vault); lower \
                 concurrency_per_vault, spread secrets over vaults, or retry later"
            ),
        ),
        VaultErrorKind::TimedOut => (
            ResolveStatus::FetchTimedOut,
            format!(
                "Key Vault at {host} did not answer within the budget ({} s); check the network path to the vault \
                 (firewall, proxy, private endpoint DNS) or raise the budget",
                budget.as_secs()
            ),
        ),
        VaultErrorKind::Unreachable => (
            ResolveStatus::VaultNotFound,
            format!(
                "check the vault name `{vault}` in the reference and that {host} resolves and is reachable from \
                 here (`nslookup {host}`); a vault behind a private endpoint needs the privatelink DNS zone"
            ),
        ),
        VaultErrorKind::ConnectionFailed => (
            ResolveStatus::OtherReasons,
            format!(
                "connections to {host} were opened but kept failing mid-request; check proxies, TLS-inspecting \
                 firewalls and the network path to the vault"
            ),
        ),
        VaultErrorKind::InvalidResponse => (
            ResolveStatus::OtherReasons,
            format!("check that https://{host} is a Key Vault and not a proxy or captive portal"),
        ),
        _ => service_failure(error, &reference),
    };
    outcome.status = status;
    outcome.error_code = code;
    outcome.message = Some(message);
    outcome.fix = Some(fix);
}

fn credential_failure(error: &VaultError, vault: &str) -> (ResolveStatus, String) {
    let own_fix = error
        .credential_error()
        .and_then(|e| e.fix())
        .map(str::to_owned);
    match error.credential_kind() {
        Some(CredentialErrorKind::Unavailable) | None => (
            ResolveStatus::MSINotEnabled,
            own_fix.unwrap_or_else(|| {
                format!(
                    "enable a managed identity for the app (`az webapp identity assign --name <app> --resource-group <rg>`, \
                     or the equivalent for your host) and grant it the Key Vault Secrets User role on {vault}"
                )
            }),
        ),
        // The identity asked for is not assigned to the app: for App Service that is
        // "MSINotEnabled" too (system identity off, or the user-assigned one not attached).
        Some(CredentialErrorKind::IdentityNotFound) => (
            ResolveStatus::MSINotEnabled,
            own_fix.unwrap_or_else(|| {
                format!(
                    "enable the app's system-assigned identity (`az webapp identity assign --name <app> --resource-group <rg>`) \
                     or attach the user-assigned one it names (`--identities <identity resource id>`; check AZURE_CLIENT_ID), \
                     then grant it the Key Vault Secrets User role on {vault}"
                )
            }),
        ),
        Some(CredentialErrorKind::Refused) => (
            ResolveStatus::UnauthorizedClient,
            own_fix.unwrap_or_else(|| "check the identity's configuration in Entra ID".into()),
        ),
        Some(CredentialErrorKind::Unreachable) => (
            ResolveStatus::FetchTimedOut,
            own_fix.unwrap_or_else(|| "check that the identity endpoint is reachable".into()),
        ),
        Some(_) => (
            ResolveStatus::OtherReasons,
            own_fix.unwrap_or_else(|| "check the credential configuration".into()),
        ),
    }
}

fn service_failure(error: &VaultError, reference: &Reference) -> (ResolveStatus, String) {
    let vault = reference.vault_name();
    let secret = reference.secret_name();
    let code = error.inner_code().or(error.code()).unwrap_or_default();
    match (error.http_status(), code) {
        (Some(404), "VaultNotFound") => (
            ResolveStatus::VaultNotFound,
            format!(
                "check the vault name `{vault}` in the reference (`az keyvault show --name {vault}`) and that {} \
                 resolves from here",
                reference.vault_host()
            ),
        ),
        (Some(404), _) | (_, "SecretNotFound") => match reference.version() {
            Some(version) => (
                ResolveStatus::SecretVersionNotFound,
                format!(
                    "check the version {version} of {secret} (`az keyvault secret list-versions --vault-name {vault} \
                     --name {secret} -o table`), or leave SecretVersion out to follow the latest"
                ),
            ),
            None => (
                ResolveStatus::SecretNotFound,
                format!(
                    "check the vault URL and the secret name (`az keyvault secret show --vault-name {vault} --name {secret}`); \
                     a recently deleted secret can be recovered with `az keyvault secret recover --vault-name {vault} --name {secret}`"
                ),
            ),
        },
        (Some(403), "SecretDisabled") => {
            let version = reference.version().unwrap_or("<version>");
            (
                ResolveStatus::SecretDisabled,
                format!(
                    "enable it (`az keyvault secret set-attributes --vault-name {vault} --name {secret} --version {version} \
                     --enabled true`) or pin another, enabled version with SecretVersion"
                ),
            )
        }
        (Some(403), "ForbiddenByFirewall") => (
            ResolveStatus::AccessToKeyVaultDenied,
            format!(
                "allow the app's outbound addresses or virtual network in the firewall of {vault} \
                 (`az keyvault network-rule add --name {vault} --ip-address <address>`), or reach it through a private endpoint"
            ),
        ),
        (Some(403), "AccessDenied") => {
            let principal = principal_of(error).unwrap_or_else(|| "<principal-id>".into());
            (
                ResolveStatus::AccessToKeyVaultDenied,
                format!(
                    "give the app's identity `get` permission on secrets (`az keyvault set-policy --name {vault} \
                     --object-id {principal} --secret-permissions get`), or move the vault to Azure RBAC"
                ),
            )
        }
        (Some(403), _) => {
            let principal = principal_of(error).unwrap_or_else(|| "<principal-id>".into());
            (
                ResolveStatus::AccessToKeyVaultDenied,
                format!(
                    "grant the app's identity the Key Vault Secrets User role on the vault: `az role assignment create \
                     --role \"Key Vault Secrets User\" --assignee {principal} --scope $(az keyvault show --name {vault} \
                     --query id -o tsv)` (new assignments can take a few minutes to apply)"
                ),
            )
        }
        (Some(401), _) => (
            ResolveStatus::UnauthorizedClient,
            format!(
                "the vault refused the identity's token; check that the identity belongs to the vault's tenant and that \
                 {vault} accepts tokens for its audience"
            ),
        ),
        (Some(421), _) => (
            ResolveStatus::OtherReasons,
            format!(
                "the request to {vault} was redirected to another host, whose answer was ignored; check that \
                 {} is the vault's own address",
                reference.vault_host()
            ),
        ),
        (Some(status), _) if status >= 500 => (
            ResolveStatus::OtherReasons,
            format!(
                "Key Vault kept failing with HTTP {status}; retry later or check Azure status for {vault}"
            ),
        ),
        (status, _) => (
            ResolveStatus::OtherReasons,
            format!(
                "Key Vault answered HTTP {}; check the reference to {secret} in {vault}",
                status.map_or_else(|| "?".to_owned(), |s| s.to_string())
            ),
        ),
    }
}

/// The caller's object id from a 403 message (`Caller: appid=…;oid=…;iss=…`), to fill in the fix.
fn principal_of(error: &VaultError) -> Option<String> {
    let message = error.service_message()?;
    let start = message.find("oid=")? + 4;
    let id: String = message[start..]
        .chars()
        .take_while(|c| c.is_ascii_hexdigit() || *c == '-')
        .collect();
    (id.len() >= 32).then_some(id)
}
