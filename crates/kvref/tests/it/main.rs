//! kvref's integration tests, one binary (linking the TLS stack once): each module is one area.
//! The tests that capture tracing output live in the `trace` binary, which owns the process's
//! global subscriber; nothing here may set process-global state (env vars, current dir, a global
//! subscriber).

#[path = "../support/mod.rs"]
mod support;

mod connect;
mod credential_cache;
mod credential_chain;
mod credential_developer;
mod credential_entra;
mod credential_managed_identity;
mod credential_recovery;
mod credential_retry;
mod events_parse;
mod events_webhook;
mod fault_matrix;
mod h2;
mod h2_connections;
mod h2_health;
mod h2_pacing;
mod live;
mod live_expiry;
mod local_down;
mod local_emulator;
mod push_e2e;
mod reference_grammar;
mod reference_props;
mod resolve_allow_list;
mod resolve_api;
mod resolve_clouds;
mod resolve_dedupe;
mod resolve_failures;
mod resolve_identity;
mod security;
mod vault_challenge;
mod vault_client;
mod vault_retry;
