//! Fuzzes Key Vault's answers: secret bundles (the id must be the secret asked for) and error
//! bodies (bounded, printable, the token sent scrubbed) (see `kvref::__fuzz`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kvref::__fuzz::vault_body(data));
