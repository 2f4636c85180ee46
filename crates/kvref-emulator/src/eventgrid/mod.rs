//! The emulator plays Azure Event Grid for its vaults' system topics: subscriptions (from the
//! configuration, the control API or [`crate::Emulator::add_subscription`]) validated by the
//! real handshakes, and on every new secret version a `Microsoft.KeyVault.SecretNewVersionCreated`
//! delivery to each matching subscription, from a background task, over real HTTP(S), with
//! Event Grid's retry rules on compressed timings. Every attempt goes to the journal.

mod api;
mod config;
mod delivery;
mod handshake;
mod retry;
mod send;
mod subscription;

use std::sync::{Arc, Mutex, Weak};

use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

pub(crate) use self::api::handle;
pub(crate) use self::config::{EventGridConfig, RawEventGrid, validate as validate_config};
pub use self::delivery::EVENT_GRID_APP_ID;
pub(crate) use self::delivery::SecretEvent;
pub use self::subscription::{
    AuthInfo, KEY_VAULT_EVENT_TYPES, Schema, Subscription, SubscriptionAuth, SubscriptionInfo,
};

use self::retry::{RetryPolicy, Verdict, judge};
use crate::state::{Shared, lock};

/// `Microsoft.KeyVault.SecretNewVersionCreated`.
pub(crate) const NEW_VERSION: &str = "Microsoft.KeyVault.SecretNewVersionCreated";

/// What the journal says of one Event Grid request (its entry's endpoint is `eventgrid`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DeliveryAttempt {
    /// The subscription's name.
    pub subscription: String,
    /// 1 for the first attempt (`aeg-delivery-count` is this minus one).
    pub attempt: u32,
    /// The event's id (empty for a handshake).
    pub event_id: String,
    /// `Notification`, `SubscriptionValidation`, or `Handshake` (the CloudEvents `OPTIONS`).
    pub event_type: String,
    /// What followed the answer.
    pub outcome: Outcome,
    /// Why there was no answer (connection failed, timed out), when there was none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// How an attempt ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Answered 200-204: delivered.
    Delivered,
    /// Answered 5xx, 408, 429, another code, or not at all: tried again later.
    Retrying,
    /// Answered 400, 401, 403 or 413: dead-lettered, not retried.
    DeadLettered,
    /// The last allowed attempt failed: given up.
    GaveUp,
    /// The handshake passed: the subscription exists.
    Validated,
    /// The handshake failed: the subscription was not created.
    Refused,
}

/// A subscription could not be created: the status the control API answers and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
#[non_exhaustive]
pub struct SubscriptionError {
    /// 400 (invalid, or the handshake failed) or 409 (the name is taken).
    pub status: u16,
    /// Which step failed and what the endpoint answered; no secret value.
    pub message: String,
}

/// The emulated Event Grid of one emulator.
pub(crate) struct EventGrid {
    policy: RetryPolicy,
    subscriptions: Mutex<Vec<Subscription>>,
    client: reqwest::Client,
    /// Deliveries under way (counted before their task starts, so a waiter never misses one).
    in_flight: watch::Sender<usize>,
    cancel: CancellationToken,
    shared: Weak<Shared>,
}

/// Counts one delivery under way until dropped.
struct InFlight(watch::Sender<usize>);

