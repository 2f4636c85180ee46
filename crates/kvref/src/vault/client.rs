//! [`SecretClient`] and its builder: fetches one secret, discovering the vault's challenge
//! first and asking the credential for a token of the audience it names.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use reqwest::StatusCode;
use reqwest::header::WWW_AUTHENTICATE;
use tokio::time::Instant;
use tracing::{Instrument, field};

use super::DEFAULT_API_VERSION;
use super::challenge::Challenge;
use super::discovery::{Discovered, Discovery, VaultState, challenge_of};
use super::error::{VaultError, VaultErrorKind};
use super::error_body::ServiceError;
use super::retry::RetryPolicy;
use super::secret::{Secret, parse_secret};
use super::send::Answer;
use crate::credential::{TokenCredential, TokenRequest};
use crate::reference::{AllowedHosts, Reference};
use crate::transport::{HttpTransport, TransportError};

/// Fetches secrets from allowed vaults with challenge-based authentication and retries.
/// Cloning is cheap; clones share the per-vault challenge cache and the connection pool.
///
/// ```no_run
/// # async fn demo(credential: std::sync::Arc<dyn kvref::credential::TokenCredential>) -> Result<(), Box<dyn std::error::Error>> {
/// use kvref::reference::Reference;
/// use kvref::vault::SecretClient;
/// use secrecy::ExposeSecret;
///
/// let client = SecretClient::builder(credential).build()?;
/// let reference = Reference::parse("@KeyVault(VaultName=myvault;SecretName=DbPassword)")?.unwrap();
/// let secret = client.get_secret(&reference).await?;
/// println!("version {:?} has {} bytes", secret.version(), secret.value().expose_secret().len());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct SecretClient {
    pub(super) inner: Arc<ClientInner>,
}

pub(super) struct ClientInner {
    /// Lanes, learnt protocols and pacing for the requests to each vault (see `send`).
    pub(super) transport: HttpTransport,
    credential: Arc<dyn TokenCredential>,
    allowed: AllowedHosts,
    api_version: String,
    pub(super) retry: RetryPolicy,
    vaults: Mutex<HashMap<String, Arc<VaultState>>>,
}

impl fmt::Debug for SecretClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretClient")
            .field("credential", &self.inner.credential.name())
            .field("allowed", &self.inner.allowed)
            .field("api_version", &self.inner.api_version)
            .field("retry", &self.inner.retry)
            .finish_non_exhaustive()
    }
}

/// Builds a [`SecretClient`].
#[derive(Debug)]
pub struct SecretClientBuilder {
    credential: Arc<dyn TokenCredential>,
    transport: Option<HttpTransport>,
    allowed: AllowedHosts,
    api_version: String,
    retry: RetryPolicy,
}

impl SecretClientBuilder {
    /// The HTTP transport (default: [`HttpTransport::shared`]).
    pub fn transport(mut self, transport: HttpTransport) -> Self {
        self.transport = Some(transport);
        self
    }

    /// The vault hosts that may be contacted (default: the Azure clouds' vault suffixes).
    pub fn allowed_hosts(mut self, allowed: AllowedHosts) -> Self {
        self.allowed = allowed;
        self
    }

    /// The Key Vault REST API version (default [`DEFAULT_API_VERSION`]).
    pub fn api_version(mut self, api_version: impl Into<String>) -> Self {
        self.api_version = api_version.into();
        self
    }

    /// How requests are retried (default [`RetryPolicy::default`]).
    pub fn retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Builds the client.
    pub fn build(self) -> Result<SecretClient, TransportError> {
        let transport = match self.transport {
            Some(t) => t,
            None => HttpTransport::shared()?,
        };
        Ok(SecretClient {
            inner: Arc::new(ClientInner {
                transport,
                credential: self.credential,
                allowed: self.allowed,
                api_version: self.api_version,
                retry: self.retry,
                vaults: Mutex::new(HashMap::new()),
            }),
        })
    }
}

impl SecretClient {
    /// A builder using `credential` for tokens. Give it a caching credential (the resolver
    /// does) so that many requests share one token.
    pub fn builder(credential: Arc<dyn TokenCredential>) -> SecretClientBuilder {
        SecretClientBuilder {
            credential,
            transport: None,
            allowed: AllowedHosts::default(),
            api_version: DEFAULT_API_VERSION.into(),
            retry: RetryPolicy::default(),
        }
    }

    /// The allow-list in force.
    pub fn allowed_hosts(&self) -> &AllowedHosts {
        &self.inner.allowed
    }

    /// Fetches the secret `reference` points at, within the retry policy's budget.
    pub async fn get_secret(&self, reference: &Reference) -> Result<Secret, VaultError> {
        self.fetch(reference, Instant::now() + self.inner.retry.budget())
            .await
    }

    /// Fetches the secret, giving up at `deadline`: every wait inside (the vault, the
    /// credential, another caller's discovery of the same vault) ends by then.
    pub(crate) async fn fetch(
        &self,
        reference: &Reference,
        deadline: Instant,
    ) -> Result<Secret, VaultError> {
        let span = tracing::info_span!(
            "kvref.vault.get",
            vault = %reference.vault_host(),
            secret = %reference.secret_name(),
            version = %reference.version().unwrap_or("latest"),
            status = field::Empty,
            attempt = field::Empty,
        );
        let result = self
            .fetch_inner(reference, deadline)
            .instrument(span.clone())
            .await;
        let _entered = span.enter();
        match &result {
            Ok(secret) => tracing::debug!(served_version = secret.version(), "secret fetched"),
            Err(e) => {
                tracing::debug!(kind = ?e.kind(), code = e.code(), inner_code = e.inner_code(), "secret not fetched")
            }
        }
        result
    }

