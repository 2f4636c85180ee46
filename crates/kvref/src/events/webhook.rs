//! The webhook, framework-agnostic: a request (method, URI, headers, body) in, a response
//! (status, headers, body) out. Mount it in any HTTP server; the order is fixed: handshake
//! (`OPTIONS`), method, authentication (401 and nothing else done), size and shape, the
//! validation answer, then the events handed to the [`PushTarget`].

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use http::header::{ALLOW, CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderValue, Method, Request, Response, StatusCode};

use super::auth::{Authenticator, EntraAuth, SharedSecret, Verdict, check_any};
use super::origin::{self, EVENT_GRID_ORIGINS};
use super::{DEFAULT_MAX_BODY, Delivery, EventsError, PushTarget, parse_with_limit};

/// Counts of what the webhook answered, for health reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WebhookStats {
    /// Deliveries taken (events handed on, validations answered).
    pub accepted: u64,
    /// Deliveries refused with 401: no or wrong credentials.
    pub rejected: u64,
    /// Deliveries refused as malformed, too large or not JSON (400, 413, 415).
    pub malformed: u64,
    /// Deliveries answered 503: the target or Entra's keys were unavailable.
    pub unavailable: u64,
}

#[derive(Default)]
struct Counters {
    accepted: AtomicU64,
    rejected: AtomicU64,
    malformed: AtomicU64,
    unavailable: AtomicU64,
}

/// Why a [`WebhookBuilder`] refused to build.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct WebhookError(String);

/// Configures a [`Webhook`]; made by [`Webhook::builder`].
pub struct WebhookBuilder {
    target: Arc<dyn PushTarget>,
    authenticators: Vec<Authenticator>,
    insecure: bool,
    origins: Vec<String>,
    max_body: usize,
}

impl fmt::Debug for WebhookBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookBuilder")
            .field("authenticators", &self.authenticators)
            .field("insecure", &self.insecure)
            .field("origins", &self.origins)
            .field("max_body", &self.max_body)
            .finish_non_exhaustive()
    }
}

impl WebhookBuilder {
    /// Accepts deliveries that carry this shared secret.
    pub fn shared_secret(mut self, secret: SharedSecret) -> Self {
        self.authenticators
            .push(Authenticator::SharedSecret(secret));
        self
    }

    /// Accepts deliveries with a valid Entra bearer token (Entra protected delivery).
    pub fn entra(mut self, entra: EntraAuth) -> Self {
        self.authenticators
            .push(Authenticator::Entra(Arc::new(entra)));
        self
    }

    /// Accepts deliveries without any credential. Only behind a gateway that authenticates
    /// them itself: anyone who can reach the endpoint could otherwise make the app read its
    /// vault.
    pub fn insecure_without_authentication(mut self) -> Self {
        self.insecure = true;
        self
    }

    /// The origins the CloudEvents handshake consents to (default `eventgrid.azure.net`; see
    /// [`EVENT_GRID_ORIGINS`] for the other clouds').
    pub fn allowed_origins(mut self, origins: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.origins = origins.into_iter().map(Into::into).collect();
        self
    }

    /// The largest body accepted (default 1 MiB); a larger one is answered 413.
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// Builds; refuses a webhook with no authentication unless
    /// [`insecure_without_authentication`](Self::insecure_without_authentication) was asked.
    pub fn build(self) -> Result<Webhook, WebhookError> {
        let usable = self.authenticators.iter().any(|a| match a {
            Authenticator::SharedSecret(s) => !s.is_empty(),
            Authenticator::Entra(_) => true,
        });
        if !usable && !self.insecure {
            return Err(WebhookError("the Event Grid webhook has no authentication: configure Entra protected delivery (.entra) or a shared secret (.shared_secret) with a non-empty value".into()));
        }
        Ok(Webhook {
            target: self.target,
            authenticators: self.authenticators,
            origins: self.origins,
            max_body: self.max_body,
            counters: Arc::new(Counters::default()),
        })
    }
}

/// Receives Event Grid deliveries for a [`PushTarget`] (a [`Live`](crate::live::Live)).
/// Cheap to clone; clones share the counters and Entra's key cache.
#[derive(Clone)]
pub struct Webhook {
    target: Arc<dyn PushTarget>,
    authenticators: Vec<Authenticator>,
    origins: Vec<String>,
    max_body: usize,
    counters: Arc<Counters>,
}