impl InFlight {
    fn start(counter: &watch::Sender<usize>) -> Self {
        counter.send_modify(|n| *n += 1);
        Self(counter.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

impl EventGrid {
    /// The HTTP client deliveries go out with, trusting the emulator's CA `ca_pem` (and the
    /// system's); plain http only where a subscription allows it (127.0.0.1, localhost). No
    /// redirects and no proxy: Event Grid follows neither.
    pub(crate) fn client(ca_pem: &str) -> Result<reqwest::Client, String> {
        let certificate = reqwest::Certificate::from_pem(ca_pem.as_bytes())
            .map_err(|e| format!("Event Grid client: the CA: {e}"))?;
        reqwest::Client::builder()
            .tls_certs_merge([certificate])
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .map_err(|e| format!("Event Grid client: {e}"))
    }

    /// The Event Grid of one emulator; it stops delivering when `cancel` is cancelled.
    pub(crate) fn new(
        config: &EventGridConfig,
        client: reqwest::Client,
        cancel: CancellationToken,
        shared: Weak<Shared>,
    ) -> Self {
        Self {
            policy: config.policy.clone(),
            subscriptions: Mutex::new(config.subscriptions.clone()),
            client,
            in_flight: watch::channel(0).0,
            cancel,
            shared,
        }
    }

    /// The subscriptions, without secret values.
    pub(crate) fn list(&self) -> Vec<SubscriptionInfo> {
        lock(&self.subscriptions)
            .iter()
            .map(Subscription::info)
            .collect()
    }

    /// Removes the subscription named `name` (ignoring case); whether there was one.
    pub(crate) fn remove(&self, name: &str) -> bool {
        let mut subscriptions = lock(&self.subscriptions);
        let before = subscriptions.len();
        subscriptions.retain(|s| !s.name.eq_ignore_ascii_case(name));
        subscriptions.len() != before
    }

    fn taken(&self, name: &str) -> bool {
        lock(&self.subscriptions)
            .iter()
            .any(|s| s.name.eq_ignore_ascii_case(name))
    }

    /// Checks `subscription`, runs its handshake, and adds it once the subscriber passed.
    pub(crate) async fn add(
        &self,
        shared: &Shared,
        subscription: Subscription,
    ) -> Result<SubscriptionInfo, SubscriptionError> {
        let refuse = |status, message| SubscriptionError { status, message };
        subscription.check().map_err(|m| refuse(400, m))?;
        let conflict = || {
            refuse(
                409,
                format!(
                    "a subscription named {} exists; DELETE /_emulator/eventgrid/subscriptions/{} first",
                    subscription.name, subscription.name
                ),
            )
        };
        if self.taken(&subscription.name) {
            return Err(conflict());
        }
        let (exchange, verdict) = handshake::run(
            &self.client,
            &subscription,
            shared.tenant_id(),
            self.policy.timeout,
        )
        .await;
        let outcome = match verdict {
            Ok(()) => Outcome::Validated,
            Err(_) => Outcome::Refused,
        };
        if let Some((request, answer)) = &exchange {
            shared.record(send::journal_entry(
                &subscription,
                request,
                answer,
                1,
                outcome,
            ));
        }
        if let Err(refusal) = verdict {
            tracing::info!(subscription = %subscription.name, "eventgrid: {}", refusal.0);
            return Err(refuse(400, refusal.0));
        }
        let info = subscription.info();
        let mut subscriptions = lock(&self.subscriptions);
        if subscriptions
            .iter()
            .any(|s| s.name.eq_ignore_ascii_case(&subscription.name))
        {
            return Err(conflict());
        }
        subscriptions.push(subscription);
        tracing::info!(subscription = %info.name, "eventgrid: subscription validated and created");
        Ok(info)
    }

    /// Delivers `event` to every subscription that wants its type, each from its own task;
    /// returns at once. Outside a tokio runtime nothing is delivered (and that is logged).
    pub(crate) fn publish(&self, event: SecretEvent) {
        let targets: Vec<Subscription> = lock(&self.subscriptions)
            .iter()
            .filter(|s| s.wants(event.event_type))
            .cloned()
            .collect();
        if targets.is_empty() {
            return;
        }
        let (Some(shared), Ok(runtime)) =
            (self.shared.upgrade(), tokio::runtime::Handle::try_current())
        else {
            tracing::warn!("eventgrid: no runtime to deliver on; the event is dropped");
            return;
        };
        for subscription in targets {
            let in_flight = InFlight::start(&self.in_flight);
            let shared = shared.clone();
            let event = event.clone();
            runtime.spawn(async move {
                let _in_flight = in_flight;
                let grid = &shared.eventgrid;
                tokio::select! {
                    () = grid.cancel.cancelled() => {}
                    () = grid.deliver(&shared, &subscription, &event) => {}
                }
            });
        }
    }

    /// Attempts one delivery until it is delivered, dead-lettered or out of attempts.
    async fn deliver(&self, shared: &Shared, subscription: &Subscription, event: &SecretEvent) {
        let body = event.body(subscription.schema).to_string();
        let url = match subscription.url() {
            Ok(url) => url,
            Err(message) => {
                tracing::warn!(subscription = %subscription.name, "eventgrid: {message}");
                return;
            }
        };
        for attempt in 1..=self.policy.max_attempts.max(1) {
            if attempt > 1 {
                tokio::time::sleep(self.policy.delay_before(attempt)).await;
            }
            let mut headers: Vec<(String, String)> =
                delivery::notification_headers(subscription, &event.id, attempt)
                    .into_iter()
                    .map(|(name, value)| (name.to_owned(), value))
                    .collect();
            let answer = match delivery::credential(subscription, shared.tenant_id()) {
                Ok(credential) => {
                    headers.extend(credential);
                    None
                }
                Err(message) => Some(send::Answer::none(message)),
            };
            let request = send::Request {
                method: http::Method::POST,
                url: url.clone(),
                headers,
                body: body.clone(),
                event_id: event.id.clone(),
                event_type: "Notification",
                validation_code: None,
            };
            let answer = match answer {
                Some(failed) => failed,
                None => send::send(&self.client, &request, self.policy.timeout).await,
            };
            let outcome = match judge(answer.status) {
                Verdict::Delivered => Outcome::Delivered,
                Verdict::DeadLetter => Outcome::DeadLettered,
                Verdict::Retry if attempt >= self.policy.max_attempts => Outcome::GaveUp,
                Verdict::Retry => Outcome::Retrying,
            };
            shared.record(send::journal_entry(
                subscription,
                &request,
                &answer,
                attempt,
                outcome,
            ));
            tracing::debug!(
                subscription = %subscription.name,
                attempt,
                status = answer.status.unwrap_or(0),
                ?outcome,
                "eventgrid: delivery attempt",
            );
            if outcome != Outcome::Retrying {
                return;
            }
        }
    }

    /// Waits until no delivery is under way (each delivered, dead-lettered or given up).
    pub(crate) async fn settled(&self) {
        let mut in_flight = self.in_flight.subscribe();
        // The sender lives as long as `self`: an error cannot happen while we borrow it.
        let _ = in_flight.wait_for(|n| *n == 0).await;
    }
}

/// Publishes `SecretNewVersionCreated` for the latest version of `name` in `vault`, if any.
pub(crate) fn new_version(shared: &Shared, vault: &crate::store::Vault, name: &str) {
    let Some(secret) = vault.secret(name) else {
        return;
    };
    let Some(version) = secret.latest() else {
        return;
    };
    shared
        .eventgrid
        .publish(SecretEvent::new(NEW_VERSION, vault, &secret.name, version));
}

/// Shared by the emulator's handle: the journal's entries that are Event Grid's.
pub(crate) fn journal(shared: &Arc<Shared>) -> Vec<crate::JournalEntry> {
    lock(&shared.journal)
        .iter()
        .filter(|e| e.endpoint == crate::Endpoint::EventGrid)
        .cloned()
        .collect()
}
