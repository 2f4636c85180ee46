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
        "tenant_id = \"72f988bf-86f1-41af-91ab-2d7cd011db47\"\n\
         [system_identity]\n\
         client_id = \"11111111-1111-1111-1111-111111111111\"\n\
         object_id = \"22222222-2222-2222-2222-222222222222\"\n\
         [[vaults]]\n\
         name = \"myvault\"\n\
         [[vaults.secrets]]\n\
         name = \"DbPassword\"\n\
         [[vaults.secrets.versions]]\n\
         value = \"{PLANTED}\"\n\
         {text}"
    );
    if let Err(error) = EmulatorConfig::from_toml_str(&around) {
        assert!(
            !error.to_string().contains(PLANTED),
            "the error shows a secret value"
        );
    }
});
