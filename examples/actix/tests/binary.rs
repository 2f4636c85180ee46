//! The real `kvref-example-actix` binary, as a deployment runs it, against the emulator: the
//! ready line's exact shape, `/health`, SIGINT (Ctrl-C); and a start-up that fails on a broken
//! reference, naming the setting. (The rotation pushed by Event Grid is in kvref-e2e.)

use kvref_e2e::{Signal, check_binary, check_broken_reference};
use kvref_emulator::{Emulator, EmulatorConfig};

const BINARY: &str = env!("CARGO_BIN_EXE_kvref-example-actix");

#[tokio::test]
async fn the_binary_prints_its_ready_line_serves_health_and_exits_0_on_ctrl_c() {
    let emulator = Emulator::start(EmulatorConfig::sample()).await.unwrap();
    // kvref-figment names keys with their figment profile.
    let expected = [
        ("default.api.key", "myvault", "ApiKey"),
        ("default.database.password", "myvault", "DbPassword"),
    ];
    check_binary(BINARY, emulator.http_addr(), &expected, Signal::INT).await;
}

#[tokio::test]
async fn a_broken_reference_stops_the_start_naming_the_setting_and_the_fix() {
    let emulator = Emulator::start(EmulatorConfig::sample()).await.unwrap();
    // figment's environment provider spells the key `API.KEY`; compared in lower case.
    check_broken_reference(BINARY, emulator.http_addr(), "APP__API__KEY", "api.key").await;
}
