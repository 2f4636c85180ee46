//! Credentials: how kvref obtains an access token for Key Vault without holding a secret.
//!
//! Everything here is independent of Key Vault: a [`TokenCredential`] turns a [`TokenRequest`]
//! (a scope such as `https://vault.azure.net/.default`, and optionally a tenant) into an
//! [`AccessToken`]. Users can plug in their own implementation.
//!
//! # Which credential
//!
//! [`DefaultCredential`] works wherever the app runs. It tries, in order:
//!
//! | credential | applies when |
//! |---|---|
//! | [`EnvironmentCredential`] | `AZURE_TENANT_ID`, `AZURE_CLIENT_ID` and `AZURE_CLIENT_SECRET` (or `AZURE_CLIENT_CERTIFICATE_PATH`) are set |
//! | [`WorkloadIdentityCredential`] | `AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, `AZURE_FEDERATED_TOKEN_FILE` are set (AKS workload identity) |
//! | [`ManagedIdentityCredential`] | always tried; the source comes from the environment (below) |
//! | [`AzureCliCredential`] | `az` is on `PATH` and logged in |
//! | [`AzureDeveloperCliCredential`] | `azd` is on `PATH` and logged in |
//!
//! A credential that does not apply is skipped; one that applies but fails (the identity exists
//! and was refused) stops the chain with its error. The first that works is used from then on.
//! `AZURE_TOKEN_CREDENTIALS=dev` keeps only the developer tools, `prod` only the first three,
//! and a credential's name keeps only that one;
//! [`DefaultCredentialOptions::exclude_developer_credentials`] removes the developer tools in
//! production. When nothing works, the error lists every credential, why it did not apply, and
//! what to do.
//!
//! # Managed identity sources
//!
//! [`ManagedIdentityCredential`] detects the platform as the Azure SDKs do
//! ([`ManagedIdentitySource::detect`]): Service Fabric, App Service (also Functions and Container
//! Apps), Azure Arc, the legacy App Service protocol (`MSI_ENDPOINT` + `MSI_SECRET`), Cloud Shell,
//! and otherwise IMDS (VMs, scale sets, AKS nodes). IMDS is retried on 404, 410, 429 and 5xx with
//! exponential backoff, 410 for at least 70 s, within a budget you can set ([`RetryOptions`]);
//! `AZURE_POD_IDENTITY_AUTHORITY_HOST` points it elsewhere.
//!
//! # Choosing a user-assigned identity
//!
//! The first of these decides ([`IdentitySelection`]):
//!
//! 1. the [`UserAssignedId`] in the options ([`ManagedIdentityOptions::user_assigned`],
//!    [`DefaultCredentialOptions::user_assigned`]): client id, object id or resource id;
//! 2. `AZURE_CLIENT_ID` (a client id);
//! 3. `AzureServicesAuthConnectionString=RunAs=App;AppId=<client id>`, the .NET
//!    AppAuthentication convention, parsed by its rules ([`ServicesAuthConnectionString`]);
//! 4. otherwise the system-assigned identity.
//!
//! A choice the platform cannot honour (a user-assigned identity on Arc, Cloud Shell or Service
//! Fabric; an object or resource id with the legacy App Service protocol) is an
//! [`CredentialErrorKind::InvalidConfiguration`] error with a fix, never a silent fallback.
//!
//! # Caching and logging
//!
//! [`TokenCache`] wraps any credential: one request in flight per scope and tenant however many
//! callers, refresh ahead of expiry in a background task (a caller with a valid token never
//! waits), and the old token kept if a refresh fails. Every token
//! request runs in a `token_request` tracing span with the credential, the source, the identity
//! kind (`system`, `client_id`, `object_id`, `resource_id`), the outcome and the elapsed time.
//! Tokens, identity headers and secrets are never logged, displayed or put in errors.
//!
//! ```no_run
//! use std::sync::Arc;
//! use kvref::credential::{DefaultCredential, DefaultCredentialOptions, TokenCache, TokenCredential, TokenRequest};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let chain = DefaultCredential::new(DefaultCredentialOptions::from_process()?)?;
//! let credential = TokenCache::new(Arc::new(chain));
//! let token = credential.get_token(&TokenRequest::new("https://vault.azure.net/.default")).await?;
//! # let _ = token; Ok(()) }
//! ```

#[cfg(feature = "azure_core")]
mod azure_core_adapter;
mod cache;
mod certificate;
mod chain;
mod connection_string;
mod developer;
mod entra;
mod environment;
mod managed_identity;
mod recheck;
mod retry;
mod token_response;
mod user_assigned;
mod workload_identity;

