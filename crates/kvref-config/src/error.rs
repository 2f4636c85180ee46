//! The error of this crate: a Key Vault resolution that failed, or a `config` error with every
//! resolved secret redacted out of it.

use std::fmt;

/// Why settings could not be resolved or read. Neither its `Display` nor its `Debug` (nor its
/// [`source`](std::error::Error::source)) holds a secret value: a `config` error is kept only as
/// its redacted text, since `ConfigError` itself prints the offending value.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// # let emulator = kvref_emulator::Emulator::start(kvref_emulator::EmulatorConfig::sample()).await.unwrap();
/// # let resolver = kvref::Resolver::builder().emulator(format!("http://{}", emulator.http_addr())).connect(&kvref::Env::default()).await.unwrap();
/// let config = config::Config::builder()
///     .set_override("db.password", "@KeyVault(VaultName=myvault;SecretName=NoSuchSecret)")?
///     .build()?;
/// let error = kvref_config::resolve_with(config, &resolver).await.unwrap_err();
/// assert!(error.is_unresolved());
/// assert!(error.to_string().contains("db.password"));
/// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
/// ```
pub struct Error {
    kind: Kind,
}

enum Kind {
    /// The core's error: references that did not resolve, or a resolver that could not be built.
    Kvref(kvref::Error),
    /// A `config` error, kept as text because `ConfigError` would print the secret.
    Config(RedactedConfigError),
}

/// A `config::ConfigError` after redaction: its text, and the key it names.
struct RedactedConfigError {
    message: String,
    key: Option<String>,
}

impl Error {
    pub(crate) fn kvref(error: kvref::Error) -> Self {
        Error {
            kind: Kind::Kvref(error),
        }
    }

    /// A config error with every resolved secret replaced by `<redacted: vault/secret@version>`.
    pub(crate) fn config(error: &config::ConfigError, resolved: Option<&kvref::Resolved>) -> Self {
        let message = error.to_string();
        let message = match resolved {
            Some(resolved) => resolved.redact(&message).into_owned(),
            None => message,
        };
        Error {
            kind: Kind::Config(RedactedConfigError {
                message,
                key: config_key(error),
            }),
        }
    }

    /// Whether Key Vault references could not be resolved (or no resolver could be built).
    pub fn is_unresolved(&self) -> bool {
        matches!(self.kind, Kind::Kvref(_))
    }

    /// The core's error, listing every failing setting with its status and fix.
    pub fn unresolved(&self) -> Option<&kvref::Error> {
        match &self.kind {
            Kind::Kvref(error) => Some(error),
            Kind::Config(_) => None,
        }
    }

    /// Whether `config` refused the settings (a type error, a missing key...).
    pub fn is_config(&self) -> bool {
        matches!(self.kind, Kind::Config(_))
    }

    /// The setting a `config` error names, as config writes it (`db.port`, `servers[0]`).
    pub fn key(&self) -> Option<&str> {
        match &self.kind {
            Kind::Config(error) => error.key.as_deref(),
            Kind::Kvref(_) => None,
        }
    }
}

fn config_key(error: &config::ConfigError) -> Option<String> {
    match error {
        config::ConfigError::Type { key, .. } | config::ConfigError::At { key, .. } => key.clone(),
        config::ConfigError::NotFound(key) => Some(key.clone()),
        _ => None,
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Kvref(error) => error.fmt(f),
            Kind::Config(error) => error.fmt(f),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Kvref(error) => f.debug_tuple("Unresolved").field(error).finish(),
            Kind::Config(error) => f.debug_tuple("Config").field(error).finish(),
        }
    }
}

/// Transparent, as thiserror's `#[error(transparent)]`: `Display` is the wrapped error's whole
/// text, so `source()` is the wrapped error's source (not the wrapped error again, which error
/// reporters would print twice). [`Error::unresolved`] gives the `kvref::Error` itself.
impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            Kind::Kvref(error) => error.source(),
            Kind::Config(_) => None,
        }
    }
}

impl fmt::Display for RedactedConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Debug for RedactedConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfigError")
            .field("key", &self.key)
            .field("message", &self.message)
            .finish()
    }
}
