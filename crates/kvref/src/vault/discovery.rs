//! Per-vault challenge discovery: the first request to a vault carries no token, and its 401
//! challenge (verified against the vault host) is remembered for later requests.

use reqwest::StatusCode;
use reqwest::header::WWW_AUTHENTICATE;
use tokio::time::Instant;

use super::challenge::{Challenge, ChallengeError};
use super::client::SecretClient;
use super::error::{VaultError, VaultErrorKind};
use super::error_body::ServiceError;
use super::secret::Secret;
use super::send::Answer;
use crate::reference::Reference;

/// What we know about one vault: its challenge, once discovered. The async mutex makes the
/// discovery single-flight: concurrent first requests wait for one challenge round trip.
#[derive(Default)]
pub(super) struct VaultState {
    pub(super) discovery: tokio::sync::Mutex<Discovery>,
}

/// How far discovery got for one vault.
#[derive(Default)]
pub(super) enum Discovery {
    /// Not tried yet, or forgotten.
    #[default]
    Unknown,
    /// The vault's verified challenge.
    Known(Challenge),
    /// Discovery failed for a reason that concerns the whole vault (unreachable, no such vault,
    /// a refused challenge). Callers sharing the same deadline (one resolution) get the same
    /// error at once instead of each trying again: a mistyped vault name with 500 references
    /// costs one failed request, not 500 one after another.
    Failed {
        error: VaultError,
        deadline: Instant,
    },
}

/// What discovery ended with: the challenge, or already the answer for the secret.
pub(super) enum Discovered {
    Challenge(Challenge),
    Answer(Result<Secret, VaultError>),
}

/// Whether a failed discovery says something about the vault rather than the secret.
fn concerns_the_vault(error: &VaultError) -> bool {
    match error.kind() {
        VaultErrorKind::Unreachable
        | VaultErrorKind::ConnectionFailed
        | VaultErrorKind::TimedOut
        | VaultErrorKind::Throttled
        | VaultErrorKind::ChallengeRefused => true,
        VaultErrorKind::Service => error.code() == Some("VaultNotFound"),
        _ => false,
    }
}

impl SecretClient {
    /// The vault's challenge: remembered, or discovered with one request that carries no token.
    /// Concurrent callers wait for one discovery. A vault that answers that request with
    /// anything but 401 has given the final answer for this secret.
    pub(super) async fn challenge(
        &self,
        vault: &VaultState,
        url: &reqwest::Url,
        reference: &Reference,
        deadline: Instant,
    ) -> Discovered {
        let host = reference.vault_host();
        let mut discovery = vault.discovery.lock().await;
        match &*discovery {
            Discovery::Known(c) => return Discovered::Challenge(c.clone()),
            Discovery::Failed { error, deadline: d } if *d == deadline => {
                return Discovered::Answer(Err(error.clone()));
            }
            Discovery::Unknown | Discovery::Failed { .. } => {}
        }
        let discovered = match self.send(url, None, deadline).await {
            Ok(answer) if answer.status == StatusCode::UNAUTHORIZED => {
                challenge_of(&answer, host, None)
            }
            Ok(answer) => Err(match self.finish(reference, answer, None) {
                Ok(secret) => return Discovered::Answer(Ok(secret)),
                Err(error) => error,
            }),
            Err(error) => Err(error),
        };
        match discovered {
            Ok(c) => {
                *discovery = Discovery::Known(c.clone());
                Discovered::Challenge(c)
            }
            Err(error) => {
                if concerns_the_vault(&error) {
                    *discovery = Discovery::Failed {
                        error: error.clone(),
                        deadline,
                    };
                }
                Discovered::Answer(Err(error))
            }
        }
    }
}

/// The verified challenge of a 401 answer.
pub(super) fn challenge_of(
    answer: &Answer,
    host: &str,
    token: Option<&str>,
) -> Result<Challenge, VaultError> {
    let refused = |e: ChallengeError| {
        VaultError::new(VaultErrorKind::ChallengeRefused, e.to_string())
            .with_status(answer.status.as_u16())
            .with_service(ServiceError::parse(&answer.body, token))
    };
    let header = answer
        .headers
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.trim_start().to_ascii_lowercase().contains("bearer"))
        .ok_or_else(|| {
            refused(ChallengeError::Malformed(
                "no WWW-Authenticate: Bearer header".into(),
            ))
        })?;
    let challenge = Challenge::parse(header).map_err(refused)?;
    challenge.verify(host).map_err(refused)?;
    Ok(challenge)
}
