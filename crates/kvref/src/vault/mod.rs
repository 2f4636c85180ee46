//! A Key Vault secrets client that never sends a token where it does not belong.
//!
//! [`SecretClient`] fetches one secret (`GET {vault}/secrets/{name}[/{version}]?api-version=…`).
//! Before any connection it checks the vault host against [`AllowedHosts`]. The first request
//! to a vault carries no token: the vault's 401 challenge says which audience and tenant to ask
//! a token for, and that audience must be a parent domain of the vault host (see
//! [`Challenge::verify`]); otherwise no token is requested at all. The challenge is remembered
//! per vault, so later requests carry the token up front; a 401 with a different challenge (the
//! vault moved tenant) re-runs that discovery once. Requests are retried on 408, 429, 500, 502,
//! 503, 504 and failed connections as [`RetryPolicy`] says, honouring the server's retry hints,
//! within a time budget.

mod challenge;
mod error_body;
mod retry;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, HeaderMap, WWW_AUTHENTICATE};
use secrecy::SecretString;
use serde::Deserialize;
use tokio::time::Instant;
use tracing::{Instrument, field};
use zeroize::Zeroizing;

pub use challenge::{Challenge, ChallengeError};
pub use retry::RetryPolicy;

use crate::credential::{CredentialError, CredentialErrorKind, TokenCredential, TokenRequest};
use crate::reference::{AllowedHosts, Reference};
use crate::retry::{is_transient_status, retry_after};
use crate::transport::sanitize::printable;
use crate::transport::{
    BODY_LIMIT, BodyError, HttpTransport, TransportError, error_chain, is_tls_rejection,
    read_bounded, redirect_refused, too_large,
};
use error_body::ServiceError;

/// The Key Vault REST API version used unless configured: the GA version of July 2025.
pub const DEFAULT_API_VERSION: &str = "2025-07-01";

/// A secret as Key Vault returned it. The value never appears in `Debug`.
#[derive(Clone, Debug)]
pub struct Secret {
    value: SecretString,
    id: String,
    version: Option<String>,
    content_type: Option<String>,
}

impl Secret {
    /// The secret value.
    pub fn value(&self) -> &SecretString {
        &self.value
    }

    /// The full, versioned id: `https://myvault.vault.azure.net/secrets/Db/{version}`.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The version Key Vault served (taken from the id), also for versionless requests.
    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }

    /// The content type set on the secret, if any.
    pub fn content_type(&self) -> Option<&str> {
        self.content_type.as_deref()
    }
}

/// What kind of failure a [`VaultError`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum VaultErrorKind {
    /// The vault host is not in the allow-list; nothing was sent.
    NotAllowed,
    /// The vault's challenge was unusable or named another audience; no token was requested.
    ChallengeRefused,
    /// The credential could not produce a token.
    Credential,
    /// Key Vault answered with an error status (see [`VaultError::http_status`] and codes).
    Service,
    /// Key Vault kept answering 429 until the retries or the budget ran out.
    Throttled,
    /// The time budget ran out, or the server timed out (408, 504).
    TimedOut,
    /// No connection could be made to the vault (DNS or TCP/TLS failure), after retries.
    Unreachable,
    /// Connections were made but kept failing mid-request (closed, reset), after retries.
    ConnectionFailed,
    /// Key Vault answered 200 with something that is not a secret.
    InvalidResponse,
}

/// Why a secret could not be fetched. Holds no secret value and no token.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{}", inner.message)]
pub struct VaultError {
    inner: Box<VaultErrorInner>,
}

#[derive(Clone, Debug)]
struct VaultErrorInner {
    kind: VaultErrorKind,
    status: Option<u16>,
    service: ServiceError,
    message: String,
    credential: Option<CredentialError>,
}

