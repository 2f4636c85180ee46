//! Retrying token requests: which statuses are transient, how long to back off, and the budget.
//!
//! IMDS documents 404 (updating), 410 (going through updates, back "within 70 seconds"), 429
//! (throttled) and 5xx as transient; every Azure SDK retries them with exponential backoff, and
//! 410 must be retried for at least 70 s. The other identity endpoints and Entra get the
//! ordinary list (408, 429, 500, 502, 503, 504). All waits use `tokio::time`, so tests with
//! paused time run instantly, and a `Retry-After` (or `retry-after-ms`, `x-ms-retry-after-ms`)
//! the service sends is honoured when it asks for longer than the backoff.
//!
//! The policy is a pure function of (retries so far, time elapsed, status, Retry-After) so it can
//! be tested without a clock; backon's builders do not express "keep retrying 410 for 70 s even
//! past the retry count, within the overall budget", so the loop is our own.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use tokio::time::Instant;

use crate::retry::{Backoff, retry_after};
use zeroize::Zeroizing;

use super::token_response::describe_error_body;
use super::{CredentialError, CredentialErrorKind};
use crate::transport::sanitize::service_text;
use crate::transport::{
    BODY_LIMIT, BodyError, error_chain, is_tls_rejection, read_bounded, redirect_refused, too_large,
};

/// How a credential retries transient failures of its token endpoint.
///
/// ```
/// use kvref::credential::RetryOptions;
/// use std::time::Duration;
///
/// // Give IMDS at most 20 s in total (the default keeps 410 up for 70 s, 80 s in all).
/// let quick = RetryOptions::imds().with_max_elapsed(Duration::from_secs(20));
/// assert_eq!(quick.max_elapsed, Duration::from_secs(20));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryOptions {
    /// Retries after the first attempt (410 is retried beyond this while within `gone_window`).
    pub max_retries: u32,
    /// The first backoff; each retry doubles it.
    pub initial_delay: Duration,
    /// The longest single backoff (a longer `Retry-After` is still honoured).
    pub max_delay: Duration,
    /// The whole budget, from the first attempt: no retry starts after it.
    pub max_elapsed: Duration,
    /// How long a 410 Gone keeps being retried (IMDS: "available within 70 seconds").
    pub gone_window: Duration,
    /// Whether connection failures (no HTTP response at all) are retried. A refused connection
    /// is retried only for an endpoint the environment names (App Service, Container Apps,
    /// Service Fabric, Azure Arc, Cloud Shell), which may still be starting; for IMDS and Entra
    /// it means nothing listens there.
    pub retry_connection_errors: bool,
}

impl RetryOptions {
    /// For IMDS and Azure Arc: 5 retries from 2 s (attempts at about 0, 2, 6, 14, 30 s as the
    /// IMDS documentation advises), 410 retried for 70 s, everything within 80 s.
    pub fn imds() -> Self {
        Self {
            max_retries: 5,
            initial_delay: Duration::from_secs(2),
            max_delay: Duration::from_secs(60),
            max_elapsed: Duration::from_secs(80),
            gone_window: Duration::from_secs(70),
            retry_connection_errors: true,
        }
    }

    /// For the other identity endpoints and Entra: 3 retries from 1 s, within 30 s.
    pub fn standard() -> Self {
        Self {
            max_retries: 3,
            initial_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(10),
            max_elapsed: Duration::from_secs(30),
            gone_window: Duration::ZERO,
            retry_connection_errors: true,
        }
    }

    /// No retries at all (the chain's IMDS probe).
    pub fn none() -> Self {
        Self {
            max_retries: 0,
            initial_delay: Duration::ZERO,
            max_delay: Duration::ZERO,
            max_elapsed: Duration::ZERO,
            gone_window: Duration::ZERO,
            retry_connection_errors: false,
        }
    }

    /// The same options with another total budget.
    pub fn with_max_elapsed(mut self, max_elapsed: Duration) -> Self {
        self.max_elapsed = max_elapsed;
        self
    }

    /// The same options with another retry count.
    pub fn with_max_retries(mut self, max_retries: u32) -> Self {
        self.max_retries = max_retries;
        self
    }

