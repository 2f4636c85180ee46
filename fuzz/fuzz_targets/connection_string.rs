//! Fuzzes `AzureServicesAuthConnectionString`: errors name keys, never values, and Debug hides
//! values (see `kvref::__fuzz`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kvref::__fuzz::connection_string(data));
