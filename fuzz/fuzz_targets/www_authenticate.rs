//! Fuzzes the vault's `WWW-Authenticate` challenge: a scope or a bounded error, and only a host
//! under the named audience passes verification (see `kvref::__fuzz`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kvref::__fuzz::www_authenticate(data));
