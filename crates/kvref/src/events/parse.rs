//! Reading one webhook delivery: Event Grid schema (a JSON array) or CloudEvents 1.0 (an object,
//! or an array in batched mode), decided by the JSON's shape and `aeg-event-type`, not by the
//! content type alone (as Microsoft's own Functions extension does).

use http::HeaderMap;
use http::header::CONTENT_TYPE;
use serde_json::{Map, Value};

use super::data::{data_object, epoch, text};
use super::{Event, EventKind, EventsError, SecretEvent};

/// The largest body [`parse`] reads unless told otherwise: 1 MiB, Event Grid's own limit per
/// event and per published batch.
pub const DEFAULT_MAX_BODY: usize = 1024 * 1024;

/// The Event Grid header that says what a delivery is.
pub const AEG_EVENT_TYPE: &str = "aeg-event-type";

const VALIDATION_EVENT: &str = "Microsoft.EventGrid.SubscriptionValidationEvent";
const NEW_VERSION: &str = "Microsoft.KeyVault.SecretNewVersionCreated";
const NEAR_EXPIRY: &str = "Microsoft.KeyVault.SecretNearExpiry";
const EXPIRED: &str = "Microsoft.KeyVault.SecretExpired";

/// What one delivery is.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Delivery {
    /// Event Grid's subscription validation (`Microsoft.EventGrid.SubscriptionValidationEvent`):
    /// answer 200 with `{"validationResponse": code}`. Without a code only the `url` remains,
    /// which someone must open (GET) within minutes to validate by hand.
    Validation {
        /// `validationCode`.
        code: Option<String>,
        /// `validationUrl`.
        url: Option<String>,
    },
    /// `aeg-event-type: SubscriptionDeletion` (or `Unsubscribe`): nothing to do.
    SubscriptionDeletion,
    /// Events, in the order sent (one, or a batch).
    Events(Vec<Event>),
}

/// [`parse_with_limit`] with [`DEFAULT_MAX_BODY`].
pub fn parse(headers: &HeaderMap, body: &[u8]) -> Result<Delivery, EventsError> {
    parse_with_limit(headers, body, DEFAULT_MAX_BODY)
}

/// Reads a delivery from its headers (`Content-Type`, `aeg-event-type`) and body. A body over
/// `limit` bytes is refused before parsing; a content type that is not JSON is refused; unknown
/// fields and event types are ignored.
///
/// ```
/// use kvref::events::{Delivery, EventKind, parse};
/// let mut headers = http::HeaderMap::new();
/// headers.insert("aeg-event-type", "Notification".parse().unwrap());
/// let body = br#"[{"id": "1", "eventType": "Microsoft.KeyVault.SecretNewVersionCreated",
///     "subject": "DbPassword", "data": {"VaultName": "myvault", "ObjectName": "DbPassword",
///     "Version": "v2", "NBF": null, "EXP": null}}]"#;
/// let Delivery::Events(events) = parse(&headers, body).unwrap() else { unreachable!() };
/// let EventKind::SecretNewVersionCreated(secret) = &events[0].kind else { unreachable!() };
/// assert_eq!((secret.vault.as_str(), secret.name.as_str()), ("myvault", "DbPassword"));
/// ```
pub fn parse_with_limit(
    headers: &HeaderMap,
    body: &[u8],
    limit: usize,
) -> Result<Delivery, EventsError> {
    if body.len() > limit {
        return Err(EventsError::TooLarge { limit });
    }
    if let Some(content_type) = headers.get(CONTENT_TYPE)
        && !is_json(content_type.to_str().unwrap_or_default())
    {
        return Err(EventsError::UnsupportedMediaType);
    }
    let aeg = headers
        .get(AEG_EVENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .unwrap_or_default();
    if aeg.eq_ignore_ascii_case("SubscriptionDeletion") || aeg.eq_ignore_ascii_case("Unsubscribe") {
        return Ok(Delivery::SubscriptionDeletion);
    }
    let json: Value =
        serde_json::from_slice(body).map_err(|e| EventsError::Malformed(e.to_string()))?;
    let objects = match json {
        Value::Array(items) => items
            .into_iter()
            .map(|item| match item {
                Value::Object(object) => Ok(object),
                _ => Err(EventsError::Malformed(
                    "an element of the array is not an object".into(),
                )),
            })
            .collect::<Result<Vec<_>, _>>()?,
        Value::Object(object) => vec![object],
        _ => {
            return Err(EventsError::Malformed(
                "the body is neither an object nor an array".into(),
            ));
        }
    };
    if let Some(validation) = objects.iter().find_map(validation) {
        return Ok(validation);
    }
    if aeg.eq_ignore_ascii_case("SubscriptionValidation") {
        return Err(EventsError::NoValidationCode);
    }
    Ok(Delivery::Events(objects.iter().map(event).collect()))
}

/// Whether a `Content-Type` is JSON, ignoring case, parameters (`charset`) and spaces.
fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    matches!(essence.as_str(), "application/json" | "text/json") || essence.ends_with("+json")
}

