//! kvref-example-axum end to end: receipts signed with the key from Key Vault, verified here,
//! before and after the key rotates and Event Grid says so.

use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

const KEY_SETTING: &str = "signing.key";
const SECRET: (&str, &str) = ("myvault", "ResponseSigningKey");
const OLD_KEY: &str = "receipt-signing-key-from-the-emulator";
const NEW_KEY: &str = "receipt-signing-key-rotated-by-the-e2e-test";
const VALUES: [&str; 3] = [OLD_KEY, NEW_KEY, "db-password-from-the-emulator"];

/// Checks a receipt's signature against `key` and returns its key version header.
async fn receipt(client: &reqwest::Client, url: &str, key: &str) -> String {
    let response = client.get(url).send().await.expect("receipt");
    assert_eq!(response.status(), 200);
    let header = |name: &str| response.headers()[name].to_str().unwrap().to_owned();
    let (signature, version) = (header("x-signature"), header("x-signature-key-version"));
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
    let mut run = crate::begin(("axum", "eventgrid"), KEY_SETTING, SECRET, &VALUES).await;
    let receipts = run.server.url("/v1/receipt?order=42");
    assert_eq!(receipt(&run.client, &receipts, OLD_KEY).await, run.version);

    let new = run.rotate(SECRET, NEW_KEY).await;
    assert_eq!(receipt(&run.client, &receipts, NEW_KEY).await, new);
    run.finish("axum", KEY_SETTING, SECRET, &new, &VALUES).await;
}