    /// The same options with another first backoff.
    pub fn with_initial_delay(mut self, initial_delay: Duration) -> Self {
        self.initial_delay = initial_delay;
        self
    }

    /// How long to wait before the next attempt, or `None` to stop. `retries` is the number of
    /// retries already made, `elapsed` the time since the first attempt started.
    pub(crate) fn next_delay(
        &self,
        retries: u32,
        elapsed: Duration,
        status: Option<StatusCode>,
        retry_after: Option<Duration>,
    ) -> Option<Duration> {
        let gone = status == Some(StatusCode::GONE) && elapsed < self.gone_window;
        if !gone && retries >= self.max_retries {
            return None;
        }
        let remaining = self.max_elapsed.checked_sub(elapsed)?;
        if remaining.is_zero() {
            return None;
        }
        let backoff = Backoff {
            initial: self.initial_delay,
            max: self.max_delay,
            jitter: false,
        }
        .before_retry(retries);
        match retry_after {
            // The service asked us to wait longer than we may: don't pretend to retry.
            Some(wait) if wait > remaining => None,
            Some(wait) => Some(wait.max(backoff).min(remaining)),
            None => Some(backoff.min(remaining)),
        }
    }
}

/// IMDS's transient statuses: 404, 410, 429 and every 5xx.
pub(crate) fn imds_transient(status: StatusCode) -> bool {
    matches!(status.as_u16(), 404 | 410 | 429) || status.is_server_error()
}

/// What a refused connection means for an endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// Nothing listens there and nothing will soon (IMDS on a machine without it, Entra): stop.
    Final,
    /// The environment names the endpoint, so it exists but may still be starting (App Service
    /// and Container Apps are often not ready in a container's first seconds): retry within the
    /// budget.
    Retry,
}

/// A response read in full (bounded), with how many attempts it took. Its `Debug` leaves the body
/// out: a token endpoint's body is the token.
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: zeroize::Zeroizing<Vec<u8>>,
    pub(crate) attempts: u32,
    pub(crate) elapsed: Duration,
    /// The secrets the request carried (sensitive headers, the form's secret or assertion), to
    /// scrub from whatever the endpoint says back.
    sent: Vec<Zeroizing<String>>,
}

impl Reply {
    /// A one-line description of the error body, safe to show: printable, with what kvref sent
    /// redacted (see [`crate::transport::sanitize`]).
    pub(crate) fn describe(&self) -> Option<String> {
        let description = describe_error_body(&self.body)?;
        let sent: Vec<&str> = self.sent.iter().map(|s| s.as_str()).collect();
        Some(service_text(&description, &sent))
    }
}

/// What in `request` is secret: every header marked sensitive (also the part after a scheme
/// word such as `Basic`), and the form fields that prove the client.
fn sent_secrets(request: &reqwest::Request) -> Vec<Zeroizing<String>> {
    let mut sent = Vec::new();
    for value in request.headers().values().filter(|v| v.is_sensitive()) {
        if let Ok(text) = value.to_str() {
            if let Some((_, credential)) = text.split_once(' ') {
                sent.push(Zeroizing::new(credential.to_owned()));
            }
            sent.push(Zeroizing::new(text.to_owned()));
        }
    }
    if let Some(form) = request.body().and_then(reqwest::Body::as_bytes) {
        for (name, value) in url::form_urlencoded::parse(form) {
            if matches!(name.as_ref(), "client_secret" | "client_assertion") {
                sent.push(Zeroizing::new(value.into_owned()));
            }
        }
    }
    sent
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reply")
            .field("status", &self.status)
            .field("body", &format_args!("<{} bytes>", self.body.len()))
            .field("attempts", &self.attempts)
            .field("elapsed", &self.elapsed)
            .finish_non_exhaustive()
    }
}

