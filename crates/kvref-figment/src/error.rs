//! The crate's error: a kvref error (references that could not be resolved, or a set-up that
//! cannot work) or a figment error with every secret value redacted.

use std::fmt;

/// Why settings could not be resolved or extracted. Neither its `Display` nor its `Debug` holds
/// a secret value: figment errors at a key that holds a secret name the key, the expected type
/// and the secret (`<redacted: myvault/DbPassword@…>`), never the value.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// # let emulator = kvref_emulator::Emulator::start(kvref_emulator::EmulatorConfig::sample()).await.unwrap();
/// # let resolver = kvref::Resolver::builder().emulator(format!("http://{}", emulator.http_addr())).connect(&kvref::Env::default()).await.unwrap();
/// use figment::{Figment, providers::{Format, Toml}};
///
/// let figment = Figment::from(Toml::string(r#"
///     port = "@KeyVault(VaultName=myvault;SecretName=DbPassword)"
/// "#));
/// let figment = kvref_figment::resolve_with(figment, &resolver).await.unwrap();
/// let error = kvref_figment::extract_inner::<u16>(&figment, "port").unwrap_err();
/// assert!(error.as_figment().is_some());
/// let message = error.to_string();
/// assert!(message.contains("<redacted: myvault/DbPassword@"), "{message}");
/// assert!(!message.contains("db-password-from-the-emulator"));
/// assert!(!format!("{error:?}").contains("db-password-from-the-emulator"));
///
/// let figment = Figment::from(Toml::string(r#"
///     port = "@KeyVault(VaultName=myvault;SecretName=NoSuchSecret)"
/// "#));
/// let error = kvref_figment::resolve_with(figment, &resolver).await.unwrap_err();
/// assert!(error.is_unresolved());
/// assert!(error.to_string().contains("default.port"));
/// # });
/// ```
pub struct Error {
    inner: Inner,
}

enum Inner {
    Kvref(kvref::Error),
    /// Redacted before it is stored: nothing here holds a secret.
    Figment(Box<figment::Error>),
}

impl Error {
    /// A figment error that `redact` has already made safe.
    pub(crate) fn redacted_figment(error: figment::Error) -> Self {
        Error {
            inner: Inner::Figment(Box::new(error)),
        }
    }

    /// Whether references could not be resolved ([`kvref::UnresolvedPolicy::Fail`]); the error
    /// lists every failing setting with its status and fix.
    pub fn is_unresolved(&self) -> bool {
        self.as_kvref().is_some_and(kvref::Error::is_unresolved)
    }

    /// The kvref error: unresolved references, or a configuration that cannot work.
    pub fn as_kvref(&self) -> Option<&kvref::Error> {
        match &self.inner {
            Inner::Kvref(error) => Some(error),
            Inner::Figment(_) => None,
        }
    }

    /// The figment error, with every secret value already redacted.
    pub fn as_figment(&self) -> Option<&figment::Error> {
        match &self.inner {
            Inner::Figment(error) => Some(error),
            Inner::Kvref(_) => None,
        }
    }
}

impl From<kvref::Error> for Error {
    fn from(error: kvref::Error) -> Self {
        Error {
            inner: Inner::Kvref(error),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner {
            Inner::Kvref(error) => error.fmt(f),
            Inner::Figment(error) => error.fmt(f),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner {
            Inner::Kvref(error) => f.debug_tuple("Error::Kvref").field(error).finish(),
            Inner::Figment(error) => f.debug_tuple("Error::Figment").field(error).finish(),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.inner {
            Inner::Kvref(error) => Some(error),
            Inner::Figment(error) => Some(error.as_ref()),
        }
    }
}
