//! The real `kvref-example-axum` binary, as a deployment runs it, against the emulator: the
//! ready line's exact shape, `/health`, SIGTERM; and a start-up that fails on a broken
//! reference, naming the setting. (The rotation pushed by Event Grid is in kvref-e2e.)

use kvref_e2e::{Signal, check_binary, check_broken_reference};
use kvref_emulator::{Emulator, EmulatorConfig};

const BINARY: &str = env!("CARGO_BIN_EXE_kvref-example-axum");

#[tokio::test]
async fn the_binary_prints_its_ready_line_serves_health_and_exits_0_on_sigterm() {
    let emulator = Emulator::start(EmulatorConfig::sample()).await.unwrap();
    let expected = [
        ("database.password", "myvault", "DbPassword"),
        ("signing.key", "myvault", "ResponseSigningKey"),
    ];
    check_binary(BINARY, emulator.http_addr(), &expected, Signal::TERM).await;
}

#[tokio::test]
async fn a_broken_reference_stops_the_start_naming_the_setting_and_the_fix() {
    let emulator = Emulator::start(EmulatorConfig::sample()).await.unwrap();
    check_broken_reference(
        BINARY,
        emulator.http_addr(),
        "APP__SIGNING__KEY",
        "signing.key",
    )
    .await;
}