impl Unusable {
    /// The answer as an invalid response of `credential`, naming `what` answered and its host
    /// (never the query).
    pub(crate) fn error(
        self,
        credential: &'static str,
        what: &str,
        url: &url::Url,
    ) -> CredentialError {
        let host = url.host_str().unwrap_or("(no host)");
        let (message, fix) = match self {
            Unusable::Redirect(status) => (
                redirect_refused(what, url, status),
                "the endpoint must answer itself; check that the endpoint variables belong to \
                 this machine and that nothing between kvref and the endpoint rewrites answers",
            ),
            Unusable::TooLarge(limit) => (
                format!("{what} {host} sent an {}", too_large(limit)),
                "a token answer is a few kilobytes; check that the endpoint variables name the \
                 platform's identity service",
            ),
        };
        CredentialError::new(CredentialErrorKind::InvalidResponse, credential, message)
            .with_fix(fix)
    }
}

/// One attempt that gave no usable answer.
enum Attempt {
    Failed(reqwest::Error),
    Unusable(Unusable),
}

impl From<reqwest::Error> for Attempt {
    fn from(error: reqwest::Error) -> Self {
        Attempt::Failed(error)
    }
}

/// No usable HTTP response was received.
#[derive(Debug)]
pub(crate) struct NoResponse {
    /// Nothing listens at the address (connection refused), as opposed to a timeout or reset.
    pub(crate) refused: bool,
    pub(crate) timed_out: bool,
    pub(crate) detail: String,
    pub(crate) attempts: u32,
    pub(crate) elapsed: Duration,
    /// An answer came, but one kvref will not use (a redirect, an oversized body): the request
    /// is not retried, and the error is an invalid response, not an unreachable endpoint.
    pub(crate) unusable: Option<Unusable>,
}

/// An answer that is refused before anyone reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unusable {
    /// A 3xx: never followed, never retried.
    Redirect(StatusCode),
    /// The body is longer than the limit.
    TooLarge(usize),
}

/// Sends the request `build` makes, retrying per `options` while `transient(status)` says so
/// (and a refused connection when `refused` says so). Returns the last response, transient or
/// not, once retrying stops.
pub(crate) async fn send_with_retry(
    options: &RetryOptions,
    transient: fn(StatusCode) -> bool,
    refused_means: Refused,
    build: impl Fn() -> reqwest::RequestBuilder,
) -> Result<Reply, NoResponse> {
    let start = Instant::now();
    let mut retries = 0u32;
    let mut sent = Vec::new();
    loop {
        let attempt = async {
            let (client, request) = build().build_split();
            let request = request?;
            sent = sent_secrets(&request);
            let response = client.execute(request).await?;
            let status = response.status();
            if status.is_redirection() {
                return Err(Attempt::Unusable(Unusable::Redirect(status)));
            }
            let headers = response.headers().clone();
            let body = read_bounded(response, BODY_LIMIT)
                .await
                .map_err(|e| match e {
                    BodyError::Http(e) => Attempt::Failed(e),
                    BodyError::TooLarge { limit } => Attempt::Unusable(Unusable::TooLarge(limit)),
                })?;
            Ok::<_, Attempt>((status, headers, body))
        }
        .await;
        let elapsed = start.elapsed();
        let attempt = match attempt {
            Err(Attempt::Unusable(unusable)) => {
                return Err(NoResponse {
                    refused: false,
                    timed_out: false,
                    detail: String::new(),
                    attempts: retries + 1,
                    elapsed,
                    unusable: Some(unusable),
                });
            }
            Err(Attempt::Failed(e)) => Err(e),
            Ok(answer) => Ok(answer),
        };
        match attempt {
            Ok((status, headers, body)) => {
                let delay = if transient(status) {
                    options.next_delay(retries, elapsed, Some(status), retry_after(&headers))
                } else {
                    None
                };
                match delay {
                    Some(delay) => {
                        tracing::debug!(
                            status = status.as_u16(),
                            retry = retries + 1,
                            delay_ms = delay.as_millis() as u64,
                            "transient response from the token endpoint; retrying"
                        );
                        tokio::time::sleep(delay).await;
                    }
                    None => {
                        return Ok(Reply {
                            status,
                            headers,
                            body,
                            attempts: retries + 1,
                            elapsed,
                            sent,
                        });
                    }
                }
            }
            Err(error) => {
                // reqwest's text names the full URL, query included (resource, client id,
                // api-version): drop it so neither the debug log nor the message carries it.
                let error = error.without_url();
                let refused = is_connection_refused(&error);
                let timed_out = error.is_timeout();
                // A server whose certificate we reject will not change its mind.
                let rejected = is_tls_rejection(&error);
                let retryable = !rejected && (!refused || refused_means == Refused::Retry);
                let delay = if options.retry_connection_errors && retryable {
                    options.next_delay(retries, elapsed, None, None)
                } else {
                    None
                };
                match delay {
                    Some(delay) => {
                        tracing::debug!(
                            retry = retries + 1,
                            delay_ms = delay.as_millis() as u64,
                            error = %error,
                            "no response from the token endpoint; retrying"
                        );
                        tokio::time::sleep(delay).await;
                    }
                    None => {
                        return Err(NoResponse {
                            refused,
                            timed_out,
                            detail: error_chain(&error),
                            attempts: retries + 1,
                            elapsed,
                            unusable: None,
                        });
                    }
                }
            }
        }
        retries += 1;
    }
}

