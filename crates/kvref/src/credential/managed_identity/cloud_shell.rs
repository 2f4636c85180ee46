//! Azure Cloud Shell: `POST {MSI_ENDPOINT}` with `Metadata: true` and the form `resource=…`.
//! Only the signed-in user's identity exists there (no user-assigned identities).

use reqwest::header::HeaderValue;

use super::protocol::{Call, Target};
use super::{Context, ManagedIdentitySource, endpoint_url, error, status_text};
use crate::Env;
use crate::credential::retry::{Reply, RetryOptions};
use crate::credential::{CredentialError, CredentialErrorKind};
use crate::transport::HttpTransport;

const SOURCE: ManagedIdentitySource = ManagedIdentitySource::CloudShell;

#[derive(Debug)]
pub(super) struct CloudShell {
    target: Target,
}

impl CloudShell {
    pub(super) fn new(
        env: &Env,
        transport: HttpTransport,
        retry: RetryOptions,
    ) -> Result<Self, CredentialError> {
        Ok(Self {
            target: Target::new(endpoint_url(env, "MSI_ENDPOINT")?, &transport, retry),
        })
    }
}

impl super::protocol::Protocol for CloudShell {
    const SOURCE: ManagedIdentitySource = SOURCE;

    fn target(&self) -> &Target {
        &self.target
    }

    fn call(&self, resource: &str, _: &Context<'_>) -> Result<Call, CredentialError> {
        Ok(Call::post_form(
            self.target.url.clone(),
            vec![("resource", resource.to_owned())],
        )
        .header("Metadata", HeaderValue::from_static("true")))
    }

    fn refusal(&self, reply: &Reply, resource: &str, _: &Context<'_>) -> CredentialError {
        error(
            CredentialErrorKind::Refused,
            format!(
                "Cloud Shell refused the token request for {resource} ({})",
                status_text(reply)
            ),
        )
        .with_fix(concat!(
            "Cloud Shell issues tokens for a fixed list of audiences (Key Vault is one); ",
            "check the scope"
        ))
    }
}
