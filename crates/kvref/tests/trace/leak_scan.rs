//! The leak scan over the entry points the other modules of this binary leave out: a `Live`'s
//! start-up, its refresh by poll, a push through the webhook (with its shared secret), and the
//! failures of each (a refused role, a settings check that quotes the value it refused, a
//! delivery with a wrong key), all at TRACE into the binary's one capture, which is then searched
//! for every secret value, the webhook's secret and anything token-shaped. The scan is a
//! function of its own, tested to find a secret that is deliberately logged.

use std::time::Duration;

use http::Request;
use kvref::Resolved;
use kvref::events::{SharedSecret, Webhook};
use kvref::live::Live;
use kvref::secrecy::{ExposeSecret, SecretString};
use kvref_emulator::{Endpoint, Fault};

use crate::capture;
use crate::support::emu;

/// Every place in `output` where one of `secrets` or a JWT-shaped word (`eyJ` and 20 or more
/// token characters) appears, as `what at byte offset`; empty when nothing leaked.
pub(crate) fn scan(output: &str, secrets: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for secret in secrets {
        assert!(
            secret.len() >= 8,
            "too short to scan for without false alarms"
        );
        found.extend(output.match_indices(secret).map(|(at, _)| {
            format!(
                "secret #{} at {at}",
                secrets.iter().position(|s| s == secret).unwrap_or(0)
            )
        }));
    }
    let is_token_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    for (at, _) in output.match_indices("eyJ") {
        let word = output[at..]
            .chars()
            .take_while(|c| is_token_char(*c))
            .count();
        if word >= 23 {
            found.push(format!("a token-shaped word at {at}"));
        }
    }
    found
}

#[test]
fn the_scan_finds_a_deliberately_logged_secret_and_token() {
    // Logged into a capture of this thread's own, so the binary's shared one stays clean for
    // the other tests' scans (the global subscriber, installed first, keeps every callsite on).
    capture::start();
    let canary = "deliberately-logged-canary-4711";
    let token = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJvaWQiOiJ4In0.c2ln";
    let local = capture::Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("trace"))
        .with_writer(local.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        tracing::info!(password = canary, "a careless log line");
        tracing::debug!("Authorization: Bearer {token}");
    });
    let output = local.text();
    let found = scan(&output, &[canary]);
    assert!(
        found.iter().any(|f| f.starts_with("secret #0")),
        "the scan missed the logged secret: {found:?}"
    );
    assert!(
        found.iter().any(|f| f.starts_with("a token-shaped word")),
        "the scan missed the logged token: {found:?}"
    );
    // And it stays quiet on text that only looks alike.
    assert!(scan("deliberately-logged eyJshort", &[canary]).is_empty());
}

/// `a` follows `s0`; the value is checked, and the check's refusal quotes it (as serde does).
fn value(resolved: &Resolved) -> Result<String, String> {
    let (_, _, secret) = resolved.secrets().next().ok_or("a did not resolve")?;
    let value = secret.expose_secret().to_owned();
    if value.contains("refused") {
        return Err(format!("a: {value:?} is not allowed"));
    }
    Ok(value)
}

