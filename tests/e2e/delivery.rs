//! Event Grid's part, played by the test until the emulator plays it: the delivery of a
//! `SecretNewVersionCreated` event (the body of ../shared/EVENTGRID.md §1.4 (a), in the Event
//! Grid schema, one event in an array) with an Entra token for the service's application, signed
//! by the emulator's Entra key as Event Grid's would be by Microsoft's.

use kvref::events::EVENT_GRID_APP_ID;
use kvref_emulator::Emulator;
use serde_json::{Value, json};

/// The claims of the token Event Grid presents for `application_id` (a v1 token).
fn claims(emulator: &Emulator, application_id: &str) -> Value {
    let now = jiff::Timestamp::now().as_second();
    let tenant = emulator.tenant_id();
    json!({
        "aud": application_id, "iss": format!("https://sts.windows.net/{tenant}/"),
        "iat": now, "nbf": now, "exp": now + 3600,
        "appid": EVENT_GRID_APP_ID, "appidacr": "2", "tid": tenant, "ver": "1.0",
        "oid": "2a0e4fbb-5a1c-4c62-9f2f-2c5f0d0a6b7e", "sub": "2a0e4fbb-5a1c-4c62-9f2f-2c5f0d0a6b7e",
    })
}

/// The delivery body for a new `version` of `vault/secret`.
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

/// Delivers the event to `url` as Event Grid does, with a token (or none), and returns the
/// status the webhook answered.
pub(crate) async fn deliver(
    client: &reqwest::Client,
    url: &str,
    token: Option<String>,
    body: &Value,
) -> u16 {
    let mut request = client
        .post(url)
        .header("aeg-event-type", "Notification")
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request
        .send()
        .await
        .expect("the webhook answers")
        .status()
        .as_u16()
}

/// A rotation pushed: the token for `application_id` and the event for `vault/secret/version`.
pub(crate) async fn push_rotation(
    client: &reqwest::Client,
    url: &str,
    emulator: &Emulator,
    application_id: &str,
    (vault, secret, version): (&str, &str, &str),
) -> u16 {
    let token = emulator.sign_entra_token(&claims(emulator, application_id));
    deliver(
        client,
        url,
        Some(token),
        &new_version(vault, secret, version),
    )
    .await
}

/// The same event without a token: what anyone on the network could send.
pub(crate) async fn push_forged(
    client: &reqwest::Client,
    url: &str,
    (vault, secret, version): (&str, &str, &str),
) -> u16 {
    deliver(client, url, None, &new_version(vault, secret, version)).await
}
