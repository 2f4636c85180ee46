//! Pacing against Key Vault's request limit: at most so many requests per window per vault
//! (4,000 GETs per 10 s for secrets). A batch with more distinct secrets than the limit allows
//! would otherwise burst into 429s and then wait out `Retry-After` anyway; pacing sends each
//! request at the first moment the limit allows, so none is throttled.
//!
//! Every request is given a departure time: never more than `requests` departures in any
//! stretch of `window` (a sliding window, which keeps within a fixed window of any phase too),
//! with a tenth of the window added as a margin for the time a request takes to arrive.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// A per-vault request limit: `requests` per `window`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestLimit {
    /// Requests allowed per window (at least 1).
    pub requests: u32,
    /// The window (at least 1 ms).
    pub window: Duration,
}

/// Key Vault's documented limit for secret GETs: 4,000 per 10 seconds per vault.
pub const KEY_VAULT_REQUEST_LIMIT: RequestLimit = RequestLimit {
    requests: 4000,
    window: Duration::from_secs(10),
};

impl RequestLimit {
    /// The window with the margin for arrival (a tenth of it) added.
    fn spacing(&self) -> Duration {
        self.window + self.window / 10
    }
}

/// The departures of the last `requests` requests to each vault host.
#[derive(Debug)]
pub(crate) struct Pacer {
    limit: Option<RequestLimit>,
    departures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl Pacer {
    /// Paces to `limit`, or not at all with `None`.
    pub(crate) fn new(limit: Option<RequestLimit>) -> Self {
        Self {
            limit: limit.map(|l| RequestLimit {
                requests: l.requests.max(1),
                window: l.window.max(Duration::from_millis(1)),
            }),
            departures: Mutex::new(HashMap::new()),
        }
    }

    /// The limit paced to.
    pub(crate) fn limit(&self) -> Option<RequestLimit> {
        self.limit
    }

    /// Books the next departure to `host`: when the request may go. `Err` with that time, and
    /// nothing booked, when it would be at or after `deadline`.
    pub(crate) fn book(&self, host: &str, deadline: Instant) -> Result<Instant, Instant> {
        let Some(limit) = self.limit else {
            return Ok(Instant::now());
        };
        let mut departures = self
            .departures
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let booked = match departures.get_mut(host) {
            Some(booked) => booked,
            None => departures.entry(host.to_owned()).or_default(),
        };
        let now = Instant::now();
        // Departures are booked in order, so the front is the `requests`-th last one: the
        // next may go one window (and the margin) after it.
        let at = if booked.len() >= limit.requests as usize {
            booked
                .front()
                .map_or(now, |first| (*first + limit.spacing()).max(now))
        } else {
            now
        };
        if at > now && at >= deadline {
            return Err(at);
        }
        if booked.len() >= limit.requests as usize {
            booked.pop_front();
        }
        booked.push_back(at);
        Ok(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_request_over_the_limit_waits_a_window_and_the_margin() {
        let pacer = Pacer::new(Some(RequestLimit {
            requests: 3,
            window: Duration::from_secs(10),
        }));
        let start = Instant::now();
        let far = start + Duration::from_secs(3600);
        for _ in 0..3 {
            assert_eq!(pacer.book("a.vault.azure.net", far), Ok(start));
        }
        assert_eq!(
            pacer.book("a.vault.azure.net", far),
            Ok(start + Duration::from_secs(11))
        );
        // Another vault has a limit of its own.
        assert_eq!(pacer.book("b.vault.azure.net", far), Ok(start));
        // A departure past the deadline is refused and books nothing.
        let soon = start + Duration::from_secs(5);
        assert_eq!(
            pacer.book("a.vault.azure.net", soon),
            Err(start + Duration::from_secs(11))
        );
        assert_eq!(
            pacer.book("a.vault.azure.net", far),
            Ok(start + Duration::from_secs(11))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_limit_everything_goes_at_once() {
        let pacer = Pacer::new(None);
        let now = Instant::now();
        for _ in 0..10_000 {
            assert_eq!(pacer.book("a.vault.azure.net", now), Ok(now));
        }
    }
}
