//! Event subscriptions: where the emulated Event Grid delivers, in which schema, with which
//! credential, and for which event types. The same fields in the configuration file
//! (`[[eventgrid.subscriptions]]`), the control API and [`crate::Emulator::add_subscription`].

use std::fmt;

use serde::{Deserialize, Serialize};

/// The event types a Key Vault system topic publishes (the ones a subscription may name).
pub const KEY_VAULT_EVENT_TYPES: [&str; 10] = [
    "Microsoft.KeyVault.SecretNewVersionCreated",
    "Microsoft.KeyVault.SecretNearExpiry",
    "Microsoft.KeyVault.SecretExpired",
    "Microsoft.KeyVault.KeyNewVersionCreated",
    "Microsoft.KeyVault.KeyNearExpiry",
    "Microsoft.KeyVault.KeyExpired",
    "Microsoft.KeyVault.CertificateNewVersionCreated",
    "Microsoft.KeyVault.CertificateNearExpiry",
    "Microsoft.KeyVault.CertificateExpired",
    "Microsoft.KeyVault.VaultAccessPolicyChanged",
];

/// The delivery schema of a subscription.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Schema {
    /// The Event Grid schema: a JSON array, `application/json`, validated by a
    /// `SubscriptionValidationEvent` POST.
    #[default]
    #[serde(rename = "eventgrid")]
    EventGrid,
    /// CloudEvents 1.0, structured mode: one object, `application/cloudevents+json`, validated
    /// by the `OPTIONS` abuse-protection handshake.
    #[serde(rename = "cloudevents")]
    CloudEvents,
}

/// How deliveries prove they come from Event Grid.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum SubscriptionAuth {
    /// Microsoft Entra protected delivery: `Authorization: Bearer <JWT>` signed with the
    /// emulator's Entra key, `aud` = this application id, caller Event Grid's application.
    Entra {
        /// The webhook's application id (or App ID URI): the token's audience.
        application_id: String,
    },
    /// A static header on every request (an Event Grid delivery property).
    SharedSecret {
        /// The header's name.
        header: String,
        /// Its value.
        value: String,
    },
    /// A query parameter added to the endpoint URL.
    QuerySecret {
        /// The parameter's name.
        name: String,
        /// Its value.
        value: String,
    },
}

impl fmt::Debug for SubscriptionAuth {
    // Hand-written: secret values never reach a log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SubscriptionAuth::Entra { application_id } => f
                .debug_struct("Entra")
                .field("application_id", application_id)
                .finish(),
            SubscriptionAuth::SharedSecret { header, .. } => f
                .debug_struct("SharedSecret")
                .field("header", header)
                .finish_non_exhaustive(),
            SubscriptionAuth::QuerySecret { name, .. } => f
                .debug_struct("QuerySecret")
                .field("name", name)
                .finish_non_exhaustive(),
        }
    }
}

/// An event subscription on every vault of the emulator.
///
/// ```
/// use kvref_emulator::{Schema, Subscription, SubscriptionAuth};
///
/// let subscription = Subscription::new("kvref-sub", "http://127.0.0.1:8080/events")
///     .schema(Schema::CloudEvents)
///     .auth(SubscriptionAuth::Entra { application_id: "app-id".into() })
///     .event_types(["Microsoft.KeyVault.SecretNewVersionCreated"]);
/// assert_eq!(subscription.name, "kvref-sub");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Subscription {
    /// 3-64 letters, digits and dashes; unique (ignoring case).
    pub name: String,
    /// The webhook: an `https://` URL, or `http://` to 127.0.0.1, `localhost` or `[::1]`.
    pub endpoint: String,
    /// The delivery schema (default [`Schema::EventGrid`]).
    #[serde(default)]
    pub schema: Schema,
    /// The credential deliveries carry; none when absent.
    #[serde(default)]
    pub auth: Option<SubscriptionAuth>,
    /// The event types delivered; every type when empty.
    #[serde(default)]
    pub event_types: Vec<String>,
}