impl fmt::Debug for Webhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Webhook")
            .field("authenticators", &self.authenticators)
            .field("origins", &self.origins)
            .field("max_body", &self.max_body)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Webhook {
    /// A webhook that hands events to `target`, with the default origins and body limit; it
    /// needs an authentication before it builds.
    pub fn builder(target: impl PushTarget + 'static) -> WebhookBuilder {
        WebhookBuilder {
            target: Arc::new(target),
            authenticators: Vec::new(),
            insecure: false,
            origins: vec![EVENT_GRID_ORIGINS[0].to_owned()],
            max_body: DEFAULT_MAX_BODY,
        }
    }

    /// The largest body it accepts: a server should stop reading there (and may answer 413).
    pub fn max_body(&self) -> usize {
        self.max_body
    }

    /// What it has answered so far.
    pub fn stats(&self) -> WebhookStats {
        let c = &self.counters;
        WebhookStats {
            accepted: c.accepted.load(Ordering::Relaxed),
            rejected: c.rejected.load(Ordering::Relaxed),
            malformed: c.malformed.load(Ordering::Relaxed),
            unavailable: c.unavailable.load(Ordering::Relaxed),
        }
    }

    /// Answers one request. Event Grid reads the status: 200 taken, 401 refused (not retried),
    /// 503 not now (retried), 400/413/415 malformed (not retried).
    pub async fn handle<B: AsRef<[u8]>>(&self, request: &Request<B>) -> Response<Vec<u8>> {
        if request.method() == Method::OPTIONS {
            return origin::answer(&self.origins, request.headers());
        }
        if request.method() != Method::POST {
            let mut response = answer(StatusCode::METHOD_NOT_ALLOWED, Vec::new());
            response
                .headers_mut()
                .insert(ALLOW, HeaderValue::from_static("POST, OPTIONS"));
            return response;
        }
        if !self.authenticators.is_empty() {
            match check_any(&self.authenticators, request).await {
                Verdict::Accepted => {}
                Verdict::Rejected(reason) => {
                    self.counters.rejected.fetch_add(1, Ordering::Relaxed);
                    // debug, not warn: a flood of forged requests must not flood the log.
                    tracing::debug!(%reason, "kvref events: delivery refused (401)");
                    return answer(StatusCode::UNAUTHORIZED, Vec::new());
                }
                Verdict::Unavailable(reason) => {
                    self.counters.unavailable.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(%reason, "kvref events: delivery not authenticated now (503)");
                    return retry_later();
                }
            }
        }
        let delivery =
            match parse_with_limit(request.headers(), request.body().as_ref(), self.max_body) {
                Ok(delivery) => delivery,
                Err(error) => {
                    self.counters.malformed.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(%error, "kvref events: delivery refused");
                    let status = match error {
                        EventsError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
                        EventsError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
                        _ => StatusCode::BAD_REQUEST,
                    };
                    return answer(status, Vec::new());
                }
            };
        match delivery {
            Delivery::Validation { code, url } => {
                self.counters.accepted.fetch_add(1, Ordering::Relaxed);
                let Some(code) = code else {
                    // The URL holds a one-time token: only where it points is logged.
                    let at = url
                        .and_then(|u| url::Url::parse(&u).ok())
                        .map(|u| format!("{}{}", u.host_str().unwrap_or_default(), u.path()));
                    tracing::warn!(
                        at,
                        "kvref events: validation without a code; open the validationUrl (GET) to finish it"
                    );
                    return answer(StatusCode::OK, Vec::new());
                };
                tracing::info!("kvref events: Event Grid subscription validated");
                let body = serde_json::json!({ "validationResponse": code }).to_string();
                let mut response = answer(StatusCode::OK, body.into_bytes());
                response
                    .headers_mut()
                    .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                response
            }
            Delivery::SubscriptionDeletion => {
                self.counters.accepted.fetch_add(1, Ordering::Relaxed);
                tracing::info!("kvref events: Event Grid subscription deleted");
                answer(StatusCode::OK, Vec::new())
            }
            Delivery::Events(events) => match self.target.push(&events) {
                Ok(pushed) => {
                    self.counters.accepted.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(?pushed, "kvref events: delivery taken");
                    answer(StatusCode::OK, Vec::new())
                }
                Err(error) => {
                    self.counters.unavailable.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(%error, "kvref events: delivery not taken now (503)");
                    retry_later()
                }
            },
        }
    }
}

fn answer(status: StatusCode, body: Vec<u8>) -> Response<Vec<u8>> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response
}

/// 503 with `Retry-After`: Event Grid retries 503 after 30 seconds or more.
fn retry_later() -> Response<Vec<u8>> {
    let mut response = answer(StatusCode::SERVICE_UNAVAILABLE, Vec::new());
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from_static("30"));
    response
}
