//! The real `kvref-example-axum` binary, as a deployment runs it, against the emulator: the
//! ready line's exact shape, `/health`, SIGTERM; and a start-up that fails on a broken
//! reference, naming the setting. (The rotation pushed by Event Grid is in kvref-e2e.)

use kvref_e2e::{ServerProcess, assert_clean_stop, example_command, health_secrets, keys};
use kvref_emulator::{Emulator, EmulatorConfig};
use serde_json::Value;

const BINARY: &str = env!("CARGO_BIN_EXE_kvref-example-axum");

#[tokio::test]
async fn the_binary_prints_its_ready_line_serves_health_and_exits_0_on_sigterm() {
    let emulator = Emulator::start(EmulatorConfig::sample()).await.unwrap();
    let server = ServerProcess::spawn(example_command(BINARY, emulator.http_addr(), &[])).await;
    assert_eq!(
        keys(&server.ready),
        ["events", "listening"],
        "{}",
        server.ready
    );
    assert_eq!(keys(&server.ready["events"]), ["application_id", "path"]);
    assert_eq!(server.ready["events"]["path"], "/events/keyvault");
    let application_id = &server.ready["events"]["application_id"];
    assert_eq!(application_id, "8c4e2f4a-1b3d-4e5f-9a6b-7c8d9e0f1a2b");
    assert!(server.addr.ip().is_loopback() && server.addr.port() != 0);

    let health = reqwest::get(server.url("/health")).await.unwrap();
    assert_eq!(health.status(), 200);
    let health: Value = health.json().await.unwrap();
    assert_eq!(health["status"], "ok", "{health}");
    let secrets: Vec<_> = health_secrets(&health)
        .into_iter()
        .map(|(key, vault, secret, _)| (key, vault, secret))
        .collect();
    let expected = [
        ("database.password", "myvault", "DbPassword"),
        ("signing.key", "myvault", "ResponseSigningKey"),
    ]
    .map(|(k, v, s)| (k.to_owned(), v.to_owned(), s.to_owned()));
    assert_eq!(secrets, expected);

    assert_clean_stop(&server.terminate().await, "kvref-example-axum");
}

#[tokio::test]
async fn a_broken_reference_stops_the_start_naming_the_setting_and_the_fix() {
    let emulator = Emulator::start(EmulatorConfig::sample()).await.unwrap();
    let broken = [(
        "APP__SIGNING__KEY",
        "@KeyVault(VaultName=myvault;SecretName=NoSuchKey)",
    )];
    let output = example_command(BINARY, emulator.http_addr(), &broken)
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty(), "no ready line");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("signing.key"), "{stderr}");
    assert!(stderr.contains("SecretNotFound"), "{stderr}");
    assert!(stderr.contains("az keyvault secret show"), "{stderr}");
}
