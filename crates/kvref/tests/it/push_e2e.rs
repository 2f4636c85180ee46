//! Issue 12 end to end: the emulator plays Event Grid for a `Webhook` mounted on a small server
//! of the test's own (axum on hyper, 127.0.0.1 port 0) in front of a `Live`. The emulator
//! validates the subscription through the webhook, a secret rotated in the emulator is
//! delivered, and `Live::load()` shows the new value (waited for on `subscribe()`, no sleeps).
//! With Key Vault down the webhook answers 503, Event Grid delivers again, and the retried
//! delivery succeeds, while every read shows the last good snapshot.

use std::time::Duration;

use http::{HeaderName, StatusCode};
use kvref::Resolved;
use kvref::events::{EntraAuth, SharedSecret, Webhook};
use kvref::live::Live;
use kvref::secrecy::{ExposeSecret, SecretString};
use kvref_emulator::{
    Emulator, Endpoint, Fault, JournalEntry, Outcome, Schema, Subscription, SubscriptionAuth,
};

use crate::support::emu;

#[path = "push_e2e_server.rs"]
mod server;
use server::Server;

const APP_ID: &str = "5b2d0c7e-1f3a-4e6b-9c8d-7a6b5c4d3e2f";
const SECRET: &str = "push-e2e-shared-secret";
const FOLLOWED: &str = "@KeyVault(VaultName=vault1;SecretName=s0)";

#[derive(Debug)]
struct One {
    a: String,
}

fn one(resolved: &Resolved) -> Result<One, String> {
    let (_, _, secret) = resolved.secrets().next().ok_or("a did not resolve")?;
    Ok(One {
        a: secret.expose_secret().to_owned(),
    })
}

struct App {
    emu: Emulator,
    live: Live<One>,
}

impl App {
    /// An emulator with vault1 (s0, s1) whose Event Grid retries after 10 ms, and a `Live`
    /// following vault1/s0 (its timer a day away: only a push can refresh it in a test).
    async fn start() -> App {
        let toml = format!(
            "{}\n[eventgrid]\nretry_delays_ms = [10]\n",
            emu::vaults_toml(&["vault1"], 2)
        );
        let emu = emu::start(&toml).await;
        let resolver = emu::resolver(&emu, emu::credential(&emu))
            .build()
            .expect("resolver");
        let live = Live::builder(resolver, [("a", FOLLOWED)], one)
            .interval(Duration::from_secs(24 * 3600))
            .jitter(0.0)
            .start()
            .await
            .expect("live starts");
        emu.clear_requests().await;
        App { emu, live }
    }

    fn entra_webhook(&self) -> Webhook {
        let transport = kvref::transport::HttpTransport::builder()
            .add_root_certificate_pem(self.emu.ca_cert_pem())
            .build()
            .expect("transport");
        // The emulator is the tenant's authority: discovery document, keys, issuers.
        let authority = format!("https://localhost:{}", self.emu.https_addr().port());
        let entra = EntraAuth::builder(self.emu.tenant_id(), APP_ID)
            .authority(authority)
            .transport(transport)
            .build()
            .expect("entra auth");
        Webhook::builder(self.live.clone())
            .entra(entra)
            .build()
            .expect("webhook")
    }

    fn shared_secret_webhook(&self) -> Webhook {
        let secret = SharedSecret::header(
            HeaderName::from_static("x-kvref-secret"),
            [SecretString::from(SECRET)],
        );
        Webhook::builder(self.live.clone())
            .shared_secret(secret)
            .build()
            .expect("webhook")
    }

    async fn gets_of(&self, secret: &str) -> usize {
        emu::vault_requests(&self.emu)
            .await
            .iter()
            .filter(|e| e.method == "GET" && e.path.starts_with(&format!("/secrets/{secret}")))
            .count()
    }

    /// Waits until the snapshot's generation moves past `seen` (a guard fails the test
    /// instead of hanging it).
    async fn next_generation(&self, seen: u64) {
        let mut generation = self.live.subscribe();
        tokio::time::timeout(Duration::from_secs(60), generation.wait_for(|g| *g > seen))
            .await
            .expect("the push reached the snapshot")
            .expect("the refresher runs");
    }
}

fn notifications(emu: &Emulator) -> Vec<JournalEntry> {
    emu.deliveries()
        .into_iter()
        .filter(|e| e.eventgrid.as_ref().unwrap().event_type == "Notification")
        .collect()
}

fn outcome(entry: &JournalEntry) -> (u32, u16, Outcome) {
    let attempt = entry.eventgrid.as_ref().unwrap();
    (attempt.attempt, entry.status, attempt.outcome)
}

/// Subscribes `server` (the handshake goes through the webhook), rotates vault1/s0 in the
/// emulator, and checks the push reached `load()` with one GET and one delivery.
async fn rotation_reaches_load(app: &App, server: &mut Server, subscription: Subscription) {
    app.emu
        .add_subscription(subscription)
        .await
        .expect("the webhook passes the handshake");
    assert_eq!(server.answer().await, StatusCode::OK, "handshake");

    let generation = *app.live.subscribe().borrow();
    app.emu.set_secret("vault1", "s0", "rotated-by-push").await;
    app.next_generation(generation).await;
    assert_eq!(app.live.load().a, "rotated-by-push");
    assert_eq!(server.answer().await, StatusCode::OK, "delivery");

    app.emu.deliveries_settled().await;
    let delivered: Vec<_> = notifications(&app.emu).iter().map(outcome).collect();
    assert_eq!(delivered, [(1, 200, Outcome::Delivered)]);
    assert_eq!(app.gets_of("s0").await, 1);
    assert_eq!(app.gets_of("s1").await, 0);
}

