//! The emulator plays Event Grid: subscriptions validated by the real handshakes, deliveries
//! with the real headers, bodies and credentials, Event Grid's retry rules, and the journal.
//! Every subscriber is a listener of the test's own on 127.0.0.1 port 0.

#[path = "eventgrid/listener.rs"]
mod listener;

use std::time::Duration;

use kvref::events::{Delivery, EventKind, parse};
use kvref_emulator::{
    Emulator, EmulatorConfig, Endpoint, JournalEntry, Outcome, Schema, Subscription,
    SubscriptionAuth,
};
use listener::{Listener, Received, Reply};
use serde_json::{Value, json};

const SP_CLIENT_ID: &str = "0e1f2a3b-4c5d-4e6f-9a0b-1c2d3e4f5a6b";
const SP_SECRET: &str = "emulator-client-secret-not-real";

/// Fast retries, so a test sees several attempts at once.
fn config() -> EmulatorConfig {
    EmulatorConfig::sample()
        .with_eventgrid_retry_delays([Duration::from_millis(1)])
        .with_eventgrid_max_attempts(5)
}

async fn emulator() -> Emulator {
    Emulator::start(config()).await.expect("emulator starts")
}

/// A subscription of `listener` that passed its handshake; the handshake request is taken.
async fn subscribe(
    emu: &Emulator,
    listener: &mut Listener,
    subscription: impl FnOnce(&Listener) -> Subscription,
) -> Received {
    emu.add_subscription(subscription(listener))
        .await
        .expect("the handshake passes");
    listener.next().await
}

fn outcomes(entries: &[JournalEntry]) -> Vec<(u32, u16, Outcome)> {
    entries
        .iter()
        .map(|e| {
            let attempt = e.eventgrid.as_ref().expect("an Event Grid entry");
            (attempt.attempt, e.status, attempt.outcome)
        })
        .collect()
}

fn notifications(emu: &Emulator) -> Vec<JournalEntry> {
    emu.deliveries()
        .into_iter()
        .filter(|e| e.eventgrid.as_ref().unwrap().event_type == "Notification")
        .collect()
}

