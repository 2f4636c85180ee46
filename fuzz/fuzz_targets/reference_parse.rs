//! Fuzzes the Key Vault reference grammar: parsing any bytes never panics, a parsed reference's
//! canonical form parses back to the same reference, and the allow-list never panics.
#![no_main]

use kvref::reference::{AllowedHosts, Reference};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for candidate in [
        text.to_owned(),
        format!("@Microsoft.KeyVault({text})"),
        format!("@KeyVault(SecretUri=https://{text})"),
    ] {
        match Reference::parse(&candidate) {
            Ok(Some(reference)) => {
                let canonical = reference.to_string();
                assert_eq!(Reference::parse(&canonical), Ok(Some(reference.clone())));
                let _ = AllowedHosts::default().is_allowed(reference.vault_host());
            }
            Ok(None) => {}
            Err(error) => assert!(error.column() >= 1),
        }
    }
    let _ = AllowedHosts::default().is_allowed(text);
});