impl VaultError {
    fn new(kind: VaultErrorKind, message: impl Into<String>) -> Self {
        Self {
            inner: Box::new(VaultErrorInner {
                kind,
                status: None,
                service: ServiceError::default(),
                message: message.into(),
                credential: None,
            }),
        }
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> VaultErrorKind {
        self.inner.kind
    }

    /// The HTTP status of Key Vault's last answer, if there was one.
    pub fn http_status(&self) -> Option<u16> {
        self.inner.status
    }

    /// Key Vault's error code (`SecretNotFound`, `Forbidden`, `Throttled`, …).
    pub fn code(&self) -> Option<&str> {
        self.inner.service.code.as_deref()
    }

    /// The innermost `innererror.code` (`SecretDisabled`, `ForbiddenByRbac`, …).
    pub fn inner_code(&self) -> Option<&str> {
        self.inner.service.inner_code.as_deref()
    }

    /// Key Vault's own message, if it sent one.
    pub fn service_message(&self) -> Option<&str> {
        self.inner.service.message.as_deref()
    }

    /// The credential's error, for [`VaultErrorKind::Credential`].
    pub fn credential_error(&self) -> Option<&CredentialError> {
        self.inner.credential.as_ref()
    }

    /// The credential error's kind, for [`VaultErrorKind::Credential`].
    pub fn credential_kind(&self) -> Option<CredentialErrorKind> {
        self.inner.credential.as_ref().map(CredentialError::kind)
    }
}

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
    inner: Arc<ClientInner>,
}

struct ClientInner {
    http: reqwest::Client,
    credential: Arc<dyn TokenCredential>,
    allowed: AllowedHosts,
    api_version: String,
    retry: RetryPolicy,
    vaults: Mutex<HashMap<String, Arc<VaultState>>>,
}

/// What we know about one vault: its challenge, once discovered. The async mutex makes the
/// discovery single-flight: concurrent first requests wait for one challenge round trip.
#[derive(Default)]
struct VaultState {
    discovery: tokio::sync::Mutex<Discovery>,
}

/// How far discovery got for one vault.
#[derive(Default)]
enum Discovery {
    /// Not tried yet, or forgotten.
    #[default]
    Unknown,
    /// The vault's verified challenge.
    Known(Challenge),
    /// Discovery failed for a reason that concerns the whole vault (unreachable, no such vault,
    /// a refused challenge). Callers sharing the same deadline (one resolution) get the same
    /// error at once instead of each trying again: a mistyped vault name with 500 references
    /// costs one failed request, not 500 one after another.
    Failed {
        error: VaultError,
        deadline: Instant,
    },
}

/// What discovery ended with: the challenge, or already the answer for the secret.
enum Discovered {
    Challenge(Challenge),
    Answer(Result<Secret, VaultError>),
}

/// Whether a failed discovery says something about the vault rather than the secret.
fn concerns_the_vault(error: &VaultError) -> bool {
    match error.kind() {
        VaultErrorKind::Unreachable
        | VaultErrorKind::ConnectionFailed
        | VaultErrorKind::TimedOut
        | VaultErrorKind::Throttled
        | VaultErrorKind::ChallengeRefused => true,
        VaultErrorKind::Service => error.code() == Some("VaultNotFound"),
        _ => false,
    }
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
                http: transport.client().clone(),
                credential: self.credential,
                allowed: self.allowed,
                api_version: self.api_version,
                retry: self.retry,
                vaults: Mutex::new(HashMap::new()),
            }),
        })
    }
}

/// One complete answer from Key Vault (the body is wiped from memory when dropped).
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Zeroizing<Vec<u8>>,
}