#[tokio::test]
async fn an_event_grid_schema_subscription_is_validated_then_gets_each_new_version() {
    let emu = emulator().await;
    let mut sub = Listener::consenting().await;
    let handshake = subscribe(&emu, &mut sub, |l| {
        Subscription::new("kvref-app", l.url("/events"))
    })
    .await;

    assert_eq!(handshake.method, "POST");
    assert_eq!(handshake.uri.path(), "/events");
    assert_eq!(
        handshake.header("aeg-event-type"),
        Some("SubscriptionValidation")
    );
    assert_eq!(handshake.header("aeg-subscription-name"), Some("KVREF-APP"));
    let Ok(Delivery::Validation { code: Some(_), .. }) = parse(&handshake.headers, &handshake.body)
    else {
        panic!("not a validation event: {handshake:?}");
    };

    let version = emu.set_secret("myvault", "DbPassword", "rotated").await;
    let delivery = sub.next().await;
    assert_eq!(delivery.method, "POST");
    assert_eq!(
        delivery.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(delivery.header("aeg-event-type"), Some("Notification"));
    assert_eq!(delivery.header("aeg-subscription-name"), Some("KVREF-APP"));
    assert_eq!(delivery.header("aeg-delivery-count"), Some("0"));
    assert_eq!(delivery.header("aeg-data-version"), Some("1"));
    assert_eq!(delivery.header("aeg-metadata-version"), Some("1"));
    assert_eq!(delivery.header("authorization"), None);

    let body = delivery.json();
    let event = &body.as_array().expect("an array")[0];
    assert_eq!(
        event["eventType"],
        "Microsoft.KeyVault.SecretNewVersionCreated"
    );
    assert_eq!(event["subject"], "DbPassword");
    assert!(
        event["topic"]
            .as_str()
            .unwrap()
            .ends_with("/providers/Microsoft.KeyVault/vaults/myvault")
    );
    assert_eq!(event["dataVersion"], "1");
    assert_eq!(event["metadataVersion"], "1");
    assert_eq!(delivery.header("aeg-output-event-id"), event["id"].as_str());
    let time = event["eventTime"].as_str().unwrap();
    assert_eq!(time.len(), "2021-07-28T17:08:38.2145376Z".len(), "{time}");
    assert_eq!(
        event["data"],
        json!({
            "Id": format!("https://myvault.vault.azure.net/secrets/DbPassword/{version}"),
            "VaultName": "myvault",
            "ObjectType": "Secret",
            "ObjectName": "DbPassword",
            "Version": version,
            "NBF": null,
            "EXP": null,
        })
    );
    assert_secret_event(&delivery, &version);
}

/// Sends a request that makes a secret version and answers the version (the last segment of
/// the answer's `id`).
async fn version_of(request: reqwest::RequestBuilder) -> String {
    let answer: Value = request.send().await.unwrap().json().await.unwrap();
    let id = answer["id"].as_str().expect("an id");
    id.rsplit('/').next().unwrap().to_owned()
}

/// The delivery reads, with kvref's parser, as a new version of myvault's DbPassword.
fn assert_secret_event(delivery: &Received, version: &str) {
    let Ok(Delivery::Events(events)) = parse(&delivery.headers, &delivery.body) else {
        panic!("not events: {delivery:?}");
    };
    let [event] = events.as_slice() else {
        panic!("one event: {events:?}")
    };
    let EventKind::SecretNewVersionCreated(secret) = &event.kind else {
        panic!("not a new version: {event:?}");
    };
    assert!(secret.is_secret("myvault.vault.azure.net", "myvault", "DbPassword"));
    assert_eq!(secret.version.as_deref(), Some(version));
}

#[tokio::test]
async fn a_cloudevents_subscription_is_validated_by_options_and_gets_one_object() {
    let emu = emulator().await;
    let mut sub = Listener::consenting().await;
    let subscription = Subscription::new("ce-app", sub.url("/ce")).schema(Schema::CloudEvents);
    let handshake = subscribe(&emu, &mut sub, |_| subscription).await;
    assert_eq!(handshake.method, "OPTIONS");
    assert_eq!(
        handshake.header("webhook-request-origin"),
        Some("eventgrid.azure.net")
    );

    // The control API's new version delivers too.
    let version = version_of(
        reqwest::Client::new()
            .post(format!(
                "http://{}/_emulator/vaults/myvault/secrets/DbPassword",
                emu.http_addr()
            ))
            .json(&json!({"value": "rotated", "nbf": 1700000000, "exp": 4102444800_i64})),
    )
    .await;

    let delivery = sub.next().await;
    assert_eq!(
        delivery.header("content-type"),
        Some("application/cloudevents+json; charset=utf-8")
    );
    assert_eq!(delivery.header("aeg-event-type"), Some("Notification"));
    assert_eq!(delivery.header("aeg-metadata-version"), Some("1.0"));
    let event = delivery.json();
    assert!(event.is_object(), "{event}");
    assert_eq!(event["specversion"], "1.0");
    assert_eq!(event["type"], "Microsoft.KeyVault.SecretNewVersionCreated");
    assert!(
        event["source"]
            .as_str()
            .unwrap()
            .ends_with("/vaults/myvault")
    );
    assert_eq!(event["data"]["NBF"], 1700000000);
    assert_eq!(event["data"]["EXP"], 4102444800_i64);
    assert_secret_event(&delivery, &version);
}

#[tokio::test]
async fn a_failed_handshake_creates_nothing_and_says_what_the_endpoint_answered() {
    let emu = emulator().await;
    let refusing = Listener::start(|_, _| Reply::Status(401)).await;
    let error = emu
        .add_subscription(Subscription::new("refused", refusing.url("/events")))
        .await
        .unwrap_err();
    assert_eq!(error.status, 400);
    assert!(
        error.message.contains("SubscriptionValidationEvent"),
        "{}",
        error.message
    );
    assert!(
        error.message.contains("401 Unauthorized"),
        "{}",
        error.message
    );

    // 200 without the code is not a validation either.
    let silent = Listener::start(|_, _| Reply::Status(200)).await;
    let error = emu
        .add_subscription(Subscription::new("silent", silent.url("/events")))
        .await
        .unwrap_err();
    assert!(
        error.message.contains("without the validation code"),
        "{}",
        error.message
    );

    // A CloudEvents endpoint that does not consent.
    let error = emu
        .add_subscription(
            Subscription::new("no-origin", silent.url("/events")).schema(Schema::CloudEvents),
        )
        .await
        .unwrap_err();
    assert!(
        error.message.contains("WebHook-Allowed-Origin"),
        "{}",
        error.message
    );

    // Nobody listening.
    let closed = format!("http://{}/events", free_address().await);
    let error = emu
        .add_subscription(Subscription::new("nobody", closed))
        .await
        .unwrap_err();
    assert!(error.message.contains("got no answer"), "{}", error.message);

    // Over the control API: 400 with the reason; invalid bodies 400, duplicates 409.
    let control = format!(
        "http://{}/_emulator/eventgrid/subscriptions",
        emu.http_addr()
    );
    let http = reqwest::Client::new();
    let answer = http
        .post(&control)
        .json(
            &json!({"name": "refused", "endpoint": refusing.url("/events"), "schema": "eventgrid"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 400);
    let body: Value = answer.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("401 Unauthorized"),
        "{body}"
    );
    for bad in [
        json!({"name": "x", "endpoint": refusing.url("/")}),
        json!({"name": "remote", "endpoint": "http://example.com/events"}),
        json!({"name": "typo", "endpoint": refusing.url("/"), "shema": "eventgrid"}),
        json!({"name": "kinds", "endpoint": refusing.url("/"), "event_types": ["Nope"]}),
    ] {
        let answer = http.post(&control).json(&bad).send().await.unwrap();
        assert_eq!(answer.status(), 400, "{bad}");
    }
    assert!(emu.subscriptions().is_empty());
    let handshakes = outcomes(&emu.deliveries());
    assert_eq!(handshakes.len(), 5, "{handshakes:?}");
    assert!(
        handshakes
            .iter()
            .all(|(_, _, outcome)| *outcome == Outcome::Refused)
    );

    let mut good = Listener::consenting().await;
    subscribe(&emu, &mut good, |l| Subscription::new("dup", l.url("/"))).await;
    let answer = http
        .post(&control)
        .json(&json!({"name": "DUP", "endpoint": good.url("/")}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 409);
}

async fn free_address() -> std::net::SocketAddr {
    let socket = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    socket.local_addr().unwrap()
}

/// The emulator's Entra signing keys, from the keys document its discovery names.
async fn entra_keys(emu: &Emulator) -> jsonwebtoken::jwk::JwkSet {
    let url = format!(
        "https://localhost:{}/{}/discovery/v2.0/keys",
        emu.https_addr().port(),
        emu.tenant_id()
    );
    emu.client()
        .get(url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn each_credential_is_carried_on_the_handshake_and_every_delivery_and_journaled_without_value()
 {
    let emu = emulator().await;
    let mut entra = Listener::consenting().await;
    let mut header = Listener::consenting().await;
    let mut query = Listener::consenting().await;
    let handshakes = [
        subscribe(&emu, &mut entra, |l| {
            Subscription::new("entra", l.url("/e")).auth(SubscriptionAuth::Entra {
                application_id: "api://kvref-webhook".into(),
            })
        })
        .await,
        subscribe(&emu, &mut header, |l| {
            Subscription::new("header", l.url("/h")).auth(SubscriptionAuth::SharedSecret {
                header: "x-kvref-secret".into(),
                value: "header-secret-value".into(),
            })
        })
        .await,
        subscribe(&emu, &mut query, |l| {
            Subscription::new("query", l.url("/q?fixed=1")).auth(SubscriptionAuth::QuerySecret {
                name: "code".into(),
                value: "query-secret-value".into(),
            })
        })
        .await,
    ];
    emu.set_secret("myvault", "DbPassword", "rotated").await;
    let deliveries = [entra.next().await, header.next().await, query.next().await];

    let keys = entra_keys(&emu).await;
    for request in [&handshakes[0], &deliveries[0]] {
        let bearer = request.header("authorization").expect("a bearer token");
        let token = bearer.strip_prefix("Bearer ").expect("Bearer");
        let kid = jsonwebtoken::decode_header(token)
            .unwrap()
            .kid
            .expect("a kid");
        let key = keys.find(&kid).expect("the key is published");
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        validation.set_audience(&["api://kvref-webhook"]);
        validation.set_issuer(&[format!("https://sts.windows.net/{}/", emu.tenant_id())]);
        let claims = jsonwebtoken::decode::<Value>(
            token,
            &jsonwebtoken::DecodingKey::from_jwk(key).unwrap(),
            &validation,
        )
        .expect("signed by the emulator's Entra key")
        .claims;
        assert_eq!(claims["appid"], kvref_emulator::EVENT_GRID_APP_ID);
        assert_eq!(claims["tid"], emu.tenant_id());
    }
    for request in [&handshakes[1], &deliveries[1]] {
        assert_eq!(
            request.header("x-kvref-secret"),
            Some("header-secret-value")
        );
        assert_eq!(request.header("authorization"), None);
    }
    for request in [&handshakes[2], &deliveries[2]] {
        assert_eq!(request.uri.query(), Some("fixed=1&code=query-secret-value"));
    }

    emu.deliveries_settled().await;
    let journal = emu.deliveries();
    assert_eq!(journal.len(), 6);
    assert!(journal.iter().all(|e| e.endpoint == Endpoint::EventGrid));
    let entra_entries: Vec<_> = journal.iter().filter(|e| e.path == "/e").collect();
    assert!(entra_entries.iter().all(|e| e.authorization));
    assert!(
        journal
            .iter()
            .filter(|e| e.path == "/q")
            .all(|e| e.query == "fixed=1&code=***")
    );
    let over_http = reqwest::get(format!("http://{}/_emulator/requests", emu.http_addr()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let listed = reqwest::get(format!(
        "http://{}/_emulator/eventgrid/subscriptions",
        emu.http_addr()
    ))
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    let bearer = deliveries[0].header("authorization").unwrap().to_owned();
    let token = bearer.trim_start_matches("Bearer ");
    for text in [
        over_http,
        listed,
        format!("{journal:?}"),
        format!("{:?}", emu.subscriptions()),
    ] {
        for secret in ["header-secret-value", "query-secret-value", token] {
            assert!(!text.contains(secret), "a secret leaked: {text}");
        }
    }
}

#[tokio::test]
async fn a_503_is_retried_until_delivered_and_a_400_is_dead_lettered_at_once() {
    let emu = emulator().await;
    // Handshake (0) consents; then 503, 503, 200.
    let mut flaky = Listener::start(|_, n| match n {
        0 => Reply::Consent,
        1 | 2 => Reply::Status(503),
        _ => Reply::Status(200),
    })
    .await;
    subscribe(&emu, &mut flaky, |l| Subscription::new("flaky", l.url("/"))).await;
    emu.set_secret("myvault", "DbPassword", "rotated").await;
    emu.deliveries_settled().await;
    let attempts = flaky.drain();
    let counts: Vec<_> = attempts
        .iter()
        .map(|r| r.header("aeg-delivery-count").unwrap())
        .collect();
    assert_eq!(counts, ["0", "1", "2"]);
    let ids: Vec<_> = attempts.iter().map(|r| r.json()[0]["id"].clone()).collect();
    assert!(
        ids.iter().all(|id| *id == ids[0]),
        "one event, delivered again: {ids:?}"
    );
    let journal = notifications(&emu);
    assert_eq!(
        outcomes(&journal),
        [
            (1, 503, Outcome::Retrying),
            (2, 503, Outcome::Retrying),
            (3, 200, Outcome::Delivered)
        ]
    );
    assert!(
        journal
            .iter()
            .all(|e| e.eventgrid.as_ref().unwrap().event_id == ids[0])
    );

    for (status, retried) in [
        (400, false),
        (401, false),
        (403, false),
        (413, false),
        (408, true),
        (429, true),
        (500, true),
    ] {
        let emu = emulator().await;
        let mut once = Listener::start(move |_, n| match n {
            0 => Reply::Consent,
            1 => Reply::Status(status),
            _ => Reply::Status(204),
        })
        .await;
        subscribe(&emu, &mut once, |l| Subscription::new("once", l.url("/"))).await;
        emu.set_secret("myvault", "DbPassword", "rotated").await;
        emu.deliveries_settled().await;
        let expected: &[(u32, u16, Outcome)] = if retried {
            &[(1, status, Outcome::Retrying), (2, 204, Outcome::Delivered)]
        } else {
            &[(1, status, Outcome::DeadLettered)]
        };
        assert_eq!(outcomes(&notifications(&emu)), expected, "status {status}");
        assert_eq!(once.drain().len(), expected.len());
    }
}

#[tokio::test]
async fn no_answer_in_time_or_no_listener_is_retried_up_to_max_attempts() {
    let config = config()
        .with_eventgrid_timeout(Duration::from_millis(200))
        .with_eventgrid_max_attempts(3);
    let emu = Emulator::start(config).await.unwrap();
    let mut slow = Listener::start(|_, n| match n {
        0 => Reply::Consent,
        1 => Reply::Hang,
        _ => Reply::Status(200),
    })
    .await;
    subscribe(&emu, &mut slow, |l| Subscription::new("slow", l.url("/"))).await;
    emu.set_secret("myvault", "DbPassword", "rotated").await;
    emu.deliveries_settled().await;
    assert_eq!(
        outcomes(&notifications(&emu)),
        [(1, 0, Outcome::Retrying), (2, 200, Outcome::Delivered)]
    );
    let error = notifications(&emu)[0]
        .eventgrid
        .clone()
        .unwrap()
        .error
        .unwrap();
    assert!(error.contains("timed out"), "{error}");
}

async fn officer_token(emu: &Emulator) -> String {
    let url = format!(
        "https://localhost:{}/{}/oauth2/v2.0/token",
        emu.https_addr().port(),
        emu.tenant_id()
    );
    let body: Value = emu
        .client()
        .post(url)
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", SP_CLIENT_ID),
            ("client_secret", SP_SECRET),
            ("scope", "https://vault.azure.net/.default"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

fn with_eventgrid(section: &str) -> String {
    format!("{}\n{section}", EmulatorConfig::sample_toml())
}

#[tokio::test]
async fn configured_subscriptions_get_data_plane_puts_and_a_closed_port_is_given_up_on() {
    let mut sub = Listener::consenting().await;
    let closed = free_address().await;
    let toml = with_eventgrid(&format!(
        r#"
[eventgrid]
retry_delays_ms = [1]
max_attempts = 2
timeout_ms = 10000

[[eventgrid.subscriptions]]
name = "from-config"
endpoint = "{}"
schema = "cloudevents"
auth = {{ shared_secret = {{ header = "x-kvref-secret", value = "configured-secret" }} }}
event_types = ["Microsoft.KeyVault.SecretNewVersionCreated"]

[[eventgrid.subscriptions]]
name = "closed"
endpoint = "http://{closed}/events"
"#,
        sub.url("/cfg")
    ));
    let config = EmulatorConfig::from_toml_str(&toml).expect("a valid configuration");
    let emu = Emulator::start(config).await.unwrap();
    let names: Vec<_> = emu.subscriptions().into_iter().map(|s| s.name).collect();
    assert_eq!(names, ["from-config", "closed"]);

    let token = officer_token(&emu).await;
    let version = version_of(
        emu.client()
            .put(format!(
                "{}/secrets/DbPassword?api-version=7.5",
                emu.vault_url("myvault")
            ))
            .bearer_auth(&token)
            .json(&json!({"value": "put-by-the-data-plane"})),
    )
    .await;

    // Created before the emulator started: no handshake, the first request is the delivery.
    let delivery = sub.next().await;
    assert_eq!(delivery.method, "POST");
    assert_eq!(delivery.header("x-kvref-secret"), Some("configured-secret"));
    assert_eq!(
        delivery.header("aeg-subscription-name"),
        Some("FROM-CONFIG")
    );
    assert_secret_event(&delivery, &version);

    emu.deliveries_settled().await;
    let closed_entries: Vec<_> = notifications(&emu)
        .into_iter()
        .filter(|e| e.eventgrid.as_ref().unwrap().subscription == "closed")
        .collect();
    assert_eq!(
        outcomes(&closed_entries),
        [(1, 0, Outcome::Retrying), (2, 0, Outcome::GaveUp)]
    );
    let error = closed_entries[0].eventgrid.clone().unwrap().error.unwrap();
    assert!(error.contains("connection failed"), "{error}");
}

#[test]
fn the_eventgrid_section_is_validated_like_the_rest() {
    for (section, says) in [
        ("[eventgrid]\nmax_attempts = 0\n", "max_attempts"),
        ("[eventgrid]\ntimeout_ms = 0\n", "timeout_ms"),
        ("[eventgrid]\nretries = 3\n", "retries"),
        (
            "[[eventgrid.subscriptions]]\nname = \"sub-1\"\nendpoint = \"http://example.com/\"\n",
            "https",
        ),
        (
            "[[eventgrid.subscriptions]]\nname = \"sub-1\"\nendpoint = \"https://localhost/\"\nschema = \"avro\"\n",
            "cloudevents",
        ),
        (
            "[[eventgrid.subscriptions]]\nname = \"sub-1\"\nendpoint = \"https://localhost/\"\n[[eventgrid.subscriptions]]\nname = \"SUB-1\"\nendpoint = \"https://localhost/\"\n",
            "duplicate",
        ),
        (
            "[[eventgrid.subscriptions]]\nname = \"sub-1\"\nendpoint = \"https://localhost/\"\nauth = { query_secret = { name = \"code\", value = \"\" } }\n",
            "query_secret",
        ),
    ] {
        let toml = with_eventgrid(section);
        let error = EmulatorConfig::from_toml_str(&toml).expect_err(section);
        assert!(error.to_string().contains(says), "{section}: {error}");
        let sample_lines = EmulatorConfig::sample_toml().lines().count();
        assert!(
            error.line().is_some_and(|line| line > sample_lines),
            "{section}: {error}"
        );
    }
}

#[tokio::test]
async fn event_types_filter_and_a_removed_subscription_gets_nothing() {
    let emu = emulator().await;
    let mut expiry_only = Listener::consenting().await;
    let mut removed = Listener::consenting().await;
    let mut kept = Listener::consenting().await;
    subscribe(&emu, &mut expiry_only, |l| {
        Subscription::new("expiry-only", l.url("/"))
            .event_types(["Microsoft.KeyVault.SecretNearExpiry"])
    })
    .await;
    subscribe(&emu, &mut removed, |l| {
        Subscription::new("removed", l.url("/"))
    })
    .await;
    subscribe(&emu, &mut kept, |l| Subscription::new("kept", l.url("/"))).await;
    let delete = reqwest::Client::new()
        .delete(format!(
            "http://{}/_emulator/eventgrid/subscriptions/REMOVED",
            emu.http_addr()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), 204);
    let names: Vec<_> = emu.subscriptions().into_iter().map(|s| s.name).collect();
    assert_eq!(names, ["expiry-only", "kept"]);

    let version = emu.set_secret("myvault", "DbPassword", "rotated").await;
    emu.deliveries_settled().await;
    assert_secret_event(&kept.next().await, &version);
    assert!(expiry_only.drain().is_empty());
    assert!(removed.drain().is_empty());
    assert_eq!(notifications(&emu).len(), 1);
}