// The fuzz targets and their proptest twins reach the parsers through `crate::__fuzz`.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) use {
    developer::{parse_az_output, parse_azd_output},
    token_response::{describe_error_body, parse_token_response},
};

use std::fmt;
use std::future::Future;

use async_trait::async_trait;
use jiff::Timestamp;
use secrecy::{ExposeSecret, SecretString};
use tracing::Instrument;

#[cfg(feature = "azure_core")]
pub use azure_core_adapter::AzureCoreCredential;
pub use cache::{REFRESH_BEFORE_EXPIRY, TokenCache};
pub use chain::{DefaultCredential, DefaultCredentialOptions, TOKEN_CREDENTIALS_VARIABLE};
pub use connection_string::{
    CONNECTION_STRING_VARIABLE, ConnectionStringError, ServicesAuthConnectionString,
};
pub use developer::{AzureCliCredential, AzureDeveloperCliCredential, DEFAULT_TOOL_TIMEOUT};
pub use environment::EnvironmentCredential;
pub use managed_identity::{
    ManagedIdentityCredential, ManagedIdentityOptions, ManagedIdentitySource,
};
pub use retry::RetryOptions;
pub use user_assigned::{IdentitySelection, UserAssignedId};
pub use workload_identity::WorkloadIdentityCredential;

/// Something that can obtain access tokens. Object safe: kvref holds `Arc<dyn TokenCredential>`.
///
/// ```
/// use async_trait::async_trait;
/// use kvref::credential::{AccessToken, CredentialError, TokenCredential, TokenRequest};
///
/// /// A credential that hands out a fixed token (for illustration only).
/// #[derive(Debug)]
/// struct Fixed;
///
/// #[async_trait]
/// impl TokenCredential for Fixed {
///     fn name(&self) -> &str {
///         "Fixed"
///     }
///     async fn get_token(&self, _request: &TokenRequest) -> Result<AccessToken, CredentialError> {
///         let expires_on = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(1);
///         Ok(AccessToken::new("not-a-real-token", expires_on))
///     }
/// }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let credential: std::sync::Arc<dyn TokenCredential> = std::sync::Arc::new(Fixed);
/// let token = credential
///     .get_token(&TokenRequest::new("https://vault.azure.net/.default"))
///     .await
///     .unwrap();
/// assert!(!format!("{token:?}").contains("not-a-real-token"));
/// # });
/// ```
#[async_trait]
pub trait TokenCredential: Send + Sync + fmt::Debug {
    /// A short name for messages, such as `ManagedIdentityCredential`.
    fn name(&self) -> &str;

    /// Obtains a token for `request`.
    async fn get_token(&self, request: &TokenRequest) -> Result<AccessToken, CredentialError>;

    /// Forgets `refused`, a token for `request` that the service refused (expired before its
    /// time by the service's clock, or revoked), so that the next call gets a fresh one. A
    /// credential that keeps no token has nothing to forget: the default does nothing.
    fn forget(&self, request: &TokenRequest, refused: &str) {
        let _ = (request, refused);
    }
}

/// What a token is wanted for.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TokenRequest {
    /// One scope, such as `https://vault.azure.net/.default`.
    pub scope: String,
    /// The tenant to ask, when the caller knows it (for example from a Key Vault challenge).
    pub tenant_id: Option<String>,
}

impl TokenRequest {
    /// A request for `scope` in the credential's own tenant.
    pub fn new(scope: impl Into<String>) -> Self {
        Self {
            scope: scope.into(),
            tenant_id: None,
        }
    }

    /// The same request addressed to `tenant_id`.
    pub fn with_tenant(mut self, tenant_id: impl Into<String>) -> Self {
        self.tenant_id = Some(tenant_id.into());
        self
    }

    /// The AAD v1 resource for the scope (`https://vault.azure.net/.default` →
    /// `https://vault.azure.net`), as managed identity endpoints want it.
    ///
    /// ```
    /// let request = kvref::credential::TokenRequest::new("https://vault.azure.net/.default");
    /// assert_eq!(request.resource(), "https://vault.azure.net");
    /// ```
    pub fn resource(&self) -> &str {
        self.scope.strip_suffix("/.default").unwrap_or(&self.scope)
    }
}

/// A bearer token and when it stops being valid. The token never appears in `Debug`.
#[derive(Clone)]
pub struct AccessToken {
    token: SecretString,
    expires_on: Timestamp,
    refresh_on: Option<Timestamp>,
}

