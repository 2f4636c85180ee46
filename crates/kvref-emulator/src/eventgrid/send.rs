//! One HTTP request to a subscriber and its answer, bounded in time and size, without
//! following redirects (the CloudEvents webhook spec forbids it), and its journal entry.

use std::time::Duration;

use http::Method;

use super::{DeliveryAttempt, Outcome};
use crate::fault::{Endpoint, JournalEntry};

/// The most of a subscriber's answer read (enough for a validation answer or an error).
const ANSWER_LIMIT: usize = 64 * 1024;

/// A request to a subscriber. `headers` may hold a credential: it is never logged or journaled.
pub(crate) struct Request {
    pub(crate) method: Method,
    pub(crate) url: url::Url,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: String,
    pub(crate) event_id: String,
    /// What `aeg-event-type` says (`Notification`, `SubscriptionValidation`), or `Handshake`
    /// for the CloudEvents `OPTIONS`.
    pub(crate) event_type: &'static str,
    pub(crate) validation_code: Option<String>,
}

/// What the subscriber answered: a status, or why there was none.
pub(crate) struct Answer {
    pub(crate) status: Option<u16>,
    pub(crate) headers: http::HeaderMap,
    pub(crate) body: Vec<u8>,
    pub(crate) error: Option<String>,
}

impl Answer {
    pub(crate) fn none(error: String) -> Self {
        Self {
            status: None,
            headers: http::HeaderMap::new(),
            body: Vec::new(),
            error: Some(error),
        }
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// `401 Unauthorized, body "..."` (the body cut short), for error messages.
    pub(crate) fn describe(&self) -> String {
        let status = self
            .status
            .and_then(|s| http::StatusCode::from_u16(s).ok())
            .map_or_else(|| "nothing".to_owned(), |s| s.to_string());
        let text = String::from_utf8_lossy(&self.body);
        let text: String = text.chars().take(200).collect();
        if text.trim().is_empty() {
            format!("{status} with an empty body")
        } else {
            format!("{status}, body {text:?}")
        }
    }
}

/// Sends `request`, waiting at most `timeout` for the whole answer.
pub(crate) async fn send(client: &reqwest::Client, request: &Request, timeout: Duration) -> Answer {
    let mut builder = client
        .request(request.method.clone(), request.url.clone())
        .timeout(timeout);
    for (name, value) in &request.headers {
        builder = builder.header(name, value);
    }
    if !request.body.is_empty() {
        builder = builder.body(request.body.clone());
    }
    let exchange = async {
        let mut response = builder.send().await?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            let room = ANSWER_LIMIT.saturating_sub(body.len());
            body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if room <= chunk.len() {
                break;
            }
        }
        Ok::<_, reqwest::Error>((status, headers, body))
    };
    match tokio::time::timeout(timeout, exchange).await {
        Ok(Ok((status, headers, body))) => Answer {
            status: Some(status),
            headers,
            body,
            error: None,
        },
        Ok(Err(e)) if e.is_timeout() => Answer::none(format!("timed out after {timeout:?}")),
        // Only the kind of failure: reqwest's message holds the URL, and with it a query secret.
        Ok(Err(e)) if e.is_connect() => Answer::none("connection failed".into()),
        Ok(Err(_)) => {
            Answer::none("the request failed (connection closed or broken answer)".into())
        }
        Err(_) => Answer::none(format!("timed out after {timeout:?}")),
    }
}

/// The journal's record of one attempt: no credential, the query secret masked.
pub(crate) fn journal_entry(
    subscription: &super::Subscription,
    request: &Request,
    answer: &Answer,
    attempt: u32,
    outcome: Outcome,
) -> JournalEntry {
    let host = match (request.url.host_str(), request.url.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_owned(),
        _ => String::new(),
    };
    JournalEntry {
        endpoint: Endpoint::EventGrid,
        method: request.method.to_string(),
        host,
        path: request.url.path().to_owned(),
        query: super::delivery::journal_query(subscription, &request.url),
        status: answer.status.unwrap_or(0),
        authorization: request
            .headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("authorization")),
        protocol: "http/1.1".into(),
        eventgrid: Some(DeliveryAttempt {
            subscription: subscription.name.clone(),
            attempt,
            event_id: request.event_id.clone(),
            event_type: request.event_type.to_owned(),
            outcome,
            error: answer.error.clone(),
        }),
    }
}
