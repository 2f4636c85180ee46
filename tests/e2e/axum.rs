//! kvref-example-axum end to end: receipts signed with the key from Key Vault, verified here,
//! before and after the key rotates and Event Grid says so.

use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use crate::delivery;

const KEY_SETTING: &str = "signing.key";
const OLD_KEY: &str = "receipt-signing-key-from-the-emulator";
const NEW_KEY: &str = "receipt-signing-key-rotated-by-the-e2e-test";

/// Checks a receipt's signature against `key` and returns its key version header.
async fn receipt(client: &reqwest::Client, url: &str, key: &str) -> String {
    let response = client.get(url).send().await.expect("receipt");
    assert_eq!(response.status(), 200);
    let signature = response.headers()["x-signature"]
        .to_str()
        .unwrap()
        .to_owned();
    let version = response.headers()["x-signature-key-version"]
        .to_str()
        .unwrap()
        .to_owned();
    let body = response.bytes().await.unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(&body);
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    assert_eq!(signature, expected, "the receipt is signed with {key:?}");
    let json: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["order"], "42");
    assert_eq!(json["key_version"], version.as_str());
    assert!(
        !String::from_utf8_lossy(&body).contains(key),
        "the key is not served"
    );
    version
}

pub(crate) async fn scenario() {
    let emulator = crate::emulator().await;
    let mut server = crate::start("axum", &emulator).await;
    assert_eq!(server.ready["events"]["path"], "/events/keyvault");
    let application_id = server.ready["events"]["application_id"]
        .as_str()
        .expect("the ready line names the application")
        .to_owned();
    let client = reqwest::Client::new();

    let health: Value = client
        .get(server.url("/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok", "{health}");
    let old = crate::health_version(&health, KEY_SETTING);
    let db = health["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["key"] == "database.password")
        .cloned();
    assert_eq!(
        db.as_ref().map(|d| d["vault"].clone()),
        Some("myvault".into()),
        "{health}"
    );
    assert_eq!(
        db.map(|d| d["secret"].clone()),
        Some("DbPassword".into()),
        "{health}"
    );
    for value in [OLD_KEY, "db-password-from-the-emulator"] {
        assert!(
            !health.to_string().contains(value),
            "/health shows no value"
        );
    }
    let receipts = server.url("/v1/receipt?order=42");
    assert_eq!(receipt(&client, &receipts, OLD_KEY).await, old);

    let webhook = server.url("/events/keyvault");
    let new = emulator
        .set_secret("myvault", "ResponseSigningKey", NEW_KEY)
        .await;
    let secret = ("myvault", "ResponseSigningKey", new.as_str());
    assert_eq!(delivery::push_forged(&client, &webhook, secret).await, 401);
    assert_eq!(
        delivery::push_rotation(&client, &webhook, &emulator, &application_id, secret).await,
        200
    );
    server
        .wait_for_log(&["settings: new snapshot in use", "generation=1", &new])
        .await;

    assert_eq!(receipt(&client, &receipts, NEW_KEY).await, new);
    let health: Value = client
        .get(server.url("/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(crate::health_version(&health, KEY_SETTING), new);
    assert_eq!(health["refresh"]["generation"], 1, "{health}");
    assert_eq!(health["refresh"]["events"]["accepted"], 1, "{health}");
    assert_eq!(health["refresh"]["events"]["rejected"], 1, "{health}");

    drop(client);
    crate::stop(server, "axum", &[OLD_KEY, NEW_KEY]).await;
}
