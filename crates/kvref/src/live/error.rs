//! Why a live snapshot could not be made: the references, the build, the user's check, or a
//! refresher that has stopped.

/// Why [`LiveBuilder::start`](super::LiveBuilder::start) or
/// [`Live::refresh_now`](super::Live::refresh_now) failed. It never holds a secret value: build
/// errors and refusals pass through [`Resolved::redact`](crate::Resolved::redact) first.
///
/// ```
/// let error = kvref::live::LiveError::Refused("pool size must be at least 1".into());
/// assert_eq!(
///     error.to_string(),
///     "the settings check refused the new settings: pool size must be at least 1"
/// );
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LiveError {
    /// References could not be resolved: at start-up any failure (as the resolver's
    /// [`UnresolvedPolicy`](crate::UnresolvedPolicy) decides), later a reference that resolved
    /// before and now fails. Its `Display` lists each failing setting with its status and fix.
    #[error(transparent)]
    Unresolved(#[from] crate::Error),
    /// The build function could not make the settings from the resolved values (a secret that
    /// does not deserialise into its field, for instance). The message is redacted.
    #[error("building the settings failed: {0}")]
    Build(String),
    /// The user's check ([`LiveBuilder::validate`](super::LiveBuilder::validate)) refused the
    /// settings. The message is redacted.
    #[error("the settings check refused the new settings: {0}")]
    Refused(String),
    /// The refresher has stopped (its cancellation token was cancelled or its runtime shut
    /// down): the last snapshot stays readable, but nothing refreshes it any more.
    #[error(
        "the settings refresher has stopped; the last snapshot is kept but no longer refreshed"
    )]
    Stopped,
}