#[tokio::test(start_paused = true)]
async fn live_start_up_poll_push_and_their_failures_log_no_secret() {
    capture::start();
    const WEBHOOK_KEY: &str = "leak-scan-webhook-key-0f3e";
    let values = [
        "leak-scan-first-value-91c2",
        "leak-scan-rotated-value-77ab",
        "leak-scan-pushed-value-3d10",
        "leak-scan-refused-value-5e5e",
    ];
    let emu = emu::start(&emu::vaults_toml(&["leakscan"], 1)).await;
    emu.set_secret("leakscan", "s0", values[0]).await;
    let resolver = emu::resolver(&emu, emu::credential(&emu)).build().unwrap();
    let live = Live::builder(
        resolver,
        [("a", "@KeyVault(VaultName=leakscan;SecretName=s0)")],
        value,
    )
    .interval(Duration::from_secs(24 * 3600))
    .backoff(
        Duration::from_secs(24 * 3600),
        Duration::from_secs(24 * 3600),
    )
    .start()
    .await
    .unwrap();

    // Refresh by poll: a rotation, then a refused role, then a value the check refuses.
    emu.set_secret("leakscan", "s0", values[1]).await;
    live.refresh_now().await.unwrap();
    emu.add_fault(Fault {
        endpoint: Endpoint::KeyVault,
        status: Some(403),
        body: Some(serde_json::json!({"error": {"code": "Forbidden",
            "message": "Caller is not authorized to perform action on resource.",
            "innererror": {"code": "ForbiddenByRbac"}}})),
        times: Some(1),
        ..Fault::default()
    })
    .await;
    let denied = live.refresh_now().await.unwrap_err();
    tracing::error!(error = %denied, debug = ?denied, "refresh failed");
    emu.set_secret("leakscan", "s0", values[3]).await;
    let refused = live.refresh_now().await.unwrap_err();
    tracing::error!(error = %refused, status = ?live.status(), "refresh refused");

    // Push through the webhook: a delivery with the key, one with a wrong key.
    emu.set_secret("leakscan", "s0", values[2]).await;
    let webhook = Webhook::builder(live.clone())
        .shared_secret(SharedSecret::query(
            "code",
            [SecretString::from(WEBHOOK_KEY)],
        ))
        .build()
        .unwrap();
    let body = serde_json::json!([{"id": "leak-1", "eventType": "Microsoft.KeyVault.SecretNewVersionCreated",
        "subject": "s0", "data": {"VaultName": "leakscan", "ObjectName": "s0", "Version": null,
        "NBF": null, "EXP": null}}])
    .to_string();
    let delivery = |key: &str| {
        Request::post(format!("/events?code={key}"))
            .header("aeg-event-type", "Notification")
            .header("content-type", "application/json")
            .body(body.clone().into_bytes())
            .unwrap()
    };
    let mut updates = live.status_updates();
    updates.borrow_and_update();
    let wrong = webhook.handle(&delivery("leak-scan-wrong-key-aa11")).await;
    assert_eq!(wrong.status(), 401);
    let taken = webhook.handle(&delivery(WEBHOOK_KEY)).await;
    // The last refresh failed, so the delivery is answered 503 (Event Grid delivers it again)
    // and its refresh starts at once all the same.
    assert_eq!(taken.status(), 503);
    updates.changed().await.unwrap();
    assert_eq!(**live.load(), values[2], "the push was served");
    tracing::info!(live = ?live, stats = ?webhook.stats(), "after the push");

    let output = capture::text();
    // The capture holds this scenario: its vault, its refusal and its check's refusal.
    assert!(
        output.contains("leakscan"),
        "nothing of the scenario was captured"
    );
    assert!(output.contains("refresh refused"));
    let mut secrets = values.to_vec();
    secrets.extend([WEBHOOK_KEY, "leak-scan-wrong-key-aa11"]);
    let found = scan(&output, &secrets);
    assert!(found.is_empty(), "leaked: {found:?}");
}

/// A service message that quotes the value being
/// served (a proxy echoing what it saw, say) reaches neither the refresher's WARN line nor the
/// error's Display and Debug: a refresh redacts the values it served before from every message.
#[tokio::test(start_paused = true)]
async fn a_service_message_quoting_the_served_value_is_redacted() {
    capture::start();
    let echoed = "leak-scan-echoed-value-c0ffee";
    let emu = emu::start(&emu::vaults_toml(&["leakecho"], 1)).await;
    emu.set_secret("leakecho", "s0", echoed).await;
    let resolver = emu::resolver(&emu, emu::credential(&emu)).build().unwrap();
    let live = Live::builder(
        resolver,
        [("a", "@KeyVault(VaultName=leakecho;SecretName=s0)")],
        value,
    )
    .interval(Duration::from_secs(24 * 3600))
    .start()
    .await
    .unwrap();
    emu.add_fault(Fault {
        endpoint: Endpoint::KeyVault,
        status: Some(403),
        body: Some(serde_json::json!({"error": {"code": "Forbidden",
            "message": format!("caller sent {echoed}")}})),
        times: Some(1),
        ..Fault::default()
    })
    .await;
    let error = live.refresh_now().await.unwrap_err();
    let shown = format!("{error} {error:?}");
    assert!(
        scan(&shown, &[echoed]).is_empty(),
        "the error shows the value"
    );
    assert!(
        scan(&capture::text(), &[echoed]).is_empty(),
        "the log shows the value"
    );
}
