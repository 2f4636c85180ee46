//! Why a secret could not be fetched: [`VaultError`] and its [`VaultErrorKind`].

use crate::credential::{CredentialError, CredentialErrorKind};

use super::error_body::ServiceError;

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
    /// A fetch whose task the async runtime cancelled: the runtime is shutting down.
    pub(crate) fn cancelled() -> Self {
        Self::new(
            VaultErrorKind::ConnectionFailed,
            "the fetch was cancelled: the async runtime is shutting down",
        )
    }

    pub(super) fn new(kind: VaultErrorKind, message: impl Into<String>) -> Self {
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

    /// The same error, with the HTTP status of the answer it is about.
    pub(super) fn with_status(mut self, status: u16) -> Self {
        self.inner.status = Some(status);
        self
    }

    /// The same error, with what Key Vault's error body said.
    pub(super) fn with_service(mut self, service: ServiceError) -> Self {
        self.inner.service = service;
        self
    }

    /// The same error, with the credential's error it comes from.
    pub(super) fn with_credential(mut self, credential: CredentialError) -> Self {
        self.inner.credential = Some(credential);
        self
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
