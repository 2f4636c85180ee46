//! kvref-example-actix end to end: the API key from Key Vault admits callers; after it rotates
//! and Event Grid says so, the new key is admitted and the old one refused.

use serde_json::Value;

/// kvref-figment names keys with their profile.
const KEY_SETTING: &str = "default.api.key";
const SECRET: (&str, &str) = ("myvault", "ApiKey");
const OLD_KEY: &str = "api-key-from-the-emulator";
const NEW_KEY: &str = "api-key-rotated-by-the-e2e-test";
const VALUES: [&str; 3] = [OLD_KEY, NEW_KEY, "db-password-from-the-emulator"];

/// `GET /v1/report` with `key` (or none): the status and, when admitted, the key version.
async fn report(client: &reqwest::Client, url: &str, key: Option<&str>) -> (u16, Option<String>) {
    let mut request = client.get(url);
    if let Some(key) = key {
        request = request.header("x-api-key", key);
    }
    let response = request.send().await.expect("report");
    let status = response.status().as_u16();
    let body = response.text().await.unwrap();
    if let Some(key) = key {
        assert!(!body.contains(key), "the key is not served");
    }
    let version = serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|b| b["api_key_version"].as_str().map(str::to_owned));
    (status, version)
}

pub(crate) async fn scenario() {
    let mut run = crate::begin(("actix", "cloudevents"), KEY_SETTING, SECRET, &VALUES).await;
    let reports = run.server.url("/v1/report");
    assert_eq!(report(&run.client, &reports, None).await, (401, None));
    assert_eq!(
        report(&run.client, &reports, Some("wrong")).await,
        (401, None)
    );
    let old = Some(run.version.clone());
    assert_eq!(
        report(&run.client, &reports, Some(OLD_KEY)).await,
        (200, old)
    );

    let new = run.rotate(SECRET, NEW_KEY).await;
    assert_eq!(
        report(&run.client, &reports, Some(NEW_KEY)).await,
        (200, Some(new.clone()))
    );
    assert_eq!(
        report(&run.client, &reports, Some(OLD_KEY)).await,
        (401, None)
    );
    run.finish("actix", KEY_SETTING, SECRET, &new, &VALUES)
        .await;
}