fn is_connection_refused(error: &reqwest::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(err) = source {
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::ConnectionRefused
        {
            return true;
        }
        source = err.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[tokio::test]
    async fn connection_failures_never_name_the_query() {
        // A port nothing listens on: the connection is refused at once.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = closed.local_addr().unwrap();
        drop(closed);
        let url = format!("http://{addr}/msi/token?resource=QUERY-RESOURCE&client_id=QUERY-ID");
        let client = reqwest::Client::new();
        let failure = send_with_retry(
            &RetryOptions::none(),
            imds_transient,
            Refused::Retry,
            || client.get(&url),
        )
        .await
        .err()
        .unwrap();
        assert!(failure.refused, "{}", failure.detail);
        assert!(!failure.detail.contains("QUERY-"), "{}", failure.detail);
        assert!(!failure.detail.contains("msi/token"), "{}", failure.detail);
    }

    fn schedule(options: &RetryOptions, status: StatusCode) -> Vec<u64> {
        // Attempts take no time; returns the start time of every attempt.
        let mut at = Duration::ZERO;
        let mut starts = vec![0];
        let mut retries = 0;
        while let Some(delay) = options.next_delay(retries, at, Some(status), None) {
            at += delay;
            starts.push(at.as_secs());
            retries += 1;
        }
        starts
    }

    #[test]
    fn imds_backoff_follows_the_documented_schedule() {
        assert_eq!(
            schedule(&RetryOptions::imds(), StatusCode::TOO_MANY_REQUESTS),
            [0, 2, 6, 14, 30, 62]
        );
    }

    #[test]
    fn gone_is_retried_for_at_least_seventy_seconds() {
        let starts = schedule(&RetryOptions::imds(), StatusCode::GONE);
        assert!(*starts.last().unwrap() >= 70, "{starts:?}");
        assert!(*starts.last().unwrap() <= 80, "{starts:?}");
        assert_eq!(starts, [0, 2, 6, 14, 30, 62, 80]);
    }

    #[test]
    fn the_budget_caps_everything() {
        let options = RetryOptions::imds().with_max_elapsed(S(10));
        assert_eq!(schedule(&options, StatusCode::GONE), [0, 2, 6, 10]);
        assert_eq!(schedule(&RetryOptions::none(), StatusCode::GONE), [0]);
    }

    #[test]
    fn retry_after_is_honoured_when_longer_and_refused_beyond_the_budget() {
        let options = RetryOptions::imds();
        assert_eq!(
            options.next_delay(0, S(0), Some(StatusCode::TOO_MANY_REQUESTS), Some(S(5))),
            Some(S(5))
        );
        assert_eq!(
            options.next_delay(0, S(0), Some(StatusCode::TOO_MANY_REQUESTS), Some(S(1))),
            Some(S(2))
        );
        assert_eq!(
            options.next_delay(0, S(0), Some(StatusCode::TOO_MANY_REQUESTS), Some(S(600))),
            None
        );
    }

    #[test]
    fn imds_transient_statuses() {
        for s in [404, 410, 429, 500, 503, 511] {
            assert!(imds_transient(StatusCode::from_u16(s).unwrap()), "{s}");
        }
        for s in [200, 400, 401, 403] {
            assert!(!imds_transient(StatusCode::from_u16(s).unwrap()), "{s}");
        }
    }
}
