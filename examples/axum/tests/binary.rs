//! The real `kvref-example-axum` binary, as a deployment runs it, against the emulator: the
//! ready line's exact shape, `/health`, SIGTERM; and a start-up that fails on a broken
//! reference, naming the setting. (The rotation pushed by Event Grid is in kvref-e2e.)

use kvref_e2e::ServerProcess;
use kvref_emulator::{Emulator, EmulatorConfig};
use serde_json::Value;
use tokio::process::Command;

const BINARY: &str = env!("CARGO_BIN_EXE_kvref-example-axum");

/// The binary against `emulator`, on a free port, with `extra` variables and nothing else.
fn command(emulator: &Emulator, extra: &[(&str, &str)]) -> Command {
    let mut command = Command::new(BINARY);
    command
        .env_clear()
        .env("KVREF_EMULATOR", format!("http://{}", emulator.http_addr()))
        .env("APP__LISTEN", "127.0.0.1:0")
        .env("RUST_LOG", "info")
        .envs(extra.iter().copied());
    command
}

fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    keys.sort_unstable();
    keys
}

#[tokio::test]
async fn the_binary_prints_its_ready_line_serves_health_and_exits_0_on_sigterm() {
    let emulator = Emulator::start(EmulatorConfig::sample()).await.unwrap();
    let server = ServerProcess::spawn(command(&emulator, &[])).await;
    assert_eq!(
        keys(&server.ready),
        ["events", "listening"],
        "{}",
        server.ready
    );
    assert_eq!(keys(&server.ready["events"]), ["application_id", "path"]);
    assert_eq!(server.ready["events"]["path"], "/events/keyvault");
    assert_eq!(
        server.ready["events"]["application_id"],
        "8c4e2f4a-1b3d-4e5f-9a6b-7c8d9e0f1a2b"
    );
    assert!(server.addr.ip().is_loopback() && server.addr.port() != 0);

    let health = reqwest::get(server.url("/health")).await.unwrap();
    assert_eq!(health.status(), 200);
    let health: Value = health.json().await.unwrap();
    assert_eq!(keys(&health), ["refresh", "secrets", "status"], "{health}");
    assert_eq!(health["status"], "ok");
    let secrets: Vec<(&str, &str, &str)> = health["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            assert_eq!(keys(s), ["key", "secret", "vault", "version"], "{s}");
            assert_eq!(s["version"].as_str().map(str::len), Some(32), "{s}");
            (
                s["key"].as_str().unwrap(),
                s["vault"].as_str().unwrap(),
                s["secret"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        secrets,
        [
            ("signing.key", "myvault", "ResponseSigningKey"),
            ("database.password", "myvault", "DbPassword"),
        ]
    );

    let stopped = server.terminate().await;
    println!(
        "exited {:?} {:?} after SIGTERM",
        stopped.status.code(),
        stopped.elapsed
    );
    assert_eq!(stopped.status.code(), Some(0), "{:?}", stopped.log);
    assert!(
        stopped.stdout_after_ready.is_empty(),
        "{:?}",
        stopped.stdout_after_ready
    );
    assert!(
        stopped
            .log
            .iter()
            .any(|l| l.contains("stopped: server closed, refresher ended")),
        "{:?}",
        stopped.log
    );
}

#[tokio::test]
async fn a_broken_reference_stops_the_start_naming_the_setting_and_the_fix() {
    let emulator = Emulator::start(EmulatorConfig::sample()).await.unwrap();
    let broken = [(
        "APP__SIGNING__KEY",
        "@KeyVault(VaultName=myvault;SecretName=NoSuchKey)",
    )];
    let output = command(&emulator, &broken).output().await.unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty(), "no ready line");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("signing.key"), "{stderr}");
    assert!(stderr.contains("SecretNotFound"), "{stderr}");
}
