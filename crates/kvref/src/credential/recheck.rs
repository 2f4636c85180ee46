//! Remembering a failed check for a while: long enough that callers do not repeat it on every
//! request, short enough that a long-running process recovers from a blip at start-up.
//!
//! Used for the chain's IMDS probe and the chain's selection. A success is kept by the caller
//! for ever; a failure is answered from memory until its back-off has passed (5 s after the
//! first failure, doubling with each consecutive failure up to 5 minutes).

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use super::CredentialError;
use crate::retry::Backoff;

/// The back-off after consecutive failures of a check.
const BACKOFF: Backoff = Backoff {
    initial: Duration::from_secs(5),
    max: Duration::from_secs(5 * 60),
    jitter: false,
};

/// The last failure of a check and when the check may run again.
#[derive(Debug, Default)]
pub(crate) struct RememberedFailure {
    state: Mutex<Option<Failure>>,
}

#[derive(Debug)]
struct Failure {
    error: CredentialError,
    retry_at: Instant,
    /// Consecutive failures so far.
    count: u32,
}

impl RememberedFailure {
    /// The last failure, while its back-off lasts; `None` when the check should run.
    pub(crate) fn recent(&self) -> Option<CredentialError> {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state
            .as_ref()
            .filter(|f| Instant::now() < f.retry_at)
            .map(|f| f.error.clone())
    }

    /// Remembers a failure; the back-off grows with each consecutive one.
    pub(crate) fn failed(&self, error: &CredentialError) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let count = state.as_ref().map_or(0, |f| f.count);
        let wait = BACKOFF.before_retry(count);
        let now = Instant::now();
        *state = Some(Failure {
            error: error.clone(),
            retry_at: now.checked_add(wait).unwrap_or(now),
            count: count.saturating_add(1),
        });
    }

    /// Forgets the failures (the check passed).
    pub(crate) fn passed(&self) {
        *self.state.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credential::CredentialErrorKind;

    #[tokio::test(start_paused = true)]
    async fn a_failure_is_remembered_for_a_growing_back_off_and_a_pass_forgets_it() {
        let memo = RememberedFailure::default();
        let error = CredentialError::new(CredentialErrorKind::Unavailable, "Test", "down");
        assert!(memo.recent().is_none());
        memo.failed(&error);
        assert_eq!(memo.recent().unwrap().message(), "down");
        tokio::time::advance(Duration::from_secs(5)).await;
        assert!(memo.recent().is_none(), "retried after 5 s");
        memo.failed(&error);
        tokio::time::advance(Duration::from_secs(9)).await;
        assert!(memo.recent().is_some(), "then after 10 s");
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(memo.recent().is_none());
        for _ in 0..20 {
            memo.failed(&error);
        }
        tokio::time::advance(Duration::from_secs(299)).await;
        assert!(memo.recent().is_some());
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(memo.recent().is_none(), "never more than 5 minutes");
        memo.failed(&error);
        memo.passed();
        assert!(memo.recent().is_none());
        memo.failed(&error);
        tokio::time::advance(Duration::from_secs(5)).await;
        assert!(memo.recent().is_none(), "a pass resets the back-off");
    }
}
