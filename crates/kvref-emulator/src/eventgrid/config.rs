//! The `[eventgrid]` section of the configuration: retry timings and the subscriptions that
//! exist from the start (created before the emulator started, so no handshake is run for them).
//!
//! ```toml
//! [eventgrid]
//! retry_delays_ms = [10, 30, 60]   # before the 2nd, 3rd, 4th… attempt; the last repeats
//! timeout_ms = 30000               # how long an attempt waits for an answer
//! max_attempts = 30
//!
//! [[eventgrid.subscriptions]]
//! name = "kvref-app"
//! endpoint = "http://127.0.0.1:8080/events"
//! schema = "eventgrid"             # or "cloudevents"
//! auth = { shared_secret = { header = "x-kvref-secret", value = "…" } }
//! event_types = ["Microsoft.KeyVault.SecretNewVersionCreated"]
//! ```

use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::Subscription;
use super::retry::RetryPolicy;
use super::subscription::{Schema, SubscriptionAuth};
use crate::config::{ConfigError, EmulatorConfig};

/// The validated section.
#[derive(Clone, Debug, Default)]
pub(crate) struct EventGridConfig {
    pub(crate) policy: RetryPolicy,
    pub(crate) subscriptions: Vec<Subscription>,
}

/// The section as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEventGrid {
    #[serde(default)]
    retry_delays_ms: Option<Vec<u64>>,
    #[serde(default)]
    timeout_ms: Option<Spanned<u64>>,
    #[serde(default)]
    max_attempts: Option<Spanned<u32>>,
    #[serde(default)]
    subscriptions: Vec<RawSubscription>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSubscription {
    name: Spanned<String>,
    endpoint: String,
    #[serde(default)]
    schema: Schema,
    #[serde(default)]
    auth: Option<SubscriptionAuth>,
    #[serde(default)]
    event_types: Vec<String>,
}

/// Checks the section; errors name the line of `source` they come from.
pub(crate) fn validate(
    source: &str,
    raw: Option<RawEventGrid>,
) -> Result<EventGridConfig, ConfigError> {
    let Some(raw) = raw else {
        return Ok(EventGridConfig::default());
    };
    let mut policy = RetryPolicy::default();
    if let Some(delays) = raw.retry_delays_ms {
        policy.delays = delays.into_iter().map(Duration::from_millis).collect();
    }
    if let Some(timeout) = raw.timeout_ms {
        if *timeout.get_ref() == 0 {
            return Err(ConfigError::at(
                source,
                timeout.span().start,
                "eventgrid.timeout_ms must be at least 1",
            ));
        }
        policy.timeout = Duration::from_millis(*timeout.get_ref());
    }
    if let Some(max) = raw.max_attempts {
        if !(1..=30).contains(max.get_ref()) {
            return Err(ConfigError::at(
                source,
                max.span().start,
                "eventgrid.max_attempts must be 1-30 (Event Grid's range)",
            ));
        }
        policy.max_attempts = *max.get_ref();
    }
    let mut subscriptions: Vec<Subscription> = Vec::new();
    for raw in raw.subscriptions {
        let span = raw.name.span();
        let subscription = Subscription {
            name: raw.name.into_inner(),
            endpoint: raw.endpoint,
            schema: raw.schema,
            auth: raw.auth,
            event_types: raw.event_types,
        };
        if let Err(message) = subscription.check() {
            return Err(ConfigError::at(source, span.start, message));
        }
        if subscriptions
            .iter()
            .any(|s| s.name.eq_ignore_ascii_case(&subscription.name))
        {
            return Err(ConfigError::at(
                source,
                span.start,
                format!("duplicate Event Grid subscription {:?}", subscription.name),
            ));
        }
        subscriptions.push(subscription);
    }
    Ok(EventGridConfig {
        policy,
        subscriptions,
    })
}

impl EmulatorConfig {
    /// Event Grid's waits before the 2nd, 3rd, … delivery attempt (the last one repeats;
    /// default Azure's schedule with milliseconds for seconds: 10, 30, 60, 300, … ms).
    pub fn with_eventgrid_retry_delays(
        mut self,
        delays: impl IntoIterator<Item = Duration>,
    ) -> Self {
        self.eventgrid.policy.delays = delays.into_iter().collect();
        self
    }

    /// How long a delivery attempt waits for the subscriber's answer (default 30 s, as Azure).
    pub fn with_eventgrid_timeout(mut self, timeout: Duration) -> Self {
        self.eventgrid.policy.timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// How many attempts a delivery gets at most (default 30, as Azure; at least 1).
    pub fn with_eventgrid_max_attempts(mut self, attempts: u32) -> Self {
        self.eventgrid.policy.max_attempts = attempts.max(1);
        self
    }
}
