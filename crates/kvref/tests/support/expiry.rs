//! Secrets' expiry in the emulator and in Event Grid's words, for the live settings' tests:
//! `exp` set through the control API, and `SecretNearExpiry` / `SecretExpired` deliveries read by
//! the parser the webhook uses.

use http::HeaderMap;
use jiff::Timestamp;
use kvref::events::{Delivery, Event, parse};
use kvref_emulator::Emulator;

/// Now plus `seconds` (negative: in the past), to the second.
pub fn in_secs(seconds: i64) -> Timestamp {
    Timestamp::from_second(Timestamp::now().as_second() + seconds).expect("a time in range")
}

/// Sets `exp` on a version of `secret` in `vault1` through the emulator's control API
/// (`PATCH /_emulator/vaults/vault1/secrets/{secret}/{version}`).
pub async fn set_expiry(emu: &Emulator, secret: &str, version: &str, expires: Timestamp) {
    let url = format!(
        "http://{}/_emulator/vaults/vault1/secrets/{secret}/{version}",
        emu.http_addr()
    );
    let answer = emu
        .client()
        .patch(url)
        .json(&serde_json::json!({ "exp": expires.as_second() }))
        .send()
        .await
        .expect("control API");
    assert_eq!(answer.status(), 200, "{:?}", answer.text().await);
}

/// An Event Grid delivery (its own schema) of one `Microsoft.KeyVault.{kind}` event.
pub fn expiry_event(
    id: &str,
    kind: &str,
    vault: &str,
    name: &str,
    version: &str,
    exp: i64,
) -> String {
    format!(
        r#"[{{"id": "{id}", "eventType": "Microsoft.KeyVault.{kind}", "subject": "{name}",
        "data": {{"VaultName": "{vault}", "ObjectName": "{name}", "ObjectType": "Secret",
        "Version": "{version}", "NBF": null, "EXP": {exp}}}}}]"#
    )
}

/// The events of a delivery `body`, as the webhook reads them.
pub fn events(body: &str) -> Vec<Event> {
    let mut headers = HeaderMap::new();
    headers.insert(
        "aeg-event-type",
        "Notification".parse().expect("a header value"),
    );
    match parse(&headers, body.as_bytes()).expect("a delivery") {
        Delivery::Events(events) => events,
        other => panic!("{other:?}"),
    }
}
