//! Who may deliver: a shared secret (a header or a query parameter) or Microsoft Entra
//! protected delivery (a bearer JWT Event Grid gets for the webhook's application). A refused
//! delivery does no work; a check that cannot be made now (Entra's keys unreachable) is not a
//! refusal, because Event Grid drops a delivery answered 401 but retries one answered 503.

mod entra;
mod shared_secret;

pub use self::entra::{EVENT_GRID_APP_ID, EVENT_GRID_APP_ID_US_GOV, EntraAuth, EntraAuthBuilder};
pub use self::shared_secret::SharedSecret;

use http::Request;

/// The outcome of checking one delivery.
#[derive(Debug)]
pub(super) enum Verdict {
    Accepted,
    /// Refused: answer 401. The reason is for the log and names no credential.
    Rejected(String),
    /// Cannot tell now: answer 503 so that Event Grid retries.
    Unavailable(String),
}

/// One way a delivery may prove where it comes from.
#[derive(Clone, Debug)]
pub(super) enum Authenticator {
    SharedSecret(SharedSecret),
    Entra(std::sync::Arc<EntraAuth>),
}

impl Authenticator {
    pub(super) async fn check<B>(&self, request: &Request<B>) -> Verdict {
        match self {
            Authenticator::SharedSecret(secret) => secret.check(request),
            Authenticator::Entra(entra) => entra.check(request.headers()).await,
        }
    }
}

/// Accepted when any authenticator accepts; unavailable when none accepts and one could not
/// tell; rejected otherwise.
pub(super) async fn check_any<B>(
    authenticators: &[Authenticator],
    request: &Request<B>,
) -> Verdict {
    let mut unavailable = None;
    let mut reasons = Vec::new();
    for authenticator in authenticators {
        match authenticator.check(request).await {
            Verdict::Accepted => return Verdict::Accepted,
            Verdict::Rejected(reason) => reasons.push(reason),
            Verdict::Unavailable(reason) => unavailable = Some(reason),
        }
    }
    match unavailable {
        Some(reason) => Verdict::Unavailable(reason),
        None => Verdict::Rejected(reasons.join("; ")),
    }
}
