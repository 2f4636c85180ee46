//! What one delivery looks like on the wire: the body in either schema and the headers Event
//! Grid sends (shapes and names as in shared/EVENTGRID.md §1.4 and §2.2), with the
//! subscription's credential.

use serde_json::{Value, json};

use super::subscription::{Schema, Subscription, SubscriptionAuth};
use crate::store::now_secs;

/// The Azure subscription and resource group in the emulator's ARM ids (made up).
pub(crate) const ARM_PREFIX: &str =
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/kvref-emulator";
/// Event Grid's application id in the public cloud: the caller (`appid`) of its Entra tokens.
pub const EVENT_GRID_APP_ID: &str = "4962773b-9cdb-44cf-a8bf-237846a00ab7";
/// The object id the emulator gives Event Grid's service principal in its tenant (made up).
const EVENT_GRID_OBJECT_ID: &str = "df247a9a-f64f-431a-873f-ffb36338b683";
/// The origin Event Grid names in the CloudEvents handshake and deliveries (public cloud).
pub(crate) const ORIGIN: &str = "eventgrid.azure.net";
/// How long the Entra tokens of deliveries live (as in a captured one: 86,700 s).
const TOKEN_LIFETIME_SECS: i64 = 86_700;

/// A Key Vault event about one secret version.
#[derive(Clone, Debug)]
pub(crate) struct SecretEvent {
    /// `Microsoft.KeyVault.SecretNewVersionCreated`, …
    pub(crate) event_type: &'static str,
    pub(crate) id: String,
    /// The vault's name as configured (`myvault`).
    pub(crate) vault: String,
    /// The vault's URL (`https://myvault.vault.azure.net`).
    pub(crate) vault_url: String,
    /// The secret's name as stored.
    pub(crate) name: String,
    pub(crate) version: String,
    pub(crate) nbf: Option<i64>,
    pub(crate) exp: Option<i64>,
    /// RFC 3339 with 7 fractional digits, as Event Grid writes it.
    pub(crate) time: String,
}

impl SecretEvent {
    pub(crate) fn new(
        event_type: &'static str,
        vault: &crate::store::Vault,
        name: &str,
        version: &crate::store::Version,
    ) -> Self {
        Self {
            event_type,
            id: uuid::Uuid::new_v4().to_string(),
            vault: vault.name.clone(),
            vault_url: vault.base_url(),
            name: name.to_owned(),
            version: version.id.clone(),
            nbf: version.nbf,
            exp: version.exp,
            time: event_time(),
        }
    }

    fn topic(&self) -> String {
        format!(
            "{ARM_PREFIX}/providers/Microsoft.KeyVault/vaults/{}",
            self.vault
        )
    }

    fn data(&self) -> Value {
        json!({
            "Id": format!("{}/secrets/{}/{}", self.vault_url, self.name, self.version),
            "VaultName": self.vault,
            "ObjectType": "Secret",
            "ObjectName": self.name,
            "Version": self.version,
            "NBF": self.nbf,
            "EXP": self.exp,
        })
    }

    /// The body in `schema`: a one-event array (Event Grid schema) or one object (CloudEvents).
    pub(crate) fn body(&self, schema: Schema) -> Value {
        match schema {
            Schema::EventGrid => json!([{
                "id": self.id,
                "topic": self.topic(),
                "subject": self.name,
                "eventType": self.event_type,
                "data": self.data(),
                "dataVersion": "1",
                "metadataVersion": "1",
                "eventTime": self.time,
            }]),
            Schema::CloudEvents => json!({
                "id": self.id,
                "source": self.topic(),
                "specversion": "1.0",
                "type": self.event_type,
                "subject": self.name,
                "time": self.time,
                "data": self.data(),
            }),
        }
    }
}

/// The validation event of the Event Grid schema, with a fresh code.
pub(crate) fn validation_event(code: &str) -> Value {
    json!([{
        "id": uuid::Uuid::new_v4().to_string(),
        "topic": "/subscriptions/00000000-0000-0000-0000-000000000000",
        "subject": "",
        "data": {"validationCode": code},
        "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
        "eventTime": event_time(),
        "metadataVersion": "1",
        "dataVersion": "1",
    }])
}

/// Now, as `2021-07-28T17:08:38.2145376Z`.
fn event_time() -> String {
    let now = jiff::Timestamp::now();
    format!(
        "{}.{:07}Z",
        now.strftime("%Y-%m-%dT%H:%M:%S"),
        now.subsec_nanosecond() / 100
    )
}

/// The headers of a notification (`attempt` counts from 1; `aeg-delivery-count` from 0).
pub(crate) fn notification_headers(
    subscription: &Subscription,
    event_id: &str,
    attempt: u32,
) -> Vec<(&'static str, String)> {
    let mut headers = vec![
        ("aeg-event-type", "Notification".to_owned()),
        (
            "aeg-subscription-name",
            subscription.name.to_ascii_uppercase(),
        ),
        ("aeg-delivery-count", attempt.saturating_sub(1).to_string()),
        ("aeg-output-event-id", event_id.to_owned()),
    ];
    match subscription.schema {
        Schema::EventGrid => {
            headers.push(("content-type", "application/json; charset=utf-8".into()));
            headers.push(("aeg-data-version", "1".into()));
            headers.push(("aeg-metadata-version", "1".into()));
        }
        Schema::CloudEvents => {
            headers.push((
                "content-type",
                "application/cloudevents+json; charset=utf-8".into(),
            ));
            // For CloudEvents the metadata version is the spec version; the data version
            // "doesn't apply" and is not sent.
            headers.push(("aeg-metadata-version", "1.0".into()));
            headers.push(("webhook-request-origin", ORIGIN.into()));
        }
    }
    headers
}

/// The credential header of a request to `subscription`, when it has one (a query secret is
/// in the URL instead). Its value is a secret: it never reaches the journal or a log.
pub(crate) fn credential(
    subscription: &Subscription,
    tenant: &str,
) -> Result<Option<(String, String)>, String> {
    match &subscription.auth {
        Some(SubscriptionAuth::Entra { application_id }) => {
            let now = now_secs();
            let issuer = format!("https://sts.windows.net/{tenant}/");
            // Shaped like a captured Event Grid token: v1, appid, no roles claim.
            let claims = json!({
                "aud": application_id,
                "iss": issuer,
                "iat": now,
                "nbf": now,
                "exp": now + TOKEN_LIFETIME_SECS,
                "appid": EVENT_GRID_APP_ID,
                "appidacr": "2",
                "idp": issuer,
                "oid": EVENT_GRID_OBJECT_ID,
                "sub": EVENT_GRID_OBJECT_ID,
                "tid": tenant,
                "ver": "1.0",
            });
            let token = crate::entra::sign(&claims)?;
            Ok(Some(("authorization".into(), format!("Bearer {token}"))))
        }
        Some(SubscriptionAuth::SharedSecret { header, value }) => {
            Ok(Some((header.clone(), value.clone())))
        }
        Some(SubscriptionAuth::QuerySecret { .. }) | None => Ok(None),
    }
}

/// The query of `url` with the query secret's value masked, for the journal.
pub(crate) fn journal_query(subscription: &Subscription, url: &url::Url) -> String {
    let secret = match &subscription.auth {
        Some(SubscriptionAuth::QuerySecret { name, .. }) => Some(name.as_str()),
        _ => None,
    };
    let masked: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            let v = if Some(k.as_ref()) == secret {
                "***".to_owned()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    if masked.is_empty() {
        return String::new();
    }
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(masked)
        .finish()
}
