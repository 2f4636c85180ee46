//! Azure Cloud Shell: `POST {MSI_ENDPOINT}` with `Metadata: true` and the form `resource=…`.
//! Only the signed-in user's identity exists there (no user-assigned identities).

use super::{ManagedIdentitySource, endpoint_url, error, fetch, status_text, unreachable};
use crate::Env;
use crate::credential::retry::RetryOptions;
use crate::credential::{AccessToken, CredentialError, CredentialErrorKind, TokenRequest};
use crate::retry::is_transient_status;
use crate::transport::HttpTransport;

const SOURCE: ManagedIdentitySource = ManagedIdentitySource::CloudShell;

#[derive(Debug)]
pub(super) struct CloudShell {
    url: url::Url,
    transport: HttpTransport,
    retry: RetryOptions,
}

impl CloudShell {
    pub(super) fn new(
        env: &Env,
        transport: HttpTransport,
        retry: RetryOptions,
    ) -> Result<Self, CredentialError> {
        Ok(Self {
            url: endpoint_url(env, "MSI_ENDPOINT")?,
            transport,
            retry,
        })
    }

    pub(super) async fn get_token(
        &self,
        request: &TokenRequest,
    ) -> Result<AccessToken, CredentialError> {
        let resource = super::resource_of(request)?;
        let client = self.transport.identity_client();
        fetch(
            SOURCE,
            &self.retry,
            is_transient_status,
            || {
                client
                    .post(self.url.clone())
                    .header("Metadata", "true")
                    .form(&[("resource", resource)])
            },
            |failure| unreachable(SOURCE, &self.url, failure),
        )
        .await?
        .map_err(|reply| {
            error(
                CredentialErrorKind::Refused,
                format!(
                    "Cloud Shell refused the token request for {resource} ({})",
                    status_text(&reply)
                ),
            )
            .with_fix(concat!(
                "Cloud Shell issues tokens for a fixed list of audiences (Key Vault is one); ",
                "check the scope"
            ))
        })
    }
}
