//! Azure Cloud Shell: `POST {MSI_ENDPOINT}` with `Metadata: true` and the form `resource=…`.
//! Only the signed-in user's identity exists there (no user-assigned identities).

use super::{
    ManagedIdentitySource, endpoint_url, error, gave_up, status_text, token_from, unreachable,
};
use crate::Env;
use crate::credential::retry::{RetryOptions, send_with_retry, standard_transient};
use crate::credential::{AccessToken, CredentialError, CredentialErrorKind, TokenRequest};
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
        let reply = send_with_retry(&self.retry, standard_transient, || {
            client
                .post(self.url.clone())
                .header("Metadata", "true")
                .form(&[("resource", resource)])
        })
        .await
        .map_err(|failure| unreachable(SOURCE, &self.url, failure))?;
        if reply.status.is_success() {
            return token_from(SOURCE, &reply);
        }
        if standard_transient(reply.status) {
            return Err(gave_up(SOURCE, &reply));
        }
        Err(error(
            CredentialErrorKind::Refused,
            format!(
                "Cloud Shell refused the token request for {resource} ({})",
                status_text(&reply)
            ),
        )
        .with_fix("Cloud Shell issues tokens for a fixed list of audiences (Key Vault is one); check the scope"))
    }
}
