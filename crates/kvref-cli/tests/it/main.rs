//! The `kvref` command's integration tests, one binary: each module runs the real binary against
//! an in-process emulator. Nothing here may set process-global state (env vars, current dir, a
//! global subscriber): each run of `kvref` gets its own environment.

#[path = "../support/mod.rs"]
mod support;

mod check_statuses;
mod identity_sources;
mod local_mode;
mod no_leak;
mod readme;
mod resolve_and_emulator;
mod security_files;