impl Subscription {
    /// A subscription in the Event Grid schema, without credential, for every event type.
    pub fn new(name: impl Into<String>, endpoint: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            endpoint: endpoint.into(),
            schema: Schema::EventGrid,
            auth: None,
            event_types: Vec::new(),
        }
    }

    /// Sets the delivery schema.
    pub fn schema(mut self, schema: Schema) -> Self {
        self.schema = schema;
        self
    }

    /// Sets the credential deliveries carry.
    pub fn auth(mut self, auth: SubscriptionAuth) -> Self {
        self.auth = Some(auth);
        self
    }

    /// Delivers only these event types.
    pub fn event_types(mut self, types: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.event_types = types.into_iter().map(Into::into).collect();
        self
    }

    /// Whether events of `event_type` go to this subscription.
    pub(crate) fn wants(&self, event_type: &str) -> bool {
        self.event_types.is_empty()
            || self
                .event_types
                .iter()
                .any(|t| t.eq_ignore_ascii_case(event_type))
    }

    /// Checks every field; the message says which one is wrong and how to fix it, and quotes
    /// no secret value.
    pub(crate) fn check(&self) -> Result<(), String> {
        let name_ok = (3..=64).contains(&self.name.len())
            && self
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !name_ok {
            return Err(format!(
                "subscription name {:?} is not valid: 3-64 letters, digits and dashes",
                self.name
            ));
        }
        let url = url::Url::parse(&self.endpoint).map_err(|e| {
            format!(
                "subscription {}: endpoint is not a URL ({e}); give the webhook's full URL, e.g. https://localhost:8443/events",
                self.name
            )
        })?;
        let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
        match url.scheme() {
            "https" => {}
            "http" if loopback => {}
            _ => {
                return Err(format!(
                    "subscription {}: endpoint must be https:// (Event Grid delivers only over HTTPS), or http:// to 127.0.0.1 or localhost",
                    self.name
                ));
            }
        }
        for event_type in &self.event_types {
            if !KEY_VAULT_EVENT_TYPES
                .iter()
                .any(|t| t.eq_ignore_ascii_case(event_type))
            {
                return Err(format!(
                    "subscription {}: event type {event_type:?} is not one a Key Vault publishes (e.g. Microsoft.KeyVault.SecretNewVersionCreated)",
                    self.name
                ));
            }
        }
        match &self.auth {
            None => Ok(()),
            Some(SubscriptionAuth::Entra { application_id })
                if application_id.trim().is_empty() =>
            {
                Err(format!(
                    "subscription {}: auth.entra.application_id is empty; give the webhook application's id",
                    self.name
                ))
            }
            Some(SubscriptionAuth::SharedSecret { header, value }) => {
                let lower = header.to_ascii_lowercase();
                if http::HeaderName::from_bytes(header.as_bytes()).is_err()
                    || lower.starts_with("aeg-")
                    || matches!(lower.as_str(), "content-type" | "host" | "content-length")
                {
                    return Err(format!(
                        "subscription {}: auth.shared_secret.header {header:?} is not a header name a delivery property may use (a token without spaces, not aeg-*)",
                        self.name
                    ));
                }
                if value.is_empty() || http::HeaderValue::from_str(value).is_err() {
                    return Err(format!(
                        "subscription {}: auth.shared_secret.value is empty or not header text",
                        self.name
                    ));
                }
                Ok(())
            }
            Some(SubscriptionAuth::QuerySecret { name, value }) => {
                if name.is_empty() || value.is_empty() {
                    return Err(format!(
                        "subscription {}: auth.query_secret needs a non-empty name and value",
                        self.name
                    ));
                }
                Ok(())
            }
            Some(SubscriptionAuth::Entra { .. }) => Ok(()),
        }
    }

    /// The endpoint with the query secret added, when there is one.
    pub(crate) fn url(&self) -> Result<url::Url, String> {
        let mut url = url::Url::parse(&self.endpoint)
            .map_err(|e| format!("subscription {}: endpoint: {e}", self.name))?;
        if let Some(SubscriptionAuth::QuerySecret { name, value }) = &self.auth {
            url.query_pairs_mut().append_pair(name, value);
        }
        Ok(url)
    }

    /// What the control API lists: no secret value, and the endpoint without its query (which
    /// may hold one, as Azure's `endpointBaseUrl`).
    pub(crate) fn info(&self) -> SubscriptionInfo {
        let mut endpoint = url::Url::parse(&self.endpoint).map_or_else(
            |_| self.endpoint.clone(),
            |mut u| {
                u.set_query(None);
                u.to_string()
            },
        );
        if endpoint.is_empty() {
            endpoint.clone_from(&self.endpoint);
        }
        let auth = self.auth.as_ref().map(|auth| match auth {
            SubscriptionAuth::Entra { application_id } => AuthInfo::Entra {
                application_id: application_id.clone(),
            },
            SubscriptionAuth::SharedSecret { header, .. } => AuthInfo::SharedSecret {
                header: header.clone(),
            },
            SubscriptionAuth::QuerySecret { name, .. } => {
                AuthInfo::QuerySecret { name: name.clone() }
            }
        });
        SubscriptionInfo {
            name: self.name.clone(),
            endpoint,
            schema: self.schema,
            auth,
            event_types: self.event_types.clone(),
        }
    }
}

