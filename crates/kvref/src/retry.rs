//! What every kvref retry loop agrees on: which statuses are transient, how long the service
//! asked us to wait, and how the backoff grows.
//!
//! The loops themselves differ (token endpoints keep retrying IMDS's 410 for 70 s and never
//! retry a refused connection; Key Vault requests spend one deadline shared by a resolution), so
//! they live with their clients: [`crate::credential::RetryOptions`] and
//! [`crate::vault::RetryPolicy`].

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;

/// The statuses every Azure SDK retries: 408, 429, 500, 502, 503, 504.
pub(crate) fn is_transient_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 408 | 429 | 500 | 502 | 503 | 504)
}

/// How long the service asked us to wait, in the Azure SDKs' order of precedence:
/// `x-ms-retry-after-ms`, `retry-after-ms` (milliseconds, fractions allowed), then `Retry-After`
/// in seconds (fractions allowed) or as an HTTP date (a date in the past means now). Negative,
/// non-finite and unreadable values are ignored.
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

/// Exponential backoff: `initial` doubled for each retry already made, capped at `max`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Backoff {
    pub(crate) initial: Duration,
    pub(crate) max: Duration,
    /// Adds up to half the delay again at random, so that many clients throttled together
    /// spread out instead of coming back at the same instant.
    pub(crate) jitter: bool,
}

impl Backoff {
    /// The backoff before retry number `retry` (0 for the first retry).
    pub(crate) fn before_retry(&self, retry: u32) -> Duration {
        let base = self
            .initial
            .saturating_mul(2u32.saturating_pow(retry.min(31)))
            .min(self.max);
        if self.jitter {
            base + base.mul_f64(rand::random::<f64>() * 0.5)
        } else {
            base
        }
    }

    /// The wait before retry number `retry`: the backoff, or the service's hint when it asks
    /// for longer.
    pub(crate) fn wait(&self, retry: u32, hint: Option<Duration>) -> Duration {
        let backoff = self.before_retry(retry);
        hint.map_or(backoff, |hint| hint.max(backoff))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderName, HeaderValue};

    const S: fn(u64) -> Duration = Duration::from_secs;

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
        assert_eq!(
            retry_after(&headers(&[
                ("retry-after", "7"),
                ("x-ms-retry-after-ms", "1500")
            ])),
            Some(Duration::from_millis(1500))
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
    fn fractional_hints_are_read() {
        assert_eq!(
            retry_after(&headers(&[("retry-after-ms", "2.5")])),
            Some(Duration::from_micros(2500))
        );
        assert_eq!(
            retry_after(&headers(&[("retry-after", "0.5")])),
            Some(Duration::from_millis(500))
        );
        assert_eq!(
            retry_after(&headers(&[
                ("x-ms-retry-after-ms", "NaN"),
                ("retry-after", "2")
            ])),
            Some(S(2))
        );
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let backoff = Backoff {
            initial: S(2),
            max: S(60),
            jitter: false,
        };
        let delays: Vec<u64> = (0..7).map(|r| backoff.before_retry(r).as_secs()).collect();
        assert_eq!(delays, [2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(backoff.before_retry(u32::MAX), S(60));
        assert_eq!(backoff.wait(0, Some(S(5))), S(5));
        assert_eq!(backoff.wait(0, Some(S(1))), S(2));
    }

    #[test]
    fn jittered_backoff_grows_and_is_capped() {
        let backoff = Backoff {
            initial: Duration::from_millis(200),
            max: S(30),
            jitter: true,
        };
        for retry in 0..40 {
            let d = backoff.before_retry(retry);
            let base = Duration::from_millis(200)
                .saturating_mul(2u32.saturating_pow(retry.min(20)))
                .min(S(30));
            assert!(d >= base && d <= base.mul_f64(1.5), "{retry}: {d:?}");
        }
        assert!(backoff.wait(0, Some(S(5))) >= S(5));
    }

    #[test]
    fn transient_statuses() {
        for s in [408, 429, 500, 502, 503, 504] {
            assert!(is_transient_status(StatusCode::from_u16(s).unwrap()), "{s}");
        }
        for s in [200, 400, 401, 403, 404, 409, 410, 501] {
            assert!(
                !is_transient_status(StatusCode::from_u16(s).unwrap()),
                "{s}"
            );
        }
    }
}
