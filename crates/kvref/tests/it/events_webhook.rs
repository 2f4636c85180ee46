//! `kvref::events::Webhook` through a real HTTP server (a tiny axum router of the test's own on
//! 127.0.0.1) in front of a `Live` over the emulator: pushed rotations reach `load()`, events
//! that name nothing followed make no Key Vault request, duplicates cost one GET, the
//! handshakes, and refused deliveries (shared secret, Entra tokens signed by the emulator's
//! Entra key) that do no work.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::stream::{self, StreamExt};
use http::{HeaderName, StatusCode};
use kvref::Resolved;
use kvref::events::{EVENT_GRID_APP_ID, EntraAuth, Event, EventKind, SharedSecret, Webhook};
use kvref::live::Live;
use kvref::secrecy::{ExposeSecret, SecretString};
use kvref_emulator::{Emulator, JournalEntry};
use serde_json::{Value, json};

use crate::support::emu;

const SECRET: &str = "the-webhook-secret";
const APP_ID: &str = "11111111-2222-3333-4444-555555555555";

/// `a` follows vault1/s0, `b` vault1/s1, `c` a pinned version of vault1/s2.
#[derive(Debug)]
struct Three {
    a: String,
    b: String,
    c: String,
}

fn three(resolved: &Resolved) -> Result<Three, String> {
    let value = |key: &str| {
        resolved
            .secrets()
            .find(|(_, o, _)| o.key() == key)
            .map(|(_, _, s)| s.expose_secret().to_owned())
            .ok_or_else(|| format!("{key} did not resolve"))
    };
    Ok(Three {
        a: value("a")?,
        b: value("b")?,
        c: value("c")?,
    })
}

struct Fixture {
    emu: Emulator,
    live: Live<Three>,
    pinned: String,
}

impl Fixture {
    async fn start() -> Fixture {
        let emu = emu::start(&emu::vaults_toml(&["vault1", "vault2"], 3)).await;
        let pinned = emu.set_secret("vault1", "s2", "pinned-value").await;
        let resolver = emu::resolver(&emu, emu::credential(&emu))
            .build()
            .expect("resolver");
        let c = format!("@KeyVault(VaultName=vault1;SecretName=s2;SecretVersion={pinned})");
        let settings = vec![
            (
                "a".to_owned(),
                "@KeyVault(VaultName=vault1;SecretName=s0)".to_owned(),
            ),
            (
                "b".to_owned(),
                "@KeyVault(VaultName=vault1;SecretName=S1)".to_owned(),
            ),
            ("c".to_owned(), c),
        ];
        let live = Live::builder(resolver, settings, three)
            .interval(Duration::from_secs(24 * 3600))
            .jitter(0.0)
            .start()
            .await
            .expect("live starts");
        emu.clear_requests().await;
        Fixture { emu, live, pinned }
    }

    fn webhook(&self) -> Webhook {
        let secret = SharedSecret::query("code", [SecretString::from(SECRET)]);
        Webhook::builder(self.live.clone())
            .shared_secret(secret)
            .build()
            .expect("webhook")
    }

    async fn secret_gets(&self) -> Vec<JournalEntry> {
        emu::vault_requests(&self.emu)
            .await
            .into_iter()
            .filter(|e| e.method == "GET" && e.path.starts_with("/secrets/"))
            .collect()
    }
}