/// The event type: `eventType` (Event Grid schema) or `type` (CloudEvents).
fn event_type(object: &Map<String, Value>) -> Option<String> {
    text(object, "eventType").or_else(|| text(object, "type"))
}

fn validation(object: &Map<String, Value>) -> Option<Delivery> {
    if !event_type(object)?.eq_ignore_ascii_case(VALIDATION_EVENT) {
        return None;
    }
    let data = data_object(object).unwrap_or_default();
    Some(Delivery::Validation {
        code: text(&data, "validationCode"),
        url: text(&data, "validationUrl"),
    })
}

fn event(object: &Map<String, Value>) -> Event {
    let id = text(object, "id").unwrap_or_default();
    let event_type = event_type(object).unwrap_or_default();
    let secret = || secret_event(object);
    let kind = match event_type.as_str() {
        t if t.eq_ignore_ascii_case(NEW_VERSION) => {
            secret().map(EventKind::SecretNewVersionCreated)
        }
        t if t.eq_ignore_ascii_case(NEAR_EXPIRY) => secret().map(EventKind::SecretNearExpiry),
        t if t.eq_ignore_ascii_case(EXPIRED) => secret().map(EventKind::SecretExpired),
        _ => None,
    }
    .unwrap_or(EventKind::Ignored { event_type });
    Event { id, kind }
}

/// The secret a Key Vault event names: vault from the `Id` URL's host, else `VaultName`, else
/// the topic's (`source`'s) `/vaults/{name}`; name from `ObjectName`, else the subject;
/// version from `Version`, else the `Id`'s last segment.
fn secret_event(object: &Map<String, Value>) -> Option<SecretEvent> {
    let data = data_object(object).unwrap_or_default();
    let id = text(&data, "Id").and_then(|id| url::Url::parse(&id).ok());
    let host = id
        .as_ref()
        .and_then(|u| u.host_str())
        .filter(|h| h.contains('.'))
        .map(str::to_owned);
    let topic = text(object, "topic").or_else(|| text(object, "source"));
    let vault = host
        .or_else(|| text(&data, "VaultName"))
        .or_else(|| topic.as_deref().and_then(vault_of_topic))?;
    let name = text(&data, "ObjectName").or_else(|| text(object, "subject"))?;
    let version = text(&data, "Version").or_else(|| {
        let segments: Vec<&str> = id.as_ref()?.path_segments()?.collect();
        match segments.as_slice() {
            ["secrets", _, version] if !version.is_empty() => Some((*version).to_owned()),
            _ => None,
        }
    });
    Some(SecretEvent {
        vault,
        name,
        version,
        not_before: epoch(&data, "NBF"),
        expires: epoch(&data, "EXP"),
    })
}

/// `myvault` from `/subscriptions/…/providers/Microsoft.KeyVault/vaults/myvault`.
fn vault_of_topic(topic: &str) -> Option<String> {
    let mut segments = topic.split('/');
    segments.find(|s| s.eq_ignore_ascii_case("vaults"))?;
    segments.next().filter(|s| !s.is_empty()).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types_match_loosely() {
        for json in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/CloudEvents+JSON; charset=UTF-8",
            " application/cloudevents-batch+json ",
            "text/json",
        ] {
            assert!(is_json(json), "{json}");
        }
        for other in ["text/plain", "application/xml", "", "multipart/form-data"] {
            assert!(!is_json(other), "{other}");
        }
    }

    #[test]
    fn the_vault_name_comes_from_an_arm_topic() {
        let topic = "/subscriptions/x/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv1";
        assert_eq!(vault_of_topic(topic).as_deref(), Some("kv1"));
        assert_eq!(vault_of_topic("/subscriptions/x"), None);
        assert_eq!(vault_of_topic("/vaults/"), None);
    }
}
