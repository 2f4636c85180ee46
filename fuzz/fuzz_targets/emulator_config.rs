//! Fuzzes the emulator's TOML configuration: any text gives a configuration or an error naming a
//! line, never a panic; and with a valid configuration around the fuzzed text, the error never
//! shows the secret value that configuration holds.
#![no_main]

use kvref_emulator::EmulatorConfig;
use libfuzzer_sys::fuzz_target;

const PLANTED: &str = "planted-secret-0123456789";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(error) = EmulatorConfig::from_toml_str(text) {
        assert!(error.message().len() <= 4096, "an unbounded error");
    }
    // The fuzzed text as the last table of a configuration that holds a secret value.
    let around = format!(
        "{}\n{text}",
        EmulatorConfig::sample_toml().replace("db-password-from-the-emulator", PLANTED)
    );
    // Unless the text itself names the value (libFuzzer's comparison hints make it do so).
    if let Err(error) = EmulatorConfig::from_toml_str(&around)
        && !text.contains(PLANTED)
    {
        assert!(
            !error.to_string().contains(PLANTED),
            "the error shows a secret value"
        );
    }
});
