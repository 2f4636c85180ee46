//! What a resolution produced: one [`Outcome`] per reference, the [`Resolution`] that holds them,
//! and the [`Resolved`] secrets of a successful one, ready for an integration to overlay.

use std::borrow::Cow;
use std::fmt;

use secrecy::{ExposeSecret, SecretString};

use crate::error::{Error, Failure};
use crate::redact::Redactions;
use crate::reference::Reference;
use crate::status::ResolveStatus;
use crate::vault::SecretAttributes;

/// What to do with a setting whose reference could not be resolved.
///
/// With the `(key, value)` API every policy is exact. The `config` and `figment` integrations
/// overlay values and cannot delete a key, so there [`Drop`](Self::Drop) sets the key to an
/// empty value (`None` for an `Option` field, an error naming the key for any other type).
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
    pub(super) index: usize,
    pub(super) key: String,
    pub(super) literal: String,
    pub(super) reference: Option<Reference>,
    pub(super) status: ResolveStatus,
    pub(super) resolved_version: Option<String>,
    pub(super) error_code: Option<String>,
    pub(super) message: Option<String>,
    pub(super) fix: Option<String>,
    pub(super) value: Option<SecretString>,
    pub(super) attributes: SecretAttributes,
}

impl fmt::Debug for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Outcome")
            .field("index", &self.index)
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
            .field("attributes", &self.attributes)
            .finish_non_exhaustive()
    }
}

impl Outcome {
    pub(super) fn pending(
        index: usize,
        key: String,
        literal: String,
        reference: Option<Reference>,
    ) -> Outcome {
        Outcome {
            index,
            key,
            literal,
            reference,
            status: ResolveStatus::OtherReasons,
            resolved_version: None,
            error_code: None,
            message: None,
            fix: None,
            value: None,
            attributes: SecretAttributes::default(),
        }
    }

    /// The position of this setting in the input of [`Resolver::resolve`](super::Resolver::resolve):
    /// how a caller finds its own item (a path in a value tree, a file and line) again.
    pub fn index(&self) -> usize {
        self.index
    }

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

    /// The attributes Key Vault returned with the version served (all `None` when the
    /// reference did not resolve).
    pub fn attributes(&self) -> &SecretAttributes {
        &self.attributes
    }

    /// When the version served expires (its `exp`), if it has an expiry: the secret should be
    /// rotated before then.
    pub fn expires_on(&self) -> Option<jiff::Timestamp> {
        self.attributes.expires
    }

    /// Whether a later refresh can bring a new value: the reference names no version.
    pub fn follows_latest(&self) -> bool {
        self.reference
            .as_ref()
            .is_some_and(|r| r.version().is_none())
    }

    /// `vault/secret` (with `@version` when pinned or resolved), as provenance and in redactions.
    pub fn provenance(&self) -> Option<String> {
        let reference = self.reference.as_ref()?;
        let mut text = format!("{}/{}", reference.vault_name(), reference.secret_name());
        if let Some(version) = self.resolved_version().or(reference.version()) {
            text.push('@');
            text.push_str(version);
        }
        Some(text)
    }

