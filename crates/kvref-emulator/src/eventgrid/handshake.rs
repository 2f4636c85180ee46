//! The validation handshake when a subscription is created, as Event Grid runs it: for the
//! Event Grid schema a `SubscriptionValidationEvent` POST answered 200 with
//! `{"validationResponse": code}`; for CloudEvents an `OPTIONS` with `WebHook-Request-Origin`
//! answered with `WebHook-Allowed-Origin`. Both carry the subscription's credential: kvref's
//! webhook, like any protected endpoint, authenticates every POST before answering it.

use http::Method;
use serde_json::Value;

use super::delivery::{self, ORIGIN};
use super::send::{Answer, Request, send};
use super::subscription::{Schema, Subscription};

/// Why a subscriber failed the handshake: which step, and what it answered.
pub(crate) struct Refusal(pub(crate) String);

/// Runs the handshake; `Ok` when the subscriber consented. The request sent and its answer
/// come back for the journal (none when the request could not be made).
pub(crate) async fn run(
    client: &reqwest::Client,
    subscription: &Subscription,
    tenant: &str,
    timeout: std::time::Duration,
) -> (Option<(Request, Answer)>, Result<(), Refusal>) {
    let request = match build(subscription, tenant) {
        Ok(request) => request,
        Err(message) => return (None, Err(Refusal(message))),
    };
    let answer = send(client, &request, timeout).await;
    let verdict = judge(subscription, &request, &answer);
    (Some((request, answer)), verdict)
}

fn build(subscription: &Subscription, tenant: &str) -> Result<Request, String> {
    let url = subscription.url()?;
    let mut headers = Vec::new();
    if let Some(credential) = delivery::credential(subscription, tenant)? {
        headers.push(credential);
    }
    let (method, body, code) = match subscription.schema {
        Schema::EventGrid => {
            let code = uuid::Uuid::new_v4().to_string();
            headers.push(("aeg-event-type".into(), "SubscriptionValidation".into()));
            headers.push((
                "aeg-subscription-name".into(),
                subscription.name.to_ascii_uppercase(),
            ));
            headers.push(("aeg-delivery-count".into(), "0".into()));
            headers.push(("aeg-data-version".into(), "1".into()));
            headers.push(("aeg-metadata-version".into(), "1".into()));
            headers.push((
                "content-type".into(),
                "application/json; charset=utf-8".into(),
            ));
            let body = delivery::validation_event(&code).to_string();
            (Method::POST, body, Some(code))
        }
        Schema::CloudEvents => {
            headers.push(("webhook-request-origin".into(), ORIGIN.into()));
            (Method::OPTIONS, String::new(), None)
        }
    };
    Ok(Request {
        method,
        url,
        headers,
        body,
        event_id: String::new(),
        event_type: match subscription.schema {
            Schema::EventGrid => "SubscriptionValidation",
            Schema::CloudEvents => "Handshake",
        },
        validation_code: code,
    })
}

fn judge(subscription: &Subscription, request: &Request, answer: &Answer) -> Result<(), Refusal> {
    let target = format!("{} {}", request.method, subscription.info().endpoint);
    let Some(status) = answer.status else {
        return Err(Refusal(format!(
            "validation handshake failed: {target} got no answer ({}); is the webhook listening?",
            answer.error.as_deref().unwrap_or("no answer")
        )));
    };
    let answered = answer.describe();
    match subscription.schema {
        Schema::EventGrid => {
            let code = request.validation_code.as_deref().unwrap_or_default();
            if status != 200 {
                return Err(Refusal(format!(
                    "validation handshake failed: {target} (SubscriptionValidationEvent) answered {answered}; Event Grid needs 200 with {{\"validationResponse\": code}}"
                )));
            }
            let echoed = serde_json::from_slice::<Value>(&answer.body)
                .ok()
                .and_then(|v| v.get("validationResponse").cloned());
            match echoed {
                Some(Value::String(echo)) if echo == code => Ok(()),
                _ => Err(Refusal(format!(
                    "validation handshake failed: {target} (SubscriptionValidationEvent) answered {answered} without the validation code in {{\"validationResponse\": code}} (the emulator does not offer the manual validationUrl)"
                ))),
            }
        }
        Schema::CloudEvents => {
            let allowed = answer.header("webhook-allowed-origin");
            match allowed {
                Some(origin) if status == 200 && (origin == ORIGIN || origin == "*") => Ok(()),
                _ => Err(Refusal(format!(
                    "validation handshake failed: {target} (CloudEvents abuse protection, WebHook-Request-Origin: {ORIGIN}) answered {answered} with WebHook-Allowed-Origin {}; it must answer 200 with WebHook-Allowed-Origin: {ORIGIN} (or *)",
                    allowed.map_or_else(|| "absent".to_owned(), |o| format!("{o:?}"))
                ))),
            }
        }
    }
}
