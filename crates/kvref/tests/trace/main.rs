//! The tests that capture kvref's tracing output, in a binary of their own.
//!
//! tracing caches each callsite's interest process-wide: a capture installed with `set_default`
//! on one test's thread misses the events whose callsites another test's thread registered first.
//! So this binary installs ONE global subscriber at TRACE level, before any test logs, writing
//! into one shared buffer ([`capture`]). Each test runs its scenario, then scans the whole buffer:
//! other tests' output in it only widens the leak scan, and each test's "the capture works" check
//! looks for events only its own scenario produces.

#[path = "../support/mod.rs"]
mod support;

mod capture;
mod credential_tracing;
mod leak_scan;
mod live_tracing;
mod resolve_tracing;
