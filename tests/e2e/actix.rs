//! kvref-example-actix end to end: the API key from Key Vault admits callers; after it rotates
//! and Event Grid says so, the new key is admitted and the old one refused.

use serde_json::Value;

use crate::delivery;

/// kvref-figment names keys with their profile.
const KEY_SETTING: &str = "default.api.key";
const OLD_KEY: &str = "api-key-from-the-emulator";
const NEW_KEY: &str = "api-key-rotated-by-the-e2e-test";

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
    let emulator = crate::emulator().await;
    let mut server = crate::start("actix", &emulator).await;
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
    for value in [OLD_KEY, "db-password-from-the-emulator"] {
        assert!(
            !health.to_string().contains(value),
            "/health shows no value"
        );
    }
    let reports = server.url("/v1/report");
    assert_eq!(report(&client, &reports, None).await, (401, None));
    assert_eq!(report(&client, &reports, Some("wrong")).await, (401, None));
    assert_eq!(
        report(&client, &reports, Some(OLD_KEY)).await,
        (200, Some(old))
    );

    let webhook = server.url("/events/keyvault");
    let new = emulator.set_secret("myvault", "ApiKey", NEW_KEY).await;
    let secret = ("myvault", "ApiKey", new.as_str());
    assert_eq!(delivery::push_forged(&client, &webhook, secret).await, 401);
    assert_eq!(
        delivery::push_rotation(&client, &webhook, &emulator, &application_id, secret).await,
        200
    );
    server
        .wait_for_log(&["settings: new snapshot in use", "generation=1", &new])
        .await;

    assert_eq!(
        report(&client, &reports, Some(NEW_KEY)).await,
        (200, Some(new.clone()))
    );
    assert_eq!(report(&client, &reports, Some(OLD_KEY)).await, (401, None));
    let health: Value = client
        .get(server.url("/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(crate::health_version(&health, KEY_SETTING), new);
    assert_eq!(health["refresh"]["events"]["accepted"], 1, "{health}");
    assert_eq!(health["refresh"]["events"]["rejected"], 1, "{health}");

    drop(client);
    crate::stop(server, "actix", &[OLD_KEY, NEW_KEY]).await;
}
