//! A Key Vault secrets client that never sends a token where it does not belong.
//!
//! [`SecretClient`] fetches one secret (`GET {vault}/secrets/{name}[/{version}]?api-version=…`).
//! Before any connection it checks the vault host against [`AllowedHosts`](crate::reference::AllowedHosts). The first request
//! to a vault carries no token: the vault's 401 challenge says which audience and tenant to ask
//! a token for, and that audience must be a parent domain of the vault host (see
//! [`Challenge::verify`]); otherwise no token is requested at all. The challenge is remembered
//! per vault, so later requests carry the token up front; a 401 with a different challenge (the
//! vault moved tenant) re-runs that discovery once, and a 401 with the same challenge (the token
//! refused: expired by the vault's clock, or revoked) is answered once with a fresh token.
//! Requests are retried on 408, 429, 500, 502, 503, 504 and failed connections as
//! [`RetryPolicy`] says, honouring the server's retry hints, within a time budget.
//!
//! The parts: `client` (the client, its builder, the token), `discovery` (the per-vault
//! challenge), `send` (one request with retries), `secret` (the answer and its id check),
//! `error` (what went wrong), `challenge` (parsing and verifying `WWW-Authenticate`).

mod challenge;
mod client;
mod discovery;
mod error;
mod error_body;
mod retry;
mod secret;
mod send;

pub(crate) use send::on_lane;
// The fuzz targets and their proptest twins reach the body parsers through `crate::__fuzz`.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) use {error_body::ServiceError, secret::parse_secret};

pub use challenge::{Challenge, ChallengeError};
pub use client::{SecretClient, SecretClientBuilder};
pub use error::{VaultError, VaultErrorKind};
pub use retry::RetryPolicy;
pub use secret::{Secret, SecretAttributes};

/// The Key Vault REST API version used unless configured: the GA version of July 2025.
pub const DEFAULT_API_VERSION: &str = "2025-07-01";
