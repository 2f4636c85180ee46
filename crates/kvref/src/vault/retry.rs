//! When and how long to wait before trying a Key Vault request again.
//!
//! Retries cover 408, 429, 500, 502, 503, 504 and failed connections, with jittered exponential
//! backoff. A server's own hint (`x-ms-retry-after-ms`, `retry-after-ms`, then `Retry-After` in
//! seconds or as an HTTP date) is honoured: we wait at least that long. Every wait must fit in
//! the time budget; when it would not, the last answer is returned instead of waiting in vain.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;

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

    /// The jittered backoff before retry number `retry` (0 for the first retry): the exponential
    /// delay plus up to half of it again, so that many clients throttled together spread out.
    pub(crate) fn backoff(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry.min(20));
        let base = self
            .initial_delay
            .saturating_mul(factor)
            .min(self.max_delay);
        let jitter = base.mul_f64(rand::random::<f64>() * 0.5);
        base + jitter
    }

    /// The wait before retry number `retry`, given the server's hint if any.
    pub(crate) fn delay(&self, retry: u32, hint: Option<Duration>) -> Duration {
        let backoff = self.backoff(retry);
        match hint {
            Some(hint) => hint.max(backoff),
            None => backoff,
        }
    }
}

/// Whether a response with this status is worth trying again.
pub(crate) fn is_retryable_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 408 | 429 | 500 | 502 | 503 | 504)
}

/// The server's retry hint: `x-ms-retry-after-ms`, `retry-after-ms`, then `Retry-After`
/// (delta-seconds or an HTTP date).
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    for name in ["x-ms-retry-after-ms", "retry-after-ms"] {
        if let Some(ms) = header_str(headers, name).and_then(|v| v.parse::<f64>().ok())
            && ms.is_finite()
            && ms >= 0.0
        {
            return Some(Duration::from_secs_f64(ms.min(1e12) / 1000.0));
        }
    }
    let value = header_str(headers, "retry-after")?;
    if let Ok(seconds) = value.parse::<f64>() {
        return (seconds.is_finite() && seconds >= 0.0)
            .then(|| Duration::from_secs_f64(seconds.min(1e9)));
    }
    let date = jiff::fmt::rfc2822::DateTimeParser::new()
        .parse_timestamp(value)
        .ok()?;
    let wait = date.duration_since(jiff::Timestamp::now());
    Some(Duration::try_from(wait).unwrap_or(Duration::ZERO))
}

fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name)?.to_str().ok().map(str::trim)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderName, HeaderValue};

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        map
    }

    #[test]
    fn hints_in_order_of_precedence() {
        assert_eq!(retry_after(&headers(&[])), None);
        assert_eq!(
            retry_after(&headers(&[("retry-after", "3")])),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            retry_after(&headers(&[("retry-after", "3"), ("retry-after-ms", "250")])),
            Some(Duration::from_millis(250))
        );
        assert_eq!(
            retry_after(&headers(&[
                ("retry-after-ms", "250"),
                ("x-ms-retry-after-ms", "40")
            ])),
            Some(Duration::from_millis(40))
        );
        assert_eq!(retry_after(&headers(&[("retry-after", "soon")])), None);
        assert_eq!(retry_after(&headers(&[("retry-after", "-1")])), None);
        // An HTTP date in the past means "now".
        assert_eq!(
            retry_after(&headers(&[(
                "retry-after",
                "Sun, 06 Nov 1994 08:49:37 GMT"
            )])),
            Some(Duration::ZERO)
        );
        let future = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(120);
        let formatted = jiff::fmt::rfc2822::DateTimePrinter::new()
            .timestamp_to_rfc9110_string(&future)
            .unwrap();
        let hint = retry_after(&headers(&[("retry-after", &formatted)])).unwrap();
        assert!(
            hint > Duration::from_secs(100) && hint <= Duration::from_secs(120),
            "{hint:?}"
        );
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let policy = RetryPolicy::default();
        for retry in 0..30 {
            let d = policy.backoff(retry);
            let base = Duration::from_millis(200)
                .saturating_mul(2u32.saturating_pow(retry.min(20)))
                .min(Duration::from_secs(30));
            assert!(d >= base && d <= base.mul_f64(1.5), "{retry}: {d:?}");
        }
        assert!(policy.delay(0, Some(Duration::from_secs(5))) >= Duration::from_secs(5));
    }

    #[test]
    fn retryable_statuses() {
        for s in [408, 429, 500, 502, 503, 504] {
            assert!(is_retryable_status(StatusCode::from_u16(s).unwrap()));
        }
        for s in [200, 400, 401, 403, 404, 409, 501] {
            assert!(!is_retryable_status(StatusCode::from_u16(s).unwrap()));
        }
    }
}