    pub(super) fn failure(&self) -> Failure {
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
    pub(super) outcomes: Vec<Outcome>,
    pub(super) policy: UnresolvedPolicy,
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

    /// The [`Redactions`] of every value this resolution served.
    pub(super) fn served(&self) -> Redactions {
        Redactions::new(self.outcomes.iter().filter_map(|outcome| {
            let value = outcome.value.as_ref()?;
            let provenance = outcome.provenance().unwrap_or_else(|| "secret".into());
            Some((provenance, value.expose_secret()))
        }))
    }

    /// An error listing every failure, whatever the policy; `None` when all resolved.
    pub fn error(&self) -> Option<Error> {
        let failures: Vec<Failure> = self.failures().map(Outcome::failure).collect();
        (!failures.is_empty()).then(|| Error::unresolved(failures))
    }

    /// Each reference with the version it resolved to (`None` when it failed): what a refresher
    /// compares to see what rotated, since secret values have no equality.
    pub fn versions(&self) -> impl Iterator<Item = (&Reference, Option<&str>)> {
        self.outcomes
            .iter()
            .filter_map(|o| Some((o.reference.as_ref()?, o.resolved_version())))
    }

    /// Applies the [`UnresolvedPolicy`] once: with [`UnresolvedPolicy::Fail`] any failure is an
    /// error listing every failure; otherwise the failures are kept as literals or dropped.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # let emulator = kvref_emulator::Emulator::start(kvref_emulator::EmulatorConfig::sample()).await.unwrap();
    /// # let resolver = kvref::Resolver::builder().emulator(format!("http://{}", emulator.http_addr())).connect(&kvref::Env::default()).await.unwrap();
    /// let settings = [
    ///     ("port", "8080"),
    ///     ("db.password", "@KeyVault(VaultName=myvault;SecretName=DbPassword)"),
    /// ];
    /// let resolved = resolver.resolve(settings).await.into_result()?;
    /// let (index, outcome, _secret) = resolved.secrets().next().unwrap();
    /// assert_eq!((index, outcome.key()), (1, "db.password"));
    /// # Ok::<(), kvref::Error>(()) }).unwrap();
    /// ```
    pub fn into_result(self) -> Result<Resolved, Error> {
        if self.policy == UnresolvedPolicy::Fail
            && let Some(error) = self.error()
        {
            return Err(error);
        }
        Ok(Resolved {
            outcomes: self.outcomes,
            policy: self.policy,
        })
    }
}

/// The secrets of a resolution that [`into_result`](Resolution::into_result) accepted, by input
/// index, with the policy's decisions for the settings that failed. Its `Debug` holds no value.
#[derive(Clone, Debug)]
pub struct Resolved {
    outcomes: Vec<Outcome>,
    policy: UnresolvedPolicy,
}

impl Resolved {
    /// Every outcome, resolved or not, in input order.
    pub fn outcomes(&self) -> &[Outcome] {
        &self.outcomes
    }

    /// `(input index, outcome, secret)` for each resolved setting.
    pub fn secrets(&self) -> impl Iterator<Item = (usize, &Outcome, &SecretString)> {
        self.outcomes
            .iter()
            .filter_map(|o| Some((o.index, o, o.value.as_ref()?)))
    }

    /// The input indices of failed settings whose literal reference stays as their value.
    pub fn kept_literal(&self) -> impl Iterator<Item = usize> {
        self.unresolved_under(UnresolvedPolicy::KeepLiteral)
    }

    /// The input indices of failed settings to leave out.
    pub fn dropped(&self) -> impl Iterator<Item = usize> {
        self.unresolved_under(UnresolvedPolicy::Drop)
    }

    fn unresolved_under(&self, policy: UnresolvedPolicy) -> impl Iterator<Item = usize> {
        let applies = self.policy == policy;
        self.outcomes
            .iter()
            .filter(move |o| applies && !o.status.is_resolved())
            .map(|o| o.index)
    }

    /// Replaces every resolved secret value found in `message` with `<redacted: vault/secret>`,
    /// both as written and as Rust's `{:?}` escapes it (serde's `invalid type: string "…"`), so
    /// a type error from `config`, `figment` or serde is safe to show whatever its shape.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # let emulator = kvref_emulator::Emulator::start(kvref_emulator::EmulatorConfig::sample()).await.unwrap();
    /// # let resolver = kvref::Resolver::builder().emulator(format!("http://{}", emulator.http_addr())).connect(&kvref::Env::default()).await.unwrap();
    /// use kvref::secrecy::ExposeSecret;
    /// let resolved = resolver
    ///     .resolve([("port", "@KeyVault(VaultName=myvault;SecretName=DbPassword)")])
    ///     .await
    ///     .into_result()?;
    /// let value = resolved.secrets().next().unwrap().2.expose_secret().to_owned();
    /// let error = format!("invalid type: string {value:?}, expected u16");
    /// let safe = resolved.redact(&error);
    /// assert!(!safe.contains(&value));
    /// assert!(safe.starts_with("invalid type: string \"<redacted: myvault/DbPassword"));
    /// # Ok::<(), kvref::Error>(()) }).unwrap();
    /// ```
    pub fn redact<'a>(&self, message: &'a str) -> Cow<'a, str> {
        self.redactions().apply(message)
    }

    /// The [`Redactions`] of every resolved secret, to apply to many messages.
    pub fn redactions(&self) -> Redactions {
        Redactions::new(self.secrets().map(|(_, outcome, secret)| {
            let provenance = outcome.provenance().unwrap_or_else(|| "secret".into());
            (provenance, secret.expose_secret())
        }))
    }
}
