//! The public error of kvref: which settings could not be resolved, why, and how to fix each.
//!
//! Small and opaque, like reqwest's: ask it questions with the `is_*` methods, print it for the
//! operator. Its `Display` lists every failed setting (key, vault, secret, status, the service's
//! error code and the fix), never a secret value.

use std::fmt;

use crate::status::ResolveStatus;

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A kvref error: unresolved references, or a configuration that cannot work.
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
/// let resolver = kvref::Resolver::builder()
///     .credential(std::sync::Arc::new(NoCredential))
///     .build()
///     .unwrap();
/// let settings = [("Db", "@KeyVault(VaultName=x;SecretName=Db)")];
/// let error = resolver.resolve(settings).await.into_result().unwrap_err();
/// assert!(error.is_unresolved());
/// assert!(error.has_status(kvref::ResolveStatus::InvalidSyntax));
/// assert!(error.to_string().contains("setting `Db`"));
/// # });
/// ```
pub struct Error {
    inner: Box<Inner>,
}

enum Inner {
    Unresolved(Vec<Failure>),
    Configuration {
        kind: ConfigurationKind,
        message: String,
        source: Option<BoxError>,
    },
}

/// Which part of the set-up failed, for the `is_*` queries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ConfigurationKind {
    /// A builder option or limit.
    Options,
    /// The credential chain could not be set up from the environment.
    Credential,
    /// Local mode (`KVREF_EMULATOR`) could not start.
    Local,
    /// The HTTP transport could not be built.
    Transport,
}

/// One setting that could not be resolved, as the error reports it.
#[derive(Clone, Debug)]
pub(crate) struct Failure {
    pub(crate) key: String,
    pub(crate) vault: Option<String>,
    pub(crate) secret: Option<String>,
    pub(crate) status: ResolveStatus,
    pub(crate) code: Option<String>,
    pub(crate) message: Option<String>,
    pub(crate) fix: Option<String>,
}

impl Error {
    pub(crate) fn unresolved(failures: Vec<Failure>) -> Self {
        Self {
            inner: Box::new(Inner::Unresolved(failures)),
        }
    }

    pub(crate) fn configuration(message: impl Into<String>) -> Self {
        Self::setup(ConfigurationKind::Options, message.into(), None)
    }

    /// A builder option that failed validation, keeping the validator's error as the source.
    pub(crate) fn invalid_option(source: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::setup(
            ConfigurationKind::Options,
            source.to_string(),
            Some(Box::new(source)),
        )
    }

    pub(crate) fn credential_setup(source: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::setup(
            ConfigurationKind::Credential,
            source.to_string(),
            Some(Box::new(source)),
        )
    }

    #[cfg(feature = "local")]
    pub(crate) fn local(source: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::setup(
            ConfigurationKind::Local,
            source.to_string(),
            Some(Box::new(source)),
        )
    }

    pub(crate) fn transport(source: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::setup(
            ConfigurationKind::Transport,
            source.to_string(),
            Some(Box::new(source)),
        )
    }

    fn setup(kind: ConfigurationKind, message: String, source: Option<BoxError>) -> Self {
        Self {
            inner: Box::new(Inner::Configuration {
                kind,
                message,
                source,
            }),
        }
    }

    fn configuration_kind(&self) -> Option<ConfigurationKind> {
        match &*self.inner {
            Inner::Configuration { kind, .. } => Some(*kind),
            Inner::Unresolved(_) => None,
        }
    }

    /// Whether some references could not be resolved.
    pub fn is_unresolved(&self) -> bool {
        matches!(*self.inner, Inner::Unresolved(_))
    }

    /// Whether the resolver's configuration is invalid (bad vault suffix, no credential…).
    pub fn is_configuration(&self) -> bool {
        matches!(*self.inner, Inner::Configuration { .. })
    }

    /// Whether the credential chain could not be set up from the environment (a bad
    /// `AZURE_TOKEN_CREDENTIALS`, an unreadable certificate, …); [`source`](std::error::Error::source)
    /// holds the credential's own error.
    pub fn is_credential(&self) -> bool {
        self.configuration_kind() == Some(ConfigurationKind::Credential)
    }

    /// Whether local mode (`KVREF_EMULATOR`) could not start: the emulator is down, or refused.
    pub fn is_local(&self) -> bool {
        self.configuration_kind() == Some(ConfigurationKind::Local)
    }

    /// Whether the HTTP transport could not be built (a bad root certificate, …).
    pub fn is_transport(&self) -> bool {
        self.configuration_kind() == Some(ConfigurationKind::Transport)
    }

    /// Whether any failed setting has `status`.
    pub fn has_status(&self, status: ResolveStatus) -> bool {
        self.failures().iter().any(|f| f.status == status)
    }

    /// Whether access to a vault was denied (HTTP 403 other than a disabled secret).
    pub fn is_access_denied(&self) -> bool {
        self.has_status(ResolveStatus::AccessToKeyVaultDenied)
    }

    /// Whether a vault, secret or version was not found.
    pub fn is_not_found(&self) -> bool {
        self.has_status(ResolveStatus::VaultNotFound)
            || self.has_status(ResolveStatus::SecretNotFound)
            || self.has_status(ResolveStatus::SecretVersionNotFound)
    }

    /// Whether something ran out of time.
    pub fn is_timeout(&self) -> bool {
        self.has_status(ResolveStatus::FetchTimedOut)
    }

    /// The keys of the settings that failed, in order.
    pub fn failed_keys(&self) -> impl Iterator<Item = &str> {
        self.failures().iter().map(|f| f.key.as_str())
    }

    /// The status of the failed setting `key`, if it failed.
    pub fn status_of(&self, key: &str) -> Option<ResolveStatus> {
        self.failures()
            .iter()
            .find(|f| f.key == key)
            .map(|f| f.status)
    }

    fn failures(&self) -> &[Failure] {
        match &*self.inner {
            Inner::Unresolved(failures) => failures,
            Inner::Configuration { .. } => &[],
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.inner {
            Inner::Configuration { message, .. } => {
                write!(f, "invalid kvref configuration: {message}")
            }
            Inner::Unresolved(failures) => {
                let n = failures.len();
                write!(
                    f,
                    "{n} Key Vault reference{} could not be resolved:",
                    if n == 1 { "" } else { "s" }
                )?;
                for failure in failures {
                    write!(f, "\n- {failure}")?;
                }
                Ok(())
            }
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "setting `{}`", self.key)?;
        match (&self.vault, &self.secret) {
            (Some(vault), Some(secret)) => write!(f, " (vault {vault}, secret {secret})")?,
            _ => write!(f, " (not a valid reference)")?,
        }
        write!(f, ": {}", self.status)?;
        if let Some(code) = &self.code {
            write!(f, " [{code}]")?;
        }
        if let Some(message) = &self.message {
            // Key Vault's messages can span lines; the first says what happened.
            let first = message.lines().next().unwrap_or_default().trim();
            write!(f, ": {first}")?;
        }
        if let Some(fix) = &self.fix {
            write!(f, "\n  fix: {fix}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.inner {
            Inner::Configuration { kind, message, .. } => f
                .debug_struct("Configuration")
                .field("kind", kind)
                .field("message", message)
                .finish_non_exhaustive(),
            Inner::Unresolved(failures) => f.debug_tuple("Unresolved").field(failures).finish(),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &*self.inner {
            Inner::Configuration {
                source: Some(source),
                ..
            } => Some(source.as_ref()),
            _ => None,
        }
    }
}