    async fn fetch_inner(
        &self,
        reference: &Reference,
        deadline: Instant,
    ) -> Result<Secret, VaultError> {
        let host = reference.vault_host();
        if !self.inner.allowed.is_allowed(host) {
            return Err(VaultError::new(
                VaultErrorKind::NotAllowed,
                format!(
                    "the vault host {host} is not in the allowed vault suffixes ({}); nothing was sent",
                    self.inner.allowed.suffixes().collect::<Vec<_>>().join(", ")
                ),
            ));
        }
        let mut url =
            reqwest::Url::parse(&format!("{}/", reference.secret_url())).map_err(|e| {
                VaultError::new(
                    VaultErrorKind::NotAllowed,
                    format!("invalid vault URL: {e}"),
                )
            })?;
        if url.scheme() != "https" {
            // Unreachable with a parsed Reference, but tokens must never go over plain http.
            return Err(VaultError::new(
                VaultErrorKind::NotAllowed,
                "vault URLs must use https",
            ));
        }
        url.query_pairs_mut()
            .append_pair("api-version", &self.inner.api_version);

        let vault = self.vault_state(host);
        let mut challenge = match self.challenge(&vault, &url, reference, deadline).await {
            Discovered::Challenge(c) => c,
            Discovered::Answer(result) => return result,
        };
        let (mut rediscovered, mut renewed) = (false, false);
        loop {
            let token = self.token(&challenge, deadline).await?;
            let answer = self.send(&url, Some(token.secret()), deadline).await?;
            if answer.status == StatusCode::UNAUTHORIZED
                && answer.headers.contains_key(WWW_AUTHENTICATE)
            {
                match challenge_of(&answer, host, Some(token.secret())) {
                    Ok(fresh) if fresh != challenge && !rediscovered => {
                        tracing::debug!("the vault sent a new challenge; discovering again");
                        *vault.discovery.lock().await = Discovery::Known(fresh.clone());
                        challenge = fresh;
                        rediscovered = true;
                        continue;
                    }
                    // The same challenge again: the token itself was refused (expired early
                    // by the vault's clock, or revoked). A cached token would be refused again
                    // until it expires by ours: ask for a fresh one, once (never after a new
                    // challenge, whose token is fresh already: no chasing in circles).
                    Ok(same) if same == challenge && !renewed && !rediscovered => {
                        tracing::debug!("the vault refused the token; asking for a fresh one");
                        let request = token_request(&challenge);
                        self.inner.credential.forget(&request, token.secret());
                        renewed = true;
                        continue;
                    }
                    Ok(_) => {}
                    Err(refused) => {
                        // A 401 naming a foreign audience: forget what we knew, send nothing more.
                        *vault.discovery.lock().await = Discovery::Unknown;
                        return Err(refused);
                    }
                }
            }
            return self.finish(reference, answer, Some(token.secret()));
        }
    }

    fn vault_state(&self, host: &str) -> Arc<VaultState> {
        let mut vaults = self
            .inner
            .vaults
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Looked up first: the host is copied only the first time, not on every fetch.
        if let Some(state) = vaults.get(host) {
            return state.clone();
        }
        vaults.entry(host.to_owned()).or_default().clone()
    }

    /// A token for the challenge's audience, given up at `deadline` like the requests.
    async fn token(
        &self,
        challenge: &Challenge,
        deadline: Instant,
    ) -> Result<crate::credential::AccessToken, VaultError> {
        let request = token_request(challenge);
        let credential = &self.inner.credential;
        let Ok(token) = tokio::time::timeout_at(deadline, credential.get_token(&request)).await
        else {
            return Err(VaultError::new(
                VaultErrorKind::TimedOut,
                format!(
                    "the time budget ran out waiting for a token for {} from {}",
                    challenge.scope(),
                    credential.name()
                ),
            ));
        };
        token.map_err(|e| {
            VaultError::new(
                VaultErrorKind::Credential,
                format!("no token for {}: {e}", challenge.scope()),
            )
            .with_credential(e)
        })
    }

    pub(super) fn finish(
        &self,
        reference: &Reference,
        answer: Answer,
        token: Option<&str>,
    ) -> Result<Secret, VaultError> {
        let status = answer.status;
        if status.is_success() {
            return parse_secret(&answer.body, reference);
        }
        let service = ServiceError::parse(&answer.body, token);
        let kind = match status.as_u16() {
            429 => VaultErrorKind::Throttled,
            408 | 504 => VaultErrorKind::TimedOut,
            _ => VaultErrorKind::Service,
        };
        let message = match &service.message {
            Some(m) => format!("Key Vault answered {status}: {m}"),
            None => format!("Key Vault answered {status}"),
        };
        Err(VaultError::new(kind, message)
            .with_status(status.as_u16())
            .with_service(service))
    }
}

/// The token request a challenge asks for: its scope, in its tenant.
fn token_request(challenge: &Challenge) -> TokenRequest {
    let request = TokenRequest::new(challenge.scope());
    match challenge.tenant_id() {
        Some(tenant) => request.with_tenant(tenant),
        None => request,
    }
}
