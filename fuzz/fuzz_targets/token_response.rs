//! Fuzzes the token responses of every identity source (IMDS, App Service, Arc, Cloud Shell,
//! Service Fabric and Entra share one parser), identity error bodies and the developer tools'
//! outputs: a token or a bounded error that never quotes the token (see `kvref::__fuzz`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kvref::__fuzz::token_response(data));