/// Serves `webhook` at `/events` on 127.0.0.1 and returns the address.
async fn serve(webhook: Webhook) -> SocketAddr {
    let app = axum::Router::new().route(
        "/events",
        axum::routing::any(move |request: axum::extract::Request| {
            let webhook = webhook.clone();
            async move {
                let (parts, body) = request.into_parts();
                let Ok(body) = axum::body::to_bytes(body, webhook.max_body()).await else {
                    let mut too_large = http::Response::new(axum::body::Body::empty());
                    *too_large.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
                    return too_large;
                };
                let response = webhook
                    .handle(&http::Request::from_parts(parts, body))
                    .await;
                response.map(axum::body::Body::from)
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

fn client() -> reqwest::Client {
    kvref::transport::HttpTransport::builder()
        .build()
        .expect("transport")
        // The identity client speaks plain http (IMDS does); the test's server is http.
        .identity_client()
        .clone()
}

/// An Event Grid schema delivery of one SecretNewVersionCreated.
fn new_version(id: &str, vault: &str, name: &str, version: &str) -> String {
    json!([{
        "id": id,
        "topic": format!("/subscriptions/x/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/{vault}"),
        "subject": name,
        "eventType": "Microsoft.KeyVault.SecretNewVersionCreated",
        "data": {
            "Id": format!("https://{vault}.vault.azure.net/secrets/{name}/{version}"),
            "VaultName": vault, "ObjectType": "Secret", "ObjectName": name, "Version": version,
            "NBF": null, "EXP": null,
        },
        "dataVersion": "1", "metadataVersion": "1", "eventTime": "2025-01-01T00:00:00.0000000Z",
    }])
    .to_string()
}

async fn post(addr: SocketAddr, query: &str, body: String) -> StatusCode {
    post_with(addr, query, body, None).await
}

thread_local! {
    /// One client per test (each test has its own thread and runtime), so that a burst of
    /// requests reuses connections instead of building a client each.
    static CLIENT: reqwest::Client = client();
}

async fn post_with(
    addr: SocketAddr,
    query: &str,
    body: String,
    bearer: Option<&str>,
) -> StatusCode {
    let mut request = CLIENT
        .with(Clone::clone)
        .post(format!("http://{addr}/events{query}"))
        .header("content-type", "application/json; charset=utf-8")
        .header("aeg-event-type", "Notification")
        .body(body);
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    request.send().await.expect("POST").status()
}

/// Waits (without sleeping) until the snapshot's generation moves past `seen`.
async fn next_generation(live: &Live<Three>, seen: u64) -> u64 {
    let mut generation = live.subscribe();
    let wait = generation.wait_for(|g| *g > seen);
    let moved = tokio::time::timeout(Duration::from_secs(30), wait)
        .await
        .expect("the push reached the snapshot")
        .expect("refresher running");
    *moved
}

#[tokio::test]
async fn a_pushed_rotation_reaches_load_with_one_get_of_that_secret() {
    let fx = Fixture::start().await;
    let addr = serve(fx.webhook()).await;
    let version = fx.emu.set_secret("vault1", "s0", "rotated-by-push").await;

    let status = post(
        addr,
        "?code=the-webhook-secret",
        new_version("e1", "VAULT1", "S0", &version),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(next_generation(&fx.live, 0).await, 1);

    assert_eq!(fx.live.load().a, "rotated-by-push");
    assert_eq!(fx.live.load().b, "value-vault1-1");
    let gets = fx.secret_gets().await;
    assert_eq!(gets.len(), 1, "{gets:?}");
    assert!(
        gets[0].path.eq_ignore_ascii_case("/secrets/s0/"),
        "{gets:?}"
    );
    assert_eq!(
        fx.live.status().versions[0].version.as_deref(),
        Some(version.as_str())
    );
}

#[tokio::test]
async fn events_for_other_vaults_secrets_pinned_references_or_types_make_no_request() {
    let fx = Fixture::start().await;
    let addr = serve(fx.webhook()).await;
    let q = "?code=the-webhook-secret";
    for body in [
        new_version("o1", "vault2", "s0", "v2"),
        new_version("o2", "vault1", "s9", "v2"),
        new_version("o3", "vault1", "s2", "0123456789abcdef0123456789abcdef"),
        json!([{"id": "o4", "eventType": "Microsoft.KeyVault.KeyNewVersionCreated", "subject": "s0",
                "data": {"VaultName": "vault1", "ObjectName": "s0"}}]).to_string(),
    ] {
        assert_eq!(post(addr, q, body).await, StatusCode::OK);
    }
    // The same events straight to the Live: nothing scheduled.
    let events = [
        Event::new_version("vault2.vault.azure.net", "s0"),
        Event::new_version("vault1", "s9"),
        Event::new_version("vault1", "s2"),
    ];
    let pushed = fx.live.push(&events).unwrap();
    assert_eq!((pushed.scheduled, pushed.unmatched), (0, 3));
    // Then one that matches: the refresher handles pushes in order, so once this one is in,
    // any request the others had caused would be in the journal too.
    let version = fx.emu.set_secret("vault1", "s1", "rotated-1").await;
    assert_eq!(
        post(addr, q, new_version("m1", "vault1", "s1", &version)).await,
        StatusCode::OK
    );
    next_generation(&fx.live, 0).await;
    let gets = fx.secret_gets().await;
    assert_eq!(gets.len(), 1, "{gets:?}");
    assert!(
        gets[0].path.eq_ignore_ascii_case("/secrets/s1/"),
        "{gets:?}"
    );
    assert_eq!(fx.live.load().c, "pinned-value");
    let _ = &fx.pinned;
}

#[tokio::test]
async fn a_hundred_duplicate_deliveries_cause_one_get() {
    let fx = Fixture::start().await;
    let webhook = fx.webhook();
    let addr = serve(webhook.clone()).await;
    let version = fx.emu.set_secret("vault1", "s0", "rotated-once").await;
    let body = new_version("dup", "vault1", "s0", &version);
    let statuses: Vec<StatusCode> = stream::iter(0..100)
        .map(|_| post(addr, "?code=the-webhook-secret", body.clone()))
        .buffer_unordered(16)
        .collect()
        .await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
    // Another id for the same version (Event Grid's retry after a lost answer): stale.
    let again = new_version("dup-2", "vault1", "s0", &version);
    assert_eq!(
        post(addr, "?code=the-webhook-secret", again).await,
        StatusCode::OK
    );
    next_generation(&fx.live, 0).await;
    assert_eq!(fx.live.load().a, "rotated-once");
    // Everything that could schedule a refresh has been answered; a later, unrelated push
    // is handled after anything pending, so the journal is complete once it is in.
    let v1 = fx.emu.set_secret("vault1", "s1", "rotated-1").await;
    fx.live.push(&[Event::new_version("vault1", "s1")]).unwrap();
    next_generation(&fx.live, 1).await;
    let gets = fx.secret_gets().await;
    let s0 = gets
        .iter()
        .filter(|e| e.path.eq_ignore_ascii_case("/secrets/s0/"))
        .count();
    assert_eq!(s0, 1, "{gets:?}");
    assert_eq!(webhook.stats().accepted, 101);
    assert_eq!(
        fx.live.status().versions[1].version.as_deref(),
        Some(v1.as_str())
    );
}

#[tokio::test]
async fn missing_wrong_and_forged_secrets_get_401_and_no_key_vault_request() {
    let fx = Fixture::start().await;
    let webhook = fx.webhook();
    let addr = serve(webhook.clone()).await;
    fx.emu.set_secret("vault1", "s0", "never-read").await;
    let body = new_version("f1", "vault1", "s0", "ffffffffffffffffffffffffffffffff");
    for query in [
        "",
        "?code=",
        "?code=the-webhook-secreT",
        "?other=the-webhook-secret",
    ] {
        assert_eq!(
            post(addr, query, body.clone()).await,
            StatusCode::UNAUTHORIZED,
            "{query}"
        );
    }
    let forged: Vec<StatusCode> = stream::iter(0..1000)
        .map(|i| async move {
            let query = format!("?code=guess-{i}");
            post(
                addr,
                &query,
                new_version(&format!("f{i}"), "vault1", "s0", "v"),
            )
            .await
        })
        .buffer_unordered(32)
        .collect()
        .await;
    assert!(forged.iter().all(|s| *s == StatusCode::UNAUTHORIZED));
    let stats = webhook.stats();
    assert_eq!((stats.rejected, stats.accepted), (1004, 0), "{stats:?}");
    assert!(emu::vault_requests(&fx.emu).await.is_empty());
    assert_eq!(fx.live.load().a, "value-vault1-0");
}

#[tokio::test]
async fn the_handshakes_validation_post_and_cloudevents_options() {
    let fx = Fixture::start().await;
    let addr = serve(fx.webhook()).await;
    let url = format!("http://{addr}/events?code={SECRET}");
    let validation = r#"[{"id": "2d1781af-3a4c-4d7c-bd0c-e34b19da4e66", "topic": "/subscriptions/x",
        "subject": "", "data": {"validationCode": "512d38b6-c7b8-40c8-89fe-f46f9e9622b6",
        "validationUrl": "https://rp-eastus2.eventgrid.azure.net:553/eventsubscriptions/s/validate?token=1A"},
        "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
        "eventTime": "2022-10-28T04:23:35.1981776Z", "metadataVersion": "1", "dataVersion": "1"}]"#;
    let response = client()
        .post(&url)
        .header("aeg-event-type", "SubscriptionValidation")
        .header("content-type", "application/json")
        .body(validation)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({"validationResponse": "512d38b6-c7b8-40c8-89fe-f46f9e9622b6"})
    );

    let options = |origin: &'static str| {
        client()
            .request(http::Method::OPTIONS, &url)
            .header("WebHook-Request-Origin", origin)
            .header("WebHook-Request-Rate", "120")
            .send()
    };
    let consent = options("eventgrid.azure.net").await.unwrap();
    assert_eq!(consent.status(), StatusCode::OK);
    assert_eq!(
        consent.headers()["webhook-allowed-origin"],
        "eventgrid.azure.net"
    );
    assert_eq!(consent.headers()["webhook-allowed-rate"], "*");
    let refused = options("attacker.example").await.unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(refused.headers().get("webhook-allowed-origin").is_none());

    let get = client().get(&url).send().await.unwrap();
    assert_eq!(get.status(), StatusCode::METHOD_NOT_ALLOWED);
    // Malformed after authentication: 400; unauthenticated malformed: 401 first.
    assert_eq!(
        post(addr, "?code=the-webhook-secret", "{".into()).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(post(addr, "", "{".into()).await, StatusCode::UNAUTHORIZED);
    assert!(emu::vault_requests(&fx.emu).await.is_empty());
}

#[tokio::test]
async fn a_header_secret_accepts_both_values_of_a_rotation() {
    let fx = Fixture::start().await;
    let secret = SharedSecret::header(
        HeaderName::from_static("x-kvref-key"),
        [SecretString::from("old-key"), SecretString::from("new-key")],
    );
    let webhook = Webhook::builder(fx.live.clone())
        .shared_secret(secret)
        .build()
        .unwrap();
    let addr = serve(webhook).await;
    let send = |key: &'static str, id: &'static str| {
        client()
            .post(format!("http://{addr}/events"))
            .header("x-kvref-key", key)
            .body(new_version(id, "vault9", "s0", "v"))
            .send()
    };
    assert_eq!(
        send("old-key", "h1").await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(
        send("new-key", "h2").await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(
        send("older-key", "h3").await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    // No authentication configured: the builder refuses.
    assert!(Webhook::builder(fx.live.clone()).build().is_err());
}

/// Claims shaped like the captured Event Grid token (EVENTGRID.md §4.1), v1.
fn claims(tenant: &str) -> Value {
    let now = jiff::Timestamp::now().as_second();
    json!({
        "aud": APP_ID, "iss": format!("https://sts.windows.net/{tenant}/"),
        "iat": now, "nbf": now, "exp": now + 3600,
        "appid": EVENT_GRID_APP_ID, "appidacr": "2", "oid": "df247a9a", "sub": "df247a9a",
        "tid": tenant, "ver": "1.0",
    })
}

#[tokio::test]
async fn entra_tokens_signed_by_the_tenant_are_accepted_and_wrong_ones_get_401() {
    let fx = Fixture::start().await;
    let tenant = fx.emu.tenant_id().to_owned();
    let transport = kvref::transport::HttpTransport::builder()
        .add_root_certificate_pem(fx.emu.ca_cert_pem())
        .build()
        .unwrap();
    // The emulator's certificate names localhost, not login.microsoftonline.com: it is the
    // authority here (discovery, keys and the v2 issuer), as a sovereign cloud's would be.
    let authority = format!("https://localhost:{}", fx.emu.https_addr().port());
    let entra = EntraAuth::builder(&tenant, APP_ID)
        .authority(&authority)
        .transport(transport)
        .build()
        .unwrap();
    let webhook = Webhook::builder(fx.live.clone())
        .entra(entra)
        .build()
        .unwrap();
    let addr = serve(webhook.clone()).await;
    let body = |id: &str| new_version(id, "vault9", "s0", "v");

    let good = fx.emu.sign_entra_token(&claims(&tenant));
    assert_eq!(
        post_with(addr, "", body("g1"), Some(&good)).await,
        StatusCode::OK
    );
    // v2 shape: login.microsoftonline.com issuer and azp.
    let mut v2 = claims(&tenant);
    v2["iss"] = json!(format!("{authority}/{tenant}/v2.0"));
    v2["azp"] = v2["appid"].take();
    v2.as_object_mut().unwrap().remove("appid");
    let v2 = fx.emu.sign_entra_token(&v2);
    assert_eq!(
        post_with(addr, "", body("g2"), Some(&v2)).await,
        StatusCode::OK
    );

    let now = jiff::Timestamp::now().as_second();
    let mut wrong: Vec<(&str, String)> = Vec::new();
    let mut with = |what: &'static str, change: &dyn Fn(&mut Value)| {
        let mut c = claims(&tenant);
        change(&mut c);
        wrong.push((what, fx.emu.sign_entra_token(&c)));
    };
    with("expired", &|c| {
        c["exp"] = json!(now - 3600);
        c["nbf"] = json!(now - 7200);
    });
    with("not yet valid", &|c| c["nbf"] = json!(now + 3600));
    with("wrong audience", &|c| c["aud"] = json!("someone-else"));
    with("wrong issuer tenant", &|c| {
        c["iss"] = json!("https://sts.windows.net/other-tenant/")
    });
    with("wrong tid", &|c| c["tid"] = json!("other-tenant"));
    with("wrong caller", &|c| {
        c["appid"] = json!("00000000-0000-0000-0000-000000000000")
    });
    with("no caller", &|c| {
        c.as_object_mut().unwrap().remove("appid");
    });
    // Wrongly signed: the emulator's kid, another key.
    let kid = jsonwebtoken::decode_header(&good).unwrap().kid;
    let other = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
    let other = jsonwebtoken::EncodingKey::from_rsa_pem(other.serialize_pem().as_bytes()).unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = kid;
    wrong.push((
        "wrongly signed",
        jsonwebtoken::encode(&header, &claims(&tenant), &other).unwrap(),
    ));
    // HS256 with the public key's bytes, and alg none: refused before any key is used.
    let hs = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims(&tenant),
        &jsonwebtoken::EncodingKey::from_secret(b"guess").unwrap(),
    )
    .unwrap();
    wrong.push(("HS256", hs));
    let parts: Vec<&str> = good.split('.').collect();
    wrong.push((
        "alg none",
        format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{}.", parts[1]),
    ));
    wrong.push(("garbage", "not-a-jwt".into()));

    for (what, token) in &wrong {
        assert_eq!(
            post_with(addr, "", body(what), Some(token)).await,
            StatusCode::UNAUTHORIZED,
            "{what}"
        );
    }
    assert_eq!(
        post_with(addr, "", body("none"), None).await,
        StatusCode::UNAUTHORIZED
    );
    let stats = webhook.stats();
    assert_eq!(
        (stats.accepted, stats.rejected),
        (2, wrong.len() as u64 + 1),
        "{stats:?}"
    );
    assert!(emu::vault_requests(&fx.emu).await.is_empty());
    // The keys were fetched once (discovery + keys), not per request.
    let entra: Vec<_> = fx
        .emu
        .requests()
        .await
        .into_iter()
        .filter(|e| e.endpoint == kvref_emulator::Endpoint::Entra)
        .collect();
    assert_eq!(entra.len(), 2, "{entra:?}");
}

#[test]
fn an_event_kind_is_matched_case_insensitively() {
    let event = Event::new_version("Vault1.Vault.Azure.Net", "DbPassword");
    let EventKind::SecretNewVersionCreated(secret) = &event.kind else {
        panic!("{event:?}")
    };
    assert!(secret.is_secret("vault1.vault.azure.net", "vault1", "dbpassword"));
}

#[tokio::test]
async fn for_resolver_checks_the_emulators_tokens_in_local_mode_and_needs_a_tenant_on_azure() {
    let fx = Fixture::start().await;
    let tenant = fx.emu.tenant_id().to_owned();
    let local = kvref::Resolver::builder()
        .emulator(format!("http://{}", fx.emu.http_addr()))
        .connect(&kvref::Env::default())
        .await
        .unwrap();
    // In local mode the emulator's tenant wins over whatever tenant the app was given.
    let entra = EntraAuth::for_resolver(&local, Some("some-azure-tenant"), APP_ID)
        .unwrap()
        .build()
        .unwrap();
    let webhook = Webhook::builder(fx.live.clone())
        .entra(entra)
        .build()
        .unwrap();
    let addr = serve(webhook).await;
    let body = new_version("local-1", "vault9", "s0", "v");
    let good = fx.emu.sign_entra_token(&claims(&tenant));
    assert_eq!(
        post_with(addr, "", body.clone(), Some(&good)).await,
        StatusCode::OK
    );
    let mut other = claims(&tenant);
    other["aud"] = json!("someone-else");
    let other = fx.emu.sign_entra_token(&other);
    assert_eq!(
        post_with(addr, "", body.clone(), Some(&other)).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(post(addr, "", body).await, StatusCode::UNAUTHORIZED);

    // On Azure (not local mode) the tenant must be named, and the refusal says how.
    let azure = emu::resolver(&fx.emu, emu::credential(&fx.emu))
        .build()
        .unwrap();
    for missing in [None, Some(""), Some("  ")] {
        let error = EntraAuth::for_resolver(&azure, missing, APP_ID).unwrap_err();
        assert!(error.contains("tenant"), "{error}");
    }
    assert!(
        EntraAuth::for_resolver(&azure, Some(&tenant), APP_ID)
            .unwrap()
            .build()
            .is_ok()
    );
}
