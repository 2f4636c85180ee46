//! kvref-figment against the in-process emulator (real TLS): formats and environment overrides,
//! profiles, provenance, failures, secret-safe errors and the no-reference fast path.

mod support;

mod errors;
mod formats;
mod live;
mod no_references;
mod profiles;
mod provenance;
