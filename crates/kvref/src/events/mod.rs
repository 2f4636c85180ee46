//! Push refresh: Azure Event Grid tells the app that a secret rotated.
//!
//! Key Vault publishes `Microsoft.KeyVault.SecretNewVersionCreated` to Event Grid the moment a
//! new version exists; Event Grid delivers it to a webhook. This module reads those deliveries
//! in both of Event Grid's schemas ([`parse`]), answers its handshakes and authenticates its
//! deliveries ([`Webhook`]), and hands the events to a [`PushTarget`], which a
//! [`Live`](crate::live::Live) is: it refreshes the matching references at once, while its
//! timer stays the safety net. An event carries no value; the refresh reads the secret from Key
//! Vault as usual.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use kvref::events::{Event, PushTarget, PushUnavailable, Pushed, SharedSecret, Webhook};
//! use kvref::secrecy::SecretString;
//!
//! struct Nothing;
//! impl PushTarget for Nothing {
//!     fn push(&self, _: &[Event]) -> Result<Pushed, PushUnavailable> { Ok(Pushed::default()) }
//! }
//! let secret = SharedSecret::query("code", [SecretString::from("from-a-vault-too")]);
//! let webhook = Webhook::builder(Nothing).shared_secret(secret).build().unwrap();
//! let validation = br#"[{"id": "1", "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
//!     "subject": "", "data": {"validationCode": "512d38b6"}}]"#;
//! let request = http::Request::post("/events?code=from-a-vault-too")
//!     .header("aeg-event-type", "SubscriptionValidation")
//!     .body(&validation[..])
//!     .unwrap();
//! let response = webhook.handle(&request).await;
//! assert_eq!(response.status(), 200);
//! assert_eq!(response.body(), br#"{"validationResponse":"512d38b6"}"#);
//! # });
//! ```

mod auth;
mod data;
mod error;
mod event;
mod origin;
mod parse;
mod target;
mod webhook;

pub use self::auth::{
    EVENT_GRID_APP_ID, EVENT_GRID_APP_ID_US_GOV, EntraAuth, EntraAuthBuilder, SharedSecret,
};
pub use self::error::EventsError;
pub use self::event::{Event, EventKind, SecretEvent};
pub use self::origin::EVENT_GRID_ORIGINS;
pub use self::parse::{AEG_EVENT_TYPE, DEFAULT_MAX_BODY, Delivery, parse, parse_with_limit};
pub use self::target::{PushTarget, PushUnavailable, Pushed};
pub use self::webhook::{Webhook, WebhookBuilder, WebhookError, WebhookStats};
