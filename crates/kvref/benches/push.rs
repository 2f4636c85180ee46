//! Push refresh end to end: the time from the emulator's data-plane `PUT` of a new secret
//! version (real HTTPS) to the swap in `Live`, through the emulator's Event Grid (a real HTTP
//! delivery) and `kvref::events::Webhook` on a small server of the bench's own, over 50
//! rotations, with a shared secret and with Entra protected delivery (RS256 checked). Prints
//! the median, p99 and maximum. Run with `cargo bench -p kvref --bench push`.

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use http::HeaderName;
use kvref::Resolved;
use kvref::events::{EntraAuth, SharedSecret, Webhook};
use kvref::live::Live;
use kvref::secrecy::{ExposeSecret, SecretString};
use kvref_emulator::{Emulator, Subscription, SubscriptionAuth};
use serde_json::Value;
use support::emu;

#[path = "../tests/it/push_e2e_server.rs"]
mod server;
use tokio::sync::mpsc;

const ROTATIONS: usize = 50;
const APP_ID: &str = "5b2d0c7e-1f3a-4e6b-9c8d-7a6b5c4d3e2f";
const SECRET: &str = "bench-push-shared-secret";

fn value(resolved: &Resolved) -> Result<String, String> {
    let (_, _, secret) = resolved.secrets().next().ok_or("s0 did not resolve")?;
    Ok(secret.expose_secret().to_owned())
}

/// A Key Vault token for the app's identity (a Secrets Officer here), from App Service's endpoint.
async fn officer_token(emu: &Emulator) -> String {
    let env = emu.env("app_service");
    let url = format!(
        "{}?resource=https://vault.azure.net&api-version=2019-08-01",
        env["IDENTITY_ENDPOINT"]
    );
    let body: Value = reqwest::Client::new()
        .get(url)
        .header("X-IDENTITY-HEADER", &env["IDENTITY_HEADER"])
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("token JSON");
    body["access_token"].as_str().expect("a token").to_owned()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// `ROTATIONS` data-plane PUTs, each timed until the swap the push caused.
async fn measure(label: &str, emu: &Emulator, live: &Live<String>, token: &str) {
    // Stamps each swap the moment the refresher publishes it.
    let (stamps, mut swapped) = mpsc::unbounded_channel();
    let mut generations = live.subscribe();
    tokio::spawn(async move {
        while generations.changed().await.is_ok() {
            let _ = stamps.send((Instant::now(), *generations.borrow_and_update()));
        }
    });
    let url = format!("{}/secrets/s0?api-version=7.5", emu.vault_url("benchpush"));
    let client = emu.client();
    let (mut to_swap, mut to_answer) = (Vec::new(), Vec::new());
    for round in 0..ROTATIONS {
        let expected = format!("{label}-{round}");
        let started = Instant::now();
        let put = client
            .put(&url)
            .bearer_auth(token)
            .json(&serde_json::json!({ "value": expected }))
            .send()
            .await
            .expect("PUT");
        assert_eq!(put.status(), 200);
        to_answer.push(started.elapsed());
        let (at, _) = swapped.recv().await.expect("a swap");
        assert_eq!(
            live.load().as_str(),
            expected,
            "the swap is this rotation's"
        );
        to_swap.push(at - started);
    }
    to_swap.sort();
    to_answer.sort();
    println!(
        "{label}: PUT -> swap in Live over {ROTATIONS} rotations: median {:?}, p99 {:?}, max {:?} \
         (the PUT's own answer: median {:?})",
        percentile(&to_swap, 0.5),
        percentile(&to_swap, 0.99),
        to_swap[to_swap.len() - 1],
        percentile(&to_answer, 0.5),
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run());
}

async fn run() {
    let toml = emu::vaults_toml(&["benchpush"], 1)
        .replace("Key Vault Secrets User", "Key Vault Secrets Officer");
    let emu = emu::start(&toml).await;
    let token = officer_token(&emu).await;
    for variant in ["shared-secret", "entra"] {
        let resolver = emu::resolver(&emu, emu::credential(&emu))
            .build()
            .expect("resolver");
        let settings = [(
            "db.password",
            "@KeyVault(VaultName=benchpush;SecretName=s0)",
        )];
        // The timer is an hour away: every swap measured comes from a push.
        let live = Live::builder(resolver, settings, value)
            .interval(Duration::from_secs(3600))
            .start()
            .await
            .expect("live");
        let (webhook, auth) = match variant {
            "entra" => {
                let transport = kvref::transport::HttpTransport::builder()
                    .add_root_certificate_pem(emu.ca_cert_pem())
                    .build()
                    .expect("transport");
                let entra = EntraAuth::builder(emu.tenant_id(), APP_ID)
                    .authority(format!("https://localhost:{}", emu.https_addr().port()))
                    .transport(transport)
                    .build()
                    .expect("entra");
                let webhook = Webhook::builder(live.clone()).entra(entra).build();
                let auth = SubscriptionAuth::Entra {
                    application_id: APP_ID.into(),
                };
                (webhook, auth)
            }
            _ => {
                let secret = SharedSecret::header(
                    HeaderName::from_static("x-kvref-secret"),
                    [SecretString::from(SECRET)],
                );
                let webhook = Webhook::builder(live.clone()).shared_secret(secret).build();
                let auth = SubscriptionAuth::SharedSecret {
                    header: "x-kvref-secret".into(),
                    value: SECRET.into(),
                };
                (webhook, auth)
            }
        };
        let server = server::Server::start(webhook.expect("webhook")).await;
        let endpoint = server.endpoint();
        emu.add_subscription(Subscription::new(variant, endpoint).auth(auth))
            .await
            .expect("subscribed");
        measure(variant, &emu, &live, &token).await;
        assert!(emu.remove_subscription(variant));
    }
}