/// A subscription as listed: everything but secret values.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SubscriptionInfo {
    /// The subscription's name.
    pub name: String,
    /// The endpoint without its query string.
    pub endpoint: String,
    /// The delivery schema.
    pub schema: Schema,
    /// The kind of credential, without its value.
    pub auth: Option<AuthInfo>,
    /// The event types delivered (every type when empty).
    pub event_types: Vec<String>,
}

/// A subscription's credential without its value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AuthInfo {
    /// Entra protected delivery for this application.
    Entra {
        /// The token's audience.
        application_id: String,
    },
    /// A static header.
    SharedSecret {
        /// The header's name.
        header: String,
    },
    /// A query parameter.
    QuerySecret {
        /// The parameter's name.
        name: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_name_endpoint_types_and_auth() {
        let ok = Subscription::new("sub-1", "http://127.0.0.1:9/events");
        assert_eq!(ok.check(), Ok(()));
        let bad = [
            Subscription::new("x", "http://127.0.0.1:9/"),
            Subscription::new("sub_1", "http://127.0.0.1:9/"),
            Subscription::new("sub-1", "not a url"),
            Subscription::new("sub-1", "http://example.com/events"),
            Subscription::new("sub-1", "ftp://127.0.0.1/"),
            ok.clone().event_types(["Microsoft.Storage.BlobCreated"]),
            ok.clone().auth(SubscriptionAuth::Entra {
                application_id: " ".into(),
            }),
            ok.clone().auth(SubscriptionAuth::SharedSecret {
                header: "aeg-x".into(),
                value: "v".into(),
            }),
            ok.clone().auth(SubscriptionAuth::QuerySecret {
                name: "code".into(),
                value: String::new(),
            }),
        ];
        for subscription in bad {
            assert!(subscription.check().is_err(), "{subscription:?}");
        }
    }

    #[test]
    fn listing_and_debug_hold_no_secret_value() {
        let subscription = Subscription::new("sub-1", "https://localhost:1/e?code=in-url").auth(
            SubscriptionAuth::QuerySecret {
                name: "key".into(),
                value: "hidden-value".into(),
            },
        );
        let listed = serde_json::to_string(&subscription.info()).unwrap();
        let debug = format!("{subscription:?}");
        for text in [listed, debug] {
            assert!(!text.contains("hidden-value"), "{text}");
        }
        assert_eq!(subscription.info().endpoint, "https://localhost:1/e");
        assert!(
            subscription
                .url()
                .unwrap()
                .as_str()
                .ends_with("code=in-url&key=hidden-value")
        );
    }
}
