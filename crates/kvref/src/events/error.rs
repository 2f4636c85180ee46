//! Why a delivery could not be read. Messages describe the shape, never quote the body.

/// Why [`parse`](super::parse) refused a delivery.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EventsError {
    /// The body is longer than the limit; nothing of it was parsed.
    #[error(
        "the delivery is larger than {limit} bytes (kvref reads no more); lower the subscription's batch size"
    )]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The `Content-Type` is not JSON (`application/json`, `application/cloudevents+json`,
    /// `application/cloudevents-batch+json` or another `+json` type).
    #[error(
        "the delivery's content type is not JSON; Event Grid sends application/json or application/cloudevents+json"
    )]
    UnsupportedMediaType,
    /// The body is not a JSON object or array of event objects.
    #[error("the delivery is not an Event Grid or CloudEvents event or batch: {0}")]
    Malformed(String),
    /// `aeg-event-type: SubscriptionValidation` without a validation event in the body.
    #[error("the subscription validation request holds no validation code or URL")]
    NoValidationCode,
}
