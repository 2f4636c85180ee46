//! One request to Key Vault with retries: honours Retry-After within the time budget, refuses
//! redirects, reads a bounded body and turns transport failures into [`VaultError`]s. Each
//! attempt waits for its turn under the vault's request limit (`transport::pacing`), goes over
//! the lane the resolver chose for it ([`on_lane`]), and tells the transport which protocol the
//! vault answered with.

use std::future::Future;

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, HeaderMap};
use tokio::time::Instant;
use zeroize::Zeroizing;

use super::client::SecretClient;
use super::error::{VaultError, VaultErrorKind};
use crate::retry::{is_transient_status, retry_after};
use crate::transport::{
    BODY_LIMIT, BodyError, error_chain, is_tls_rejection, read_bounded, redirect_refused, too_large,
};

tokio::task_local! {
    /// The connection lane of the vault the requests of the current fetch go over.
    static LANE: usize;
}

/// Runs `fetch` with its requests on `lane` of their vault (lane 0 when not set). A task-local
/// rather than a parameter: the lane concerns only how requests travel, not what is fetched.
pub(crate) fn on_lane<F: Future>(lane: usize, fetch: F) -> impl Future<Output = F::Output> {
    LANE.scope(lane, fetch)
}

/// One complete answer from Key Vault (the body is wiped from memory when dropped).
pub(super) struct Answer {
    pub(super) status: StatusCode,
    pub(super) headers: HeaderMap,
    pub(super) body: Zeroizing<Vec<u8>>,
}

impl SecretClient {
    /// Sends one GET (with retries) and reads the whole answer. When the budget runs out while
    /// Key Vault's last answer was 429, that answer is the result: the vault did answer, it
    /// kept throttling, and the caller should hear so rather than "did not answer in time".
    pub(super) async fn send(
        &self,
        url: &reqwest::Url,
        token: Option<&str>,
        deadline: Instant,
    ) -> Result<Answer, VaultError> {
        let policy = self.inner.retry;
        let transport = &self.inner.transport;
        let host = url.host_str().unwrap_or_default();
        let http = transport.vault_lane(LANE.try_with(|lane| *lane).unwrap_or(0));
        let span = tracing::Span::current();
        let mut retry = 0u32;
        let mut throttled: Option<Answer> = None;
        loop {
            match transport.book_departure(host, deadline) {
                // Most requests may go at once: no timer for them (a timer is registered even
                // for an instant that has passed).
                Ok(at) if at > Instant::now() => tokio::time::sleep_until(at).await,
                Ok(_) => {}
                Err(_) => return throttled.ok_or_else(|| out_of_turns(transport, host)),
            }
            span.record("attempt", retry + 1);
            let mut request = http.get(url.clone()).header(ACCEPT, "application/json");
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            let outcome = tokio::time::timeout_at(deadline, async {
                let mut response = request.send().await.map_err(Failure::Http)?;
                transport.note_protocol(host, response.version());
                let status = response.status();
                if status.is_redirection() {
                    // Never followed (see `transport`): the vault must answer itself.
                    return Err(Failure::Final(redirected(url, status)));
                }
                // Taken, not copied: the body is read from the response, not its headers.
                let headers = std::mem::take(response.headers_mut());
                let body = read_bounded(response, BODY_LIMIT)
                    .await
                    .map_err(|e| match e {
                        BodyError::Http(e) => Failure::Http(e),
                        BodyError::TooLarge { limit } => Failure::Final(oversized(url, limit)),
                    })?;
                Ok::<_, Failure>(Answer {
                    status,
                    headers,
                    body,
                })
            })
            .await;
            let (hint, failure) = match outcome {
                Err(_) => {
                    return throttled.ok_or_else(|| {
                        VaultError::new(
                            VaultErrorKind::TimedOut,
                            "the time budget ran out waiting for Key Vault",
                        )
                    });
                }
                Ok(Ok(answer)) => {
                    span.record("status", answer.status.as_u16());
                    tracing::debug!(
                        status = answer.status.as_u16(),
                        attempt = retry + 1,
                        "Key Vault answered"
                    );
                    if !is_transient_status(answer.status) {
                        return Ok(answer);
                    }
                    (retry_after(&answer.headers), Ok(answer))
                }
                Ok(Err(Failure::Final(error))) => return Err(error),
                Ok(Err(Failure::Http(e))) => {
                    tracing::debug!(attempt = retry + 1, error = %error_chain(&e), "request to Key Vault failed");
                    if is_tls_rejection(&e) {
                        // A certificate we do not accept will not change on a retry.
                        return Err(transport_error(&e, false));
                    }
                    (None, Err(e))
                }
            };
            let delay = policy.delay(retry, hint);
            let out_of_tries = retry >= policy.max_retries();
            let out_of_time = Instant::now() + delay >= deadline;
            match failure {
                Ok(answer) if out_of_tries || out_of_time => return Ok(answer),
                Ok(answer) => {
                    throttled = (answer.status == StatusCode::TOO_MANY_REQUESTS).then_some(answer);
                }
                Err(e) if out_of_time && !out_of_tries => {
                    return throttled.ok_or_else(|| transport_error(&e, true));
                }
                Err(e) if out_of_tries => return Err(transport_error(&e, false)),
                Err(_) => {}
            }
            tokio::time::sleep(delay).await;
            retry += 1;
        }
    }
}

/// Why one attempt gave no answer to look at.
enum Failure {
    /// The request failed; maybe transient.
    Http(reqwest::Error),
    /// An answer kvref refuses unread (a redirect, an oversized body); never retried.
    Final(VaultError),
}

/// The budget ends before the vault's request limit lets the next request go.
fn out_of_turns(transport: &crate::transport::HttpTransport, host: &str) -> VaultError {
    let limit = match transport.vault_request_limit() {
        Some(limit) => format!(
            "{} requests per {} s",
            limit.requests,
            limit.window.as_secs_f64()
        ),
        None => "its request limit".to_owned(),
    };
    VaultError::new(
        VaultErrorKind::TimedOut,
        format!(
            "the time budget runs out before Key Vault {host}'s request limit ({limit}) lets \
             this request go; raise the budget or spread the secrets over more vaults"
        ),
    )
}

/// A 3xx from the vault, as an invalid response naming the host and the status.
fn redirected(url: &reqwest::Url, status: StatusCode) -> VaultError {
    VaultError::new(
        VaultErrorKind::InvalidResponse,
        redirect_refused("Key Vault", url, status),
    )
    .with_status(status.as_u16())
}

/// A body over the limit, as an invalid response naming the host and the limit.
fn oversized(url: &reqwest::Url, limit: usize) -> VaultError {
    VaultError::new(
        VaultErrorKind::InvalidResponse,
        format!(
            "Key Vault {} sent an {}; a secret is at most 25 KB",
            url.host_str().unwrap_or("(no host)"),
            too_large(limit)
        ),
    )
}

fn transport_error(e: &reqwest::Error, budget_exhausted: bool) -> VaultError {
    let detail = error_chain(e);
    if e.is_timeout() || budget_exhausted && !e.is_connect() {
        VaultError::new(
            VaultErrorKind::TimedOut,
            format!("Key Vault did not answer in time: {detail}"),
        )
    } else if e.is_connect() {
        VaultError::new(
            VaultErrorKind::Unreachable,
            format!("cannot reach the vault: {detail}"),
        )
    } else {
        VaultError::new(
            VaultErrorKind::ConnectionFailed,
            format!("the connection to the vault kept failing: {detail}"),
        )
    }
}
