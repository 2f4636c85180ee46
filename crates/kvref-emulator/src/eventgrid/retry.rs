//! Event Grid's retry rules, with compressed timings: which answers end a delivery, which are
//! retried, and how long to wait before each attempt.

use std::time::Duration;

/// Event Grid's schedule (10 s, 30 s, 1 min, 5 min, 10 min, 30 min, 1 h, 3 h, 6 h, 12 h) in
/// milliseconds instead of seconds, so a test sees the shape without waiting for it.
pub(crate) const DEFAULT_DELAYS_MS: [u64; 10] =
    [10, 30, 60, 300, 600, 1_800, 3_600, 10_800, 21_600, 43_200];
/// Event Grid's default maximum number of attempts.
pub(crate) const DEFAULT_MAX_ATTEMPTS: u32 = 30;
/// Event Grid waits 30 seconds for an answer.
pub(crate) const DEFAULT_TIMEOUT_MS: u64 = 30_000;

/// When to try again, how long to wait for an answer, and how often at most.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RetryPolicy {
    /// Before the 2nd, 3rd, … attempt; the last one repeats.
    pub(crate) delays: Vec<Duration>,
    pub(crate) timeout: Duration,
    pub(crate) max_attempts: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            delays: DEFAULT_DELAYS_MS
                .iter()
                .map(|ms| Duration::from_millis(*ms))
                .collect(),
            timeout: Duration::from_millis(DEFAULT_TIMEOUT_MS),
            max_attempts: DEFAULT_MAX_ATTEMPTS,
        }
    }
}

impl RetryPolicy {
    /// The wait before attempt `attempt` (2 or more).
    pub(crate) fn delay_before(&self, attempt: u32) -> Duration {
        let index = attempt.saturating_sub(2) as usize;
        self.delays
            .get(index)
            .or(self.delays.last())
            .copied()
            .unwrap_or_default()
    }
}

/// What an attempt's answer means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// 200-204: delivered.
    Delivered,
    /// 400, 401, 403, 413: a configuration error; Event Grid dead-letters (or drops) the event
    /// at once.
    DeadLetter,
    /// Anything else: 5xx, 408, 429, other codes, no answer (connection error, timeout).
    Retry,
}

/// Judges an answer (`None` when there was none: connection error or timeout).
pub(crate) fn judge(status: Option<u16>) -> Verdict {
    match status {
        Some(200..=204) => Verdict::Delivered,
        Some(400 | 401 | 403 | 413) => Verdict::DeadLetter,
        _ => Verdict::Retry,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answers_event_grid_retries_and_the_ones_it_does_not() {
        for delivered in [200, 201, 202, 203, 204] {
            assert_eq!(judge(Some(delivered)), Verdict::Delivered);
        }
        for dead in [400, 401, 403, 413] {
            assert_eq!(judge(Some(dead)), Verdict::DeadLetter);
        }
        for retried in [
            None,
            Some(500),
            Some(503),
            Some(408),
            Some(429),
            Some(404),
            Some(302),
        ] {
            assert_eq!(judge(retried), Verdict::Retry, "{retried:?}");
        }
    }

    #[test]
    fn the_last_delay_repeats() {
        let policy = RetryPolicy {
            delays: vec![Duration::from_millis(1), Duration::from_millis(5)],
            ..RetryPolicy::default()
        };
        assert_eq!(policy.delay_before(2), Duration::from_millis(1));
        assert_eq!(policy.delay_before(3), Duration::from_millis(5));
        assert_eq!(policy.delay_before(9), Duration::from_millis(5));
        let none = RetryPolicy {
            delays: Vec::new(),
            ..RetryPolicy::default()
        };
        assert_eq!(none.delay_before(2), Duration::ZERO);
    }
}
