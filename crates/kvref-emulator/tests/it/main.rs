//! The emulator's integration tests, one binary: conformance of each protocol with recorded Azure
//! bodies, the control API, the configuration and the binary. Nothing here may set process-global
//! state (env vars, current dir, a global subscriber).

#[path = "../support/mod.rs"]
mod support;

mod binary;
mod config;
mod config_props;
mod control;
mod http2;
mod identity;
mod keyvault;