#[derive(Deserialize)]
struct SecretBundle {
    value: Option<SecretString>,
    id: Option<String>,
    #[serde(rename = "contentType")]
    content_type: Option<String>,
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
        let mut rediscovered = false;
        loop {
            let token = self.token(&challenge, deadline).await?;
            let answer = self.send(&url, Some(token.secret()), deadline).await?;
            if answer.status == StatusCode::UNAUTHORIZED
                && !rediscovered
                && answer.headers.contains_key(WWW_AUTHENTICATE)
            {
                match challenge_of(&answer, host, Some(token.secret())) {
                    Ok(fresh) if fresh != challenge => {
                        tracing::debug!("the vault sent a new challenge; discovering again");
                        *vault.discovery.lock().await = Discovery::Known(fresh.clone());
                        challenge = fresh;
                        rediscovered = true;
                        continue;
                    }
                    // The same challenge again: the token itself was refused.
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

    /// The vault's challenge: remembered, or discovered with one request that carries no token.
    /// Concurrent callers wait for one discovery. A vault that answers that request with
    /// anything but 401 has given the final answer for this secret.
    async fn challenge(
        &self,
        vault: &VaultState,
        url: &reqwest::Url,
        reference: &Reference,
        deadline: Instant,
    ) -> Discovered {
        let host = reference.vault_host();
        let mut discovery = vault.discovery.lock().await;
        match &*discovery {
            Discovery::Known(c) => return Discovered::Challenge(c.clone()),
            Discovery::Failed { error, deadline: d } if *d == deadline => {
                return Discovered::Answer(Err(error.clone()));
            }
            Discovery::Unknown | Discovery::Failed { .. } => {}
        }
        let discovered = match self.send(url, None, deadline).await {
            Ok(answer) if answer.status == StatusCode::UNAUTHORIZED => {
                challenge_of(&answer, host, None)
            }
            Ok(answer) => Err(match self.finish(reference, answer, None) {
                Ok(secret) => return Discovered::Answer(Ok(secret)),
                Err(error) => error,
            }),
            Err(error) => Err(error),
        };
        match discovered {
            Ok(c) => {
                *discovery = Discovery::Known(c.clone());
                Discovered::Challenge(c)
            }
            Err(error) => {
                if concerns_the_vault(&error) {
                    *discovery = Discovery::Failed {
                        error: error.clone(),
                        deadline,
                    };
                }
                Discovered::Answer(Err(error))
            }
        }
    }

    fn vault_state(&self, host: &str) -> Arc<VaultState> {
        let mut vaults = self
            .inner
            .vaults
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        vaults.entry(host.to_owned()).or_default().clone()
    }

    /// A token for the challenge's audience, given up at `deadline` like the requests.
    async fn token(
        &self,
        challenge: &Challenge,
        deadline: Instant,
    ) -> Result<crate::credential::AccessToken, VaultError> {
        let mut request = TokenRequest::new(challenge.scope());
        if let Some(tenant) = challenge.tenant_id() {
            request = request.with_tenant(tenant);
        }
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
            let mut error = VaultError::new(
                VaultErrorKind::Credential,
                format!("no token for {}: {e}", challenge.scope()),
            );
            error.inner.credential = Some(e);
            error
        })
    }

    /// Sends one GET (with retries) and reads the whole answer. When the budget runs out while
    /// Key Vault's last answer was 429, that answer is the result: the vault did answer, it
    /// kept throttling, and the caller should hear so rather than "did not answer in time".
    async fn send(
        &self,
        url: &reqwest::Url,
        token: Option<&str>,
        deadline: Instant,
    ) -> Result<Answer, VaultError> {
        let policy = self.inner.retry;
        let span = tracing::Span::current();
        let mut retry = 0u32;
        let mut throttled: Option<Answer> = None;
        loop {
            span.record("attempt", retry + 1);
            let mut request = self
                .inner
                .http
                .get(url.clone())
                .header(ACCEPT, "application/json");
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            let outcome = tokio::time::timeout_at(deadline, async {
                let response = request.send().await.map_err(Failure::Http)?;
                let status = response.status();
                if status.is_redirection() {
                    // Never followed (see `transport`): the vault must answer itself.
                    return Err(Failure::Final(redirected(url, status)));
                }
                let headers = response.headers().clone();
                let body = read_bounded(response, BODY_LIMIT)
                    .await
                    .map_err(|e| match e {
                        BodyError::Http(e) => Failure::Http(e),
                        BodyError::TooLarge { limit } => Failure::Final(oversized(url, limit)),
                    })?;
                Ok::<_, Failure>(Answer {
                    status,
                    headers,
                    body,
                })
            })
            .await;
            let (hint, failure) = match outcome {
                Err(_) => {
                    return throttled.ok_or_else(|| {
                        VaultError::new(
                            VaultErrorKind::TimedOut,
                            "the time budget ran out waiting for Key Vault",
                        )
                    });
                }
                Ok(Ok(answer)) => {
                    span.record("status", answer.status.as_u16());
                    tracing::debug!(
                        status = answer.status.as_u16(),
                        attempt = retry + 1,
                        "Key Vault answered"
                    );
                    if !is_transient_status(answer.status) {
                        return Ok(answer);
                    }
                    (retry_after(&answer.headers), Ok(answer))
                }
                Ok(Err(Failure::Final(error))) => return Err(error),
                Ok(Err(Failure::Http(e))) => {
                    tracing::debug!(attempt = retry + 1, error = %error_chain(&e), "request to Key Vault failed");
                    if is_tls_rejection(&e) {
                        // A certificate we do not accept will not change on a retry.
                        return Err(transport_error(&e, false));
                    }
                    (None, Err(e))
                }
            };
            let delay = policy.delay(retry, hint);
            let out_of_tries = retry >= policy.max_retries();
            let out_of_time = Instant::now() + delay >= deadline;
            match failure {
                Ok(answer) if out_of_tries || out_of_time => return Ok(answer),
                Ok(answer) => {
                    throttled = (answer.status == StatusCode::TOO_MANY_REQUESTS).then_some(answer);
                }
                Err(e) if out_of_time && !out_of_tries => {
                    return throttled.ok_or_else(|| transport_error(&e, true));
                }
                Err(e) if out_of_tries => return Err(transport_error(&e, false)),
                Err(_) => {}
            }
            tokio::time::sleep(delay).await;
            retry += 1;
        }
    }

    fn finish(
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
        Err(VaultError {
            inner: Box::new(VaultErrorInner {
                kind,
                status: Some(status.as_u16()),
                service,
                message,
                credential: None,
            }),
        })
    }
}

/// Reads a 200 answer's `SecretBundle`; the version comes from the versioned `id`.
fn parse_secret(body: &[u8], reference: &Reference) -> Result<Secret, VaultError> {
    let bundle: SecretBundle = serde_json::from_slice(body).map_err(|e| {
        // serde's message could quote the body: keep only where it went wrong.
        VaultError::new(
            VaultErrorKind::InvalidResponse,
            format!(
                "Key Vault's answer is not a secret (invalid JSON at line {} column {})",
                e.line(),
                e.column()
            ),
        )
    })?;
    let value = bundle.value.ok_or_else(|| {
        VaultError::new(
            VaultErrorKind::InvalidResponse,
            "Key Vault's answer has no `value`",
        )
    })?;
    let id = bundle.id.ok_or_else(|| {
        VaultError::new(
            VaultErrorKind::InvalidResponse,
            "Key Vault's answer has no `id`, so it cannot be told to be the secret asked for",
        )
    })?;
    let version = check_id(&id, reference)?;
    Ok(Secret {
        value,
        id,
        version,
        content_type: bundle.content_type,
    })
}

/// Checks that the answer's `id` is the secret asked for: `https://{vault}/secrets/{name}/{version}`
/// on the same vault host, the same name (case-insensitively, as Key Vault compares names) and
/// the pinned version when one was asked for. Returns the version the id names.
fn check_id(id: &str, reference: &Reference) -> Result<Option<String>, VaultError> {
    let asked = format!(
        "{}/{}@{}",
        reference.vault_host(),
        reference.secret_name(),
        reference.version().unwrap_or("latest")
    );
    let mismatch = |what: &str| {
        VaultError::new(
            VaultErrorKind::InvalidResponse,
            format!(
                "Key Vault's answer for {asked} is not that secret: its id {what}; the answer \
                 was refused"
            ),
        )
    };
    let url = url::Url::parse(id).map_err(|_| mismatch("is not a URL"))?;
    if url.scheme() != "https" || url.port().is_some() || url.query().is_some() {
        return Err(mismatch("is not an https URL of a vault"));
    }
    let host = url.host_str().unwrap_or_default();
    if !host.eq_ignore_ascii_case(reference.vault_host()) {
        return Err(mismatch(&format!(
            "names another vault ({})",
            printable(&truncate_chars(host, 100))
        )));
    }
    let segments: Vec<&str> = url
        .path_segments()
        .map(|s| s.filter(|s| !s.is_empty()).collect())
        .unwrap_or_default();
    let (name, served) = match segments.as_slice() {
        ["secrets", name] => (*name, None),
        ["secrets", name, version] => (*name, Some(*version)),
        _ => return Err(mismatch("is not a secret id (`/secrets/{name}/{version}`)")),
    };
    if !name.eq_ignore_ascii_case(reference.secret_name()) {
        return Err(mismatch(&format!(
            "names another secret ({})",
            printable(&truncate_chars(name, 127))
        )));
    }
    if let Some(pinned) = reference.version()
        && !served.is_some_and(|v| v.eq_ignore_ascii_case(pinned))
    {
        return Err(mismatch(&format!(
            "names another version ({})",
            printable(&truncate_chars(served.unwrap_or("none"), 64))
        )));
    }
    Ok(served
        .filter(|v| v.len() == 32 && v.chars().all(|c| c.is_ascii_hexdigit()))
        .map(str::to_ascii_lowercase))
}

/// At most `max` characters of `text`.
fn truncate_chars(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// The verified challenge of a 401 answer.
fn challenge_of(answer: &Answer, host: &str, token: Option<&str>) -> Result<Challenge, VaultError> {
    let refused = |e: ChallengeError| {
        let mut error = VaultError::new(VaultErrorKind::ChallengeRefused, e.to_string());
        error.inner.status = Some(answer.status.as_u16());
        error.inner.service = ServiceError::parse(&answer.body, token);
        error
    };
    let header = answer
        .headers
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.trim_start().to_ascii_lowercase().contains("bearer"))
        .ok_or_else(|| {
            refused(ChallengeError::Malformed(
                "no WWW-Authenticate: Bearer header".into(),
            ))
        })?;
    let challenge = Challenge::parse(header).map_err(refused)?;
    challenge.verify(host).map_err(refused)?;
    Ok(challenge)
}

/// Why one attempt gave no answer to look at.
enum Failure {
    /// The request failed; maybe transient.
    Http(reqwest::Error),
    /// An answer kvref refuses unread (a redirect, an oversized body); never retried.
    Final(VaultError),
}

/// A 3xx from the vault, as an invalid response naming the host and the status.
fn redirected(url: &reqwest::Url, status: StatusCode) -> VaultError {
    let mut error = VaultError::new(
        VaultErrorKind::InvalidResponse,
        redirect_refused("Key Vault", url, status),
    );
    error.inner.status = Some(status.as_u16());
    error
}

/// A body over the limit, as an invalid response naming the host and the limit.
fn oversized(url: &reqwest::Url, limit: usize) -> VaultError {
    VaultError::new(
        VaultErrorKind::InvalidResponse,
        format!(
            "Key Vault {} sent an {}; a secret is at most 25 KB",
            url.host_str().unwrap_or("(no host)"),
            too_large(limit)
        ),
    )
}

fn transport_error(e: &reqwest::Error, budget_exhausted: bool) -> VaultError {
    let detail = error_chain(e);
    if e.is_timeout() || budget_exhausted && !e.is_connect() {
        VaultError::new(
            VaultErrorKind::TimedOut,
            format!("Key Vault did not answer in time: {detail}"),
        )
    } else if e.is_connect() {
        VaultError::new(
            VaultErrorKind::Unreachable,
            format!("cannot reach the vault: {detail}"),
        )
    } else {
        VaultError::new(
            VaultErrorKind::ConnectionFailed,
            format!("the connection to the vault kept failing: {detail}"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn reference() -> Reference {
        Reference::parse("@KeyVault(VaultName=keyvaultname;SecretName=x)")
            .unwrap()
            .unwrap()
    }

    #[test]
    fn parses_recorded_secret_bundles() {
        // keyvault-get-secret-200.json and keyvault-get-secret-2025-07-01.json
        let s = parse_secret(br#"{"value":"SECRET_VALUE","id":"https://keyvaultname.vault.azure.net/secrets/X/41cce6796d81438f9dad0d96bf85d50d","attributes":{"enabled":true,"created":1668124872,"updated":1668124872,"recoveryLevel":"CustomizedRecoverable+Purgeable","recoverableDays":7}}"#, &reference()).unwrap();
        assert_eq!(s.value().expose_secret(), "SECRET_VALUE");
        assert_eq!(s.version(), Some("41cce6796d81438f9dad0d96bf85d50d"));
        assert!(!format!("{s:?}").contains("SECRET_VALUE"));
        let s = parse_secret(br#"{"value":"secret_value","id":"https://keyvaultname.vault.azure.net/secrets/x/d12c341818474828855cb7df698afdb6","attributes":{"enabled":true}}"#, &reference()).unwrap();
        assert_eq!(s.version(), Some("d12c341818474828855cb7df698afdb6"));
        // Certificate-backed (Verbatim 4): content type kept.
        let s = parse_secret(br#"{"value":"YmFzZTY0","contentType":"application/x-pkcs12","id":"https://keyvaultname.vault.azure.net/secrets/x/08be22f5f85a42809d2df03cef6908c4","managed":true,"kid":"https://k.vault.azure.net/keys/c/08be22f5f85a42809d2df03cef6908c4"}"#, &reference()).unwrap();
        assert_eq!(s.content_type(), Some("application/x-pkcs12"));
    }

    #[test]
    fn refuses_an_id_that_is_not_the_secret_asked_for() {
        let pinned = Reference::parse(
            "@KeyVault(VaultName=keyvaultname;SecretName=Db;SecretVersion=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa)",
        )
        .unwrap()
        .unwrap();
        let body = |id: &str| format!(r#"{{"value":"v","id":"{id}"}}"#);
        for (id, reference, says) in [
            (
                "https://othervault.vault.azure.net/secrets/x/0123456789abcdef0123456789abcdef",
                reference(),
                "another vault",
            ),
            (
                "https://evil.example/secrets/x/0123456789abcdef0123456789abcdef",
                reference(),
                "another vault",
            ),
            (
                "http://keyvaultname.vault.azure.net/secrets/x",
                reference(),
                "https",
            ),
            (
                "https://keyvaultname.vault.azure.net:8443/secrets/x",
                reference(),
                "https",
            ),
            (
                "https://keyvaultname.vault.azure.net/secrets/Other/0123456789abcdef0123456789abcdef",
                reference(),
                "another secret",
            ),
            (
                "https://keyvaultname.vault.azure.net/keys/x/0123456789abcdef0123456789abcdef",
                reference(),
                "not a secret id",
            ),
            (
                "https://keyvaultname.vault.azure.net/secrets/Db/0123456789abcdef0123456789abcdef",
                pinned.clone(),
                "another version",
            ),
            (
                "https://keyvaultname.vault.azure.net/secrets/Db",
                pinned.clone(),
                "another version",
            ),
            ("not a url", reference(), "not a URL"),
        ] {
            let e = parse_secret(body(id).as_bytes(), &reference).unwrap_err();
            assert_eq!(e.kind(), VaultErrorKind::InvalidResponse, "{id}");
            assert!(e.to_string().contains(says), "{id}: {e}");
        }
        // Names compare case-insensitively, versions too.
        let ok = parse_secret(
            body(
                "https://KeyVaultName.vault.azure.net/secrets/DB/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            )
            .as_bytes(),
            &pinned,
        )
        .unwrap();
        assert_eq!(ok.version(), Some("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
        assert!(parse_secret(br#"{"value":"v"}"#, &reference()).is_err());
    }

    #[test]
    fn refuses_answers_that_are_not_secrets_without_quoting_them() {
        for body in [
            &br#"{"id":"x"}"#[..],
            b"<html>sign in</html>",
            br#"{"value": 42}"#,
        ] {
            let e = parse_secret(body, &reference()).unwrap_err();
            assert_eq!(e.kind(), VaultErrorKind::InvalidResponse);
            assert!(
                !e.to_string().contains("sign in") && !e.to_string().contains("42"),
                "{e}"
            );
        }
    }
}
