//! kvref-axum and kvref-actix over real HTTP: every request goes through the framework and the
//! adapter to the webhook, and through `Webhook::handle` directly; the answers must be the
//! same status, headers and body. The cases cover what an adapter could lose on the way: the
//! method (OPTIONS handshake, 405), the query (a secret there), the headers (a secret there, an
//! Entra bearer token, `WebHook-Request-Origin`, the media type) and the body (the validation
//! code echoed, the event pushed with its version), plus the body limit.

mod cases;
mod servers;

use std::sync::{Arc, Mutex};

use http::HeaderName;
use kvref::events::{
    EntraAuth, Event, EventKind, PushTarget, PushUnavailable, Pushed, SharedSecret, Webhook,
};
use kvref::secrecy::SecretString;
use kvref_emulator::{Emulator, EmulatorConfig};

/// The webhook's body limit in these tests: small, so that one case can pass it.
const MAX_BODY: usize = 4096;
/// The Entra application of the tests' webhook.
const APP_ID: &str = "0b7c5f6e-2d4a-4e8b-9c1d-3f5a7b9c1d2e";

/// A push target that keeps the events handed to it: what the webhook decided, seen from
/// outside, so that a body the adapter changed would show here.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<Event>>>);

impl PushTarget for Recorder {
    fn push(&self, events: &[Event]) -> Result<Pushed, PushUnavailable> {
        self.0.lock().unwrap().extend_from_slice(events);
        Ok(Pushed::default())
    }
}

impl Recorder {
    /// `(vault, name, version)` of each new-version event received, then forgets them.
    fn take(&self) -> Vec<(String, String, Option<String>)> {
        std::mem::take(&mut *self.0.lock().unwrap())
            .into_iter()
            .filter_map(|e| match e.kind {
                EventKind::SecretNewVersionCreated(s) => Some((s.vault, s.name, s.version)),
                _ => None,
            })
            .collect()
    }
}

/// A webhook that accepts a secret in the query, one in a header, or an Entra token of the
/// emulator's tenant; and the recorder behind it.
fn webhook(emulator: &Emulator) -> (Webhook, Recorder) {
    let transport = kvref::transport::HttpTransport::builder()
        .add_root_certificate_pem(emulator.ca_cert_pem())
        .build()
        .unwrap();
    let entra = EntraAuth::builder(emulator.tenant_id(), APP_ID)
        .authority(format!(
            "https://localhost:{}",
            emulator.https_addr().port()
        ))
        .transport(transport)
        .build()
        .unwrap();
    let recorder = Recorder::default();
    let webhook = Webhook::builder(recorder.clone())
        .shared_secret(SharedSecret::query(
            "code",
            [SecretString::from(cases::QUERY_SECRET)],
        ))
        .shared_secret(SharedSecret::header(
            HeaderName::from_static("x-delivery-secret"),
            [SecretString::from(cases::HEADER_SECRET)],
        ))
        .entra(entra)
        .max_body(MAX_BODY)
        .build()
        .unwrap();
    (webhook, recorder)
}

async fn emulator() -> Emulator {
    Emulator::start(EmulatorConfig::sample()).await.unwrap()
}

#[tokio::test]
async fn axum_passes_requests_and_answers_unchanged() {
    let emulator = emulator().await;
    let (webhook, recorder) = webhook(&emulator);
    let addr = servers::axum(webhook.clone()).await;
    cases::run(&emulator, &webhook, &recorder, addr).await;
}

#[tokio::test]
async fn actix_passes_requests_and_answers_unchanged() {
    let emulator = emulator().await;
    let (webhook, recorder) = webhook(&emulator);
    let (addr, server) = servers::actix(webhook.clone());
    cases::run(&emulator, &webhook, &recorder, addr).await;
    server.stop(true).await;
}
