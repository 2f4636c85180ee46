//! When the refresher tries next: the interval after a good cycle, a doubling back-off after
//! failures, each spread by jitter so that a fleet started together does not refresh together.

use std::time::Duration;

/// The refresher's timing, as [`LiveBuilder`](super::LiveBuilder) configured it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Schedule {
    pub(super) interval: Duration,
    pub(super) jitter: f64,
    pub(super) backoff_min: Duration,
    pub(super) backoff_max: Duration,
}

impl Default for Schedule {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(5 * 60),
            jitter: 0.1,
            backoff_min: Duration::from_secs(30),
            backoff_max: Duration::from_secs(10 * 60),
        }
    }
}

impl Schedule {
    /// The wait before the next cycle, after `failures` consecutive failed cycles (0 after a
    /// success), before jitter: the interval, or `backoff_min` doubled per further failure up to
    /// `backoff_max`.
    pub(super) fn base_wait(&self, failures: u32) -> Duration {
        if failures == 0 {
            return self.interval;
        }
        let doublings = (failures - 1).min(31);
        self.backoff_min
            .saturating_mul(1u32 << doublings)
            .min(self.backoff_max.max(self.backoff_min))
    }

    /// [`base_wait`](Self::base_wait) spread by up to ± `jitter` of itself, at random.
    pub(super) fn wait(&self, failures: u32) -> Duration {
        let base = self.base_wait(failures);
        if self.jitter <= 0.0 {
            return base;
        }
        let spread = rand::random_range(-self.jitter..=self.jitter);
        base.mul_f64(1.0 + spread)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(jitter: f64) -> Schedule {
        Schedule {
            interval: Duration::from_secs(300),
            jitter,
            backoff_min: Duration::from_secs(30),
            backoff_max: Duration::from_secs(600),
        }
    }

    #[test]
    fn failures_double_the_back_off_up_to_its_maximum() {
        let waits: Vec<u64> = (0..8)
            .map(|f| schedule(0.0).base_wait(f).as_secs())
            .collect();
        assert_eq!(waits, [300, 30, 60, 120, 240, 480, 600, 600]);
        assert_eq!(schedule(0.0).base_wait(u32::MAX), Duration::from_secs(600));
    }

    #[test]
    fn jitter_stays_within_its_fraction_and_zero_disables_it() {
        for _ in 0..1000 {
            let wait = schedule(0.1).wait(0).as_secs_f64();
            assert!((270.0..=330.0).contains(&wait), "{wait}");
        }
        assert_eq!(schedule(0.0).wait(2), Duration::from_secs(60));
    }
}
