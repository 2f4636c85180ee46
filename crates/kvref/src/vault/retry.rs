//! When and how long to wait before trying a Key Vault request again.
//!
//! Retries cover 408, 429, 500, 502, 503, 504 and failed connections, with jittered exponential
//! backoff. A server's own hint (`x-ms-retry-after-ms`, `retry-after-ms`, then `Retry-After` in
//! seconds or as an HTTP date) is honoured: we wait at least that long. Every wait must fit in
//! the time budget; when it would not, the last answer is returned instead of waiting in vain,
//! and when the budget runs out during a retry after a 429, that 429 is the answer. The status
//! list, the hints and the backoff come from the crate's shared retry module.

use std::time::Duration;

use crate::retry::Backoff;

/// How a [`SecretClient`](super::SecretClient) retries.
///
/// ```
/// use kvref::vault::RetryPolicy;
/// use std::time::Duration;
///
/// let policy = RetryPolicy::default()
///     .with_max_retries(4)
///     .with_initial_delay(Duration::from_millis(100))
///     .with_budget(Duration::from_secs(20));
/// assert_eq!(policy.max_retries(), 4);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    max_retries: u32,
    initial_delay: Duration,
    max_delay: Duration,
    budget: Duration,
}

impl Default for RetryPolicy {
    /// Eight retries from 200 ms doubling up to 30 s between tries, within 60 s in all, as the
    /// Azure SDKs do.
    fn default() -> Self {
        Self {
            max_retries: 8,
            initial_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(30),
            budget: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// At most `n` retries after the first try.
    pub fn with_max_retries(mut self, n: u32) -> Self {
        self.max_retries = n;
        self
    }

    /// The backoff before the first retry (doubled for each further one).
    pub fn with_initial_delay(mut self, delay: Duration) -> Self {
        self.initial_delay = delay;
        self
    }

    /// The longest backoff between two tries (a server's `Retry-After` may ask for longer; the
    /// budget still applies).
    pub fn with_max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// The total time one request may take, retries and waits included.
    pub fn with_budget(mut self, budget: Duration) -> Self {
        self.budget = budget;
        self
    }

    /// The retry limit.
    pub fn max_retries(&self) -> u32 {
        self.max_retries
    }

    /// The total time one request may take.
    pub fn budget(&self) -> Duration {
        self.budget
    }

    /// The wait before retry number `retry` (0 for the first retry), given the server's hint
    /// if any: the jittered exponential backoff, or the hint when it asks for longer.
    pub(crate) fn delay(&self, retry: u32, hint: Option<Duration>) -> Duration {
        Backoff {
            initial: self.initial_delay,
            max: self.max_delay,
            jitter: true,
        }
        .wait(retry, hint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_backoff_grows_from_200_ms_to_30_s_with_jitter() {
        let policy = RetryPolicy::default();
        for retry in 0..30 {
            let d = policy.delay(retry, None);
            let base = Duration::from_millis(200)
                .saturating_mul(2u32.saturating_pow(retry.min(20)))
                .min(Duration::from_secs(30));
            assert!(d >= base && d <= base.mul_f64(1.5), "{retry}: {d:?}");
        }
        assert!(policy.delay(0, Some(Duration::from_secs(5))) >= Duration::from_secs(5));
    }
}
