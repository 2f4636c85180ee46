//! The `kvref` command: check and resolve Key Vault references before deploying; run the emulator.

mod settings;

fn main() {}
