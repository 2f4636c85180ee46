//! Event Grid's part: the emulator's subscription to the service's webhook (created through
//! its control API, as a script would, after the real validation handshake), and a forged
//! delivery of what anyone on the network could send.

use std::net::SocketAddr;

use serde_json::{Value, json};

/// Subscribes the webhook at `endpoint` to new secret versions of every emulated vault, with
/// Entra-protected delivery for `application_id`, in `schema` (`eventgrid` or `cloudevents`),
/// through `POST /_emulator/eventgrid/subscriptions` of the emulator at `emulator`.
pub(crate) async fn subscribe(
    client: &reqwest::Client,
    emulator: SocketAddr,
    (name, schema): (&str, &str),
    endpoint: &str,
    application_id: &str,
) {
    let body = json!({
        "name": name,
        "endpoint": endpoint,
        "schema": schema,
        "auth": {"entra": {"application_id": application_id}},
        "event_types": ["Microsoft.KeyVault.SecretNewVersionCreated"],
    });
    let url = format!("http://{emulator}/_emulator/eventgrid/subscriptions");
    let response = client
        .post(url)
        .json(&body)
        .send()
        .await
        .expect("the control API answers");
    let status = response.status().as_u16();
    let answer = response.text().await.unwrap_or_default();
    assert_eq!(status, 201, "the subscription is created: {answer}");
}

/// A delivery body for a new `version` of `vault/secret` (the shape of ../shared/EVENTGRID.md
/// §1.4 (a), one event in an array).
fn new_version(vault: &str, secret: &str, version: &str) -> Value {
    json!([{
        "id": format!("e2e-{vault}-{secret}-{version}"),
        "topic": format!("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/kvref-rg/providers/Microsoft.KeyVault/vaults/{vault}"),
        "subject": secret,
        "eventType": "Microsoft.KeyVault.SecretNewVersionCreated",
        "data": {
            "Id": format!("https://{vault}.vault.azure.net/secrets/{secret}/{version}"),
            "VaultName": vault,
            "ObjectType": "Secret",
            "ObjectName": secret,
            "Version": version,
            "NBF": null,
            "EXP": null
        },
        "dataVersion": "1",
        "metadataVersion": "1",
        "eventTime": jiff::Timestamp::now().to_string(),
    }])
}

/// The event for `vault/secret/version` without any credential: answered with the status.
pub(crate) async fn forge(
    client: &reqwest::Client,
    url: &str,
    (vault, secret, version): (&str, &str, &str),
) -> u16 {
    let response = client
        .post(url)
        .header("aeg-event-type", "Notification")
        .header("content-type", "application/json")
        .body(new_version(vault, secret, version).to_string())
        .send()
        .await
        .expect("the webhook answers");
    response.status().as_u16()
}