impl AccessToken {
    /// A token valid until `expires_on`.
    pub fn new(token: impl Into<String>, expires_on: Timestamp) -> Self {
        Self {
            token: SecretString::from(token.into()),
            expires_on,
            refresh_on: None,
        }
    }

    /// The same token with a time at which it should be refreshed (as Entra's `refresh_in` says).
    pub fn with_refresh_on(mut self, refresh_on: Timestamp) -> Self {
        self.refresh_on = Some(refresh_on);
        self
    }

    /// The token itself. Only for putting it in an `Authorization` header.
    pub fn secret(&self) -> &str {
        self.token.expose_secret()
    }

    /// When the token expires.
    pub fn expires_on(&self) -> Timestamp {
        self.expires_on
    }

    /// When the token should be refreshed, if the issuer said.
    pub fn refresh_on(&self) -> Option<Timestamp> {
        self.refresh_on
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("token", &"<redacted>")
            .field("expires_on", &self.expires_on)
            .field("refresh_on", &self.refresh_on)
            .finish()
    }
}

/// Why a credential could not produce a token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CredentialErrorKind {
    /// This credential does not apply here (no endpoint in the environment, tool not installed,
    /// not logged in). A chain moves on to the next credential.
    Unavailable,
    /// The endpoint exists but the identity asked for is not assigned (IMDS "Identity not found",
    /// App Service "Unable to load the proper Managed Identity").
    IdentityNotFound,
    /// The identity exists but the token service refused it (an Entra AADSTS error, a bad
    /// client secret, a rejected federated token). A chain stops here.
    Refused,
    /// The endpoint did not answer usefully within the retry budget.
    Unreachable,
    /// The endpoint answered with something that is not a token response.
    InvalidResponse,
    /// The options cannot work together (for example a user-assigned id with Azure Arc).
    InvalidConfiguration,
}

impl CredentialErrorKind {
    /// A short name for logs: `unavailable`, `identity_not_found`, `refused`, `unreachable`,
    /// `invalid_response`, `invalid_configuration`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Unavailable => "unavailable",
            Self::IdentityNotFound => "identity_not_found",
            Self::Refused => "refused",
            Self::Unreachable => "unreachable",
            Self::InvalidResponse => "invalid_response",
            Self::InvalidConfiguration => "invalid_configuration",
        }
    }
}

/// An error from a credential: which one, what happened, and how to fix it. Never holds a token.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{credential}: {message}")]
pub struct CredentialError {
    kind: CredentialErrorKind,
    credential: String,
    message: String,
    fix: Option<String>,
}

impl CredentialError {
    /// A new error of `kind` raised by `credential`.
    pub fn new(
        kind: CredentialErrorKind,
        credential: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            kind,
            credential: credential.into(),
            message: message.into(),
            fix: None,
        }
    }

    /// The same error with advice for the operator.
    pub fn with_fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> CredentialErrorKind {
        self.kind
    }

    /// The credential that failed.
    pub fn credential(&self) -> &str {
        &self.credential
    }

    /// What happened.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// How to fix it, when known.
    pub fn fix(&self) -> Option<&str> {
        self.fix.as_deref()
    }

    /// Whether a chain should move on to its next credential.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self.kind,
            CredentialErrorKind::Unavailable | CredentialErrorKind::IdentityNotFound
        )
    }
}

/// Runs one token request inside a `token_request` span that records the credential, the source,
/// the identity kind (`system`, `client_id`, `object_id`, `resource_id`), the outcome and the
/// elapsed time. Neither the token nor any header is recorded.
pub(crate) async fn traced<F>(
    credential: &str,
    source: &str,
    identity: &str,
    request: F,
) -> Result<AccessToken, CredentialError>
where
    F: Future<Output = Result<AccessToken, CredentialError>>,
{
    let span = tracing::debug_span!(
        "token_request",
        credential,
        source,
        identity,
        status = tracing::field::Empty,
        elapsed_ms = tracing::field::Empty,
    );
    let started = tokio::time::Instant::now();
    let result = request.instrument(span.clone()).await;
    let elapsed_ms = started.elapsed().as_millis() as u64;
    let status = match &result {
        Ok(_) => "ok",
        Err(e) => e.kind().as_str(),
    };
    span.record("status", status);
    span.record("elapsed_ms", elapsed_ms);
    span.in_scope(|| match &result {
        Ok(token) => tracing::debug!(
            status,
            elapsed_ms,
            expires_on = %token.expires_on(),
            "token request succeeded"
        ),
        Err(error) => tracing::debug!(status, elapsed_ms, error = %error, "token request failed"),
    });
    result
}
