//! What a live snapshot is made of and how its refresher fares: the versions in use, what one
//! cycle changed, and the health report. Keys, secret names and versions only, never a value.

use crate::{Outcome, Resolution};

/// The version of one referenced secret a snapshot was built from.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SecretVersion {
    /// The setting's key.
    pub key: String,
    /// `vault/secret`, as in provenance and redactions.
    pub secret: String,
    /// The version Key Vault served; `None` when the reference failed and the resolver's
    /// [`UnresolvedPolicy`](crate::UnresolvedPolicy) kept the literal or dropped it.
    pub version: Option<String>,
    /// When that version expires (its `exp` attribute), if it has an expiry.
    pub expires: Option<jiff::Timestamp>,
}

impl SecretVersion {
    fn of(outcome: &Outcome) -> Option<SecretVersion> {
        let reference = outcome.reference()?;
        Some(SecretVersion {
            key: outcome.key().to_owned(),
            secret: format!("{}/{}", reference.vault_name(), reference.secret_name()),
            version: outcome.resolved_version().map(str::to_owned),
            expires: outcome.expires_on(),
        })
    }
}

/// Each reference of `resolution` with its version, in input order.
pub(super) fn versions(resolution: &Resolution) -> Vec<SecretVersion> {
    resolution
        .outcomes()
        .iter()
        .filter_map(SecretVersion::of)
        .collect()
}

/// The entry of `versions` that expires first, if any has an expiry.
pub(super) fn nearest_expiry(versions: &[SecretVersion]) -> Option<SecretVersion> {
    versions
        .iter()
        .filter(|v| v.expires.is_some())
        .min_by_key(|v| v.expires)
        .cloned()
}

/// What an Event Grid `SecretNearExpiry` or `SecretExpired` event said about a secret in use,
/// as [`Live::push`](super::Live::push) received it. Kept until the snapshot stops using that
/// version (a rotation), or replaced by a later event about the same version.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExpiryNotice {
    /// `vault/secret`, as in [`SecretVersion::secret`].
    pub secret: String,
    /// The settings that use the secret.
    pub keys: Vec<String>,
    /// The version the event is about, when it names one.
    pub version: Option<String>,
    /// The expiry the event reports (`EXP`), when it has one.
    pub expires: Option<jiff::Timestamp>,
    /// `true` for `SecretExpired`, `false` for `SecretNearExpiry`.
    pub expired: bool,
    /// When the event arrived, by the wall clock.
    pub received: jiff::Timestamp,
}

/// One setting whose secret moved to another version.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Change {
    /// The setting's key.
    pub key: String,
    /// `vault/secret`.
    pub secret: String,
    /// The version the previous snapshot used (`None` if it failed then).
    pub from: Option<String>,
    /// The version the new snapshot uses.
    pub to: Option<String>,
}

/// What one refresh cycle changed: the settings whose secret version moved, and the snapshot
/// generation in use after it (unchanged when nothing changed).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Changes {
    /// The settings whose secret rotated, in input order; empty when nothing changed.
    pub changed: Vec<Change>,
    /// The generation of the snapshot in use after the cycle.
    pub generation: u64,
}

impl Changes {
    /// Whether the cycle found nothing new (and so built and swapped nothing).
    pub fn is_empty(&self) -> bool {
        self.changed.is_empty()
    }
}

/// The settings whose version differs between `before` and `after`, a refresh of it (which
/// keeps its outcomes in order). Versions are compared, never values.
pub(super) fn changes(before: &Resolution, after: &Resolution) -> Vec<Change> {
    versions(before)
        .into_iter()
        .zip(versions(after))
        .filter(|(old, new)| old.version != new.version)
        .map(|(old, new)| Change {
            key: new.key,
            secret: new.secret,
            from: old.version,
            to: new.version,
        })
        .collect()
}

/// Whether some reference that `before` resolved fails in `after`: a refresh that would take a
/// working secret away, whatever the policy says at start-up.
pub(super) fn lost_any(before: &Resolution, after: &Resolution) -> bool {
    before
        .outcomes()
        .iter()
        .zip(after.outcomes())
        .any(|(old, new)| old.status().is_resolved() && !new.status().is_resolved())
}

/// How a [`Live`](super::Live) is doing, for health endpoints and logs. Keys, secret names,
/// versions, statuses and fixes; never a value.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Status {
    /// The generation of the snapshot in use: 0 for the first, one more per swap.
    pub generation: u64,
    /// When the last cycle (or the start) succeeded, by the wall clock.
    pub last_success: Option<jiff::Timestamp>,
    /// The error of the last cycle, if it failed: every failing setting with its status and
    /// fix, or the redacted build error or refusal. `None` once a cycle succeeds again.
    pub last_error: Option<String>,
    /// Since when cycles have been failing (the first of the current run of failures).
    pub failing_since: Option<jiff::Timestamp>,
    /// Failed cycles since the last success.
    pub consecutive_failures: u32,
    /// When the refresher tries next (tokio's clock); `None` once it has stopped.
    pub next_attempt: Option<tokio::time::Instant>,
    /// The secret versions the snapshot in use was built from, in input order, each with its
    /// expiry.
    pub versions: Vec<SecretVersion>,
    /// The entry of [`versions`](Self::versions) that expires first: which setting, which
    /// secret and version, and when. The refresher tries a cycle shortly before it (see
    /// [`LiveBuilder::expiry_lead`](super::LiveBuilder::expiry_lead)).
    pub nearest_expiry: Option<SecretVersion>,
    /// What Event Grid's expiry events said about secrets in use (see [`ExpiryNotice`]).
    pub expiry_notices: Vec<ExpiryNotice>,
}