#[tokio::test]
async fn an_entra_protected_push_of_a_rotation_reaches_load() {
    let app = App::start().await;
    let mut server = Server::start(app.entra_webhook()).await;
    let subscription =
        Subscription::new("kvref-entra", server.endpoint()).auth(SubscriptionAuth::Entra {
            application_id: APP_ID.into(),
        });
    rotation_reaches_load(&app, &mut server, subscription).await;
}

#[tokio::test]
async fn a_shared_secret_cloudevents_push_of_a_rotation_reaches_load() {
    let app = App::start().await;
    let mut server = Server::start(app.shared_secret_webhook()).await;
    let subscription = Subscription::new("kvref-ce", server.endpoint())
        .schema(Schema::CloudEvents)
        .auth(SubscriptionAuth::SharedSecret {
            header: "x-kvref-secret".into(),
            value: SECRET.into(),
        });
    // The OPTIONS handshake is answered before authentication; the delivery carries the header.
    rotation_reaches_load(&app, &mut server, subscription).await;
}

#[tokio::test]
async fn a_subscription_without_the_webhooks_credential_fails_its_handshake() {
    let app = App::start().await;
    let mut server = Server::start(app.entra_webhook()).await;
    let wrong_audience =
        Subscription::new("wrong-app", server.endpoint()).auth(SubscriptionAuth::Entra {
            application_id: "another-application".into(),
        });
    let none = Subscription::new("no-auth", server.endpoint());
    for subscription in [wrong_audience, none] {
        let error = app.emu.add_subscription(subscription).await.unwrap_err();
        assert_eq!(error.status, 400);
        assert!(
            error.message.contains("401 Unauthorized"),
            "{}",
            error.message
        );
        assert_eq!(server.answer().await, StatusCode::UNAUTHORIZED);
    }
    assert!(app.emu.subscriptions().is_empty());
    assert_eq!(app.webhook_rejections(&server).await, 2);
}

impl App {
    /// 401s the webhook answered, from the emulator's journal of the handshakes.
    async fn webhook_rejections(&self, server: &Server) -> usize {
        self.emu
            .deliveries()
            .iter()
            .filter(|e| e.host == server.addr.to_string() && e.status == 401)
            .count()
    }
}

#[tokio::test]
async fn with_key_vault_down_the_push_gets_503_and_the_retried_delivery_succeeds() {
    let app = App::start().await;
    let mut server = Server::start(app.shared_secret_webhook()).await;
    let subscription =
        Subscription::new("kvref-503", server.endpoint()).auth(SubscriptionAuth::SharedSecret {
            header: "x-kvref-secret".into(),
            value: SECRET.into(),
        });
    app.emu
        .add_subscription(subscription)
        .await
        .expect("handshake");
    assert_eq!(server.answer().await, StatusCode::OK);
    let before = app.live.load().a.clone();

    // Key Vault goes down, and the app has noticed (its last refresh failed).
    app.emu
        .add_fault(Fault {
            endpoint: Endpoint::KeyVault,
            status: Some(503),
            ..Fault::default()
        })
        .await;
    assert!(app.live.refresh_now().await.is_err());
    assert_eq!(app.live.load().a, before);
    let generation = *app.live.subscribe().borrow();

    // Retries wait at the door until Key Vault is back.
    server.retries.send_replace(false);
    app.emu
        .set_secret("vault1", "s0", "rotated-during-outage")
        .await;
    assert_eq!(server.answer().await, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(app.live.load().a, before, "the last good snapshot stays");
    assert!(app.live.status().last_error.is_some());

    app.emu.clear_faults().await;
    server.retries.send_replace(true);
    loop {
        let status = server.answer().await;
        let value = app.live.load().a.clone();
        assert!(
            value == before || value == "rotated-during-outage",
            "every read is a whole snapshot: {value}"
        );
        if status == StatusCode::OK {
            break;
        }
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    }
    app.next_generation(generation).await;
    assert_eq!(app.live.load().a, "rotated-during-outage");

    app.emu.deliveries_settled().await;
    let attempts: Vec<_> = notifications(&app.emu).iter().map(outcome).collect();
    let (last, retried) = attempts.split_last().expect("attempts");
    assert_eq!(retried[0], (1, 503, Outcome::Retrying), "{attempts:?}");
    assert!(
        retried
            .iter()
            .all(|(_, status, o)| *status == 503 && *o == Outcome::Retrying)
    );
    assert_eq!((last.1, last.2), (200, Outcome::Delivered), "{attempts:?}");
    let ids: Vec<_> = notifications(&app.emu)
        .iter()
        .map(|e| e.eventgrid.clone().unwrap().event_id)
        .collect();
    assert!(
        ids.iter().all(|id| *id == ids[0]),
        "one event delivered again: {ids:?}"
    );
}
