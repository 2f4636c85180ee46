//! An adapter that lets kvref use any credential from the Azure SDK for Rust
//! (`azure_core::credentials::TokenCredential`, e.g. `azure_identity`'s), so an application that
//! already holds one passes it in unchanged. Enabled by the `azure_core` cargo feature.

use std::sync::Arc;

use async_trait::async_trait;
use azure_core::credentials::TokenCredential as AzureTokenCredential;

use super::{
    AccessToken, CredentialError, CredentialErrorKind, TokenCredential, TokenRequest, traced,
};

const CREDENTIAL: &str = "AzureCoreCredential";

/// A kvref [`TokenCredential`] backed by an `azure_core` credential.
///
/// The request's tenant is not passed on: `azure_core`'s token request options have no tenant,
/// so the wrapped credential uses its own (configure it there).
///
/// ```
/// use std::sync::Arc;
/// use kvref::credential::AzureCoreCredential;
///
/// fn adapt(sdk_credential: Arc<dyn azure_core::credentials::TokenCredential>) -> AzureCoreCredential {
///     AzureCoreCredential::new(sdk_credential)
/// }
/// ```
#[derive(Debug, Clone)]
pub struct AzureCoreCredential {
    inner: Arc<dyn AzureTokenCredential>,
}

impl AzureCoreCredential {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn AzureTokenCredential>) -> Self {
        Self { inner }
    }
}

#[async_trait]
impl TokenCredential for AzureCoreCredential {
    fn name(&self) -> &str {
        CREDENTIAL
    }

    async fn get_token(&self, request: &TokenRequest) -> Result<AccessToken, CredentialError> {
        traced(CREDENTIAL, "azure_core", "unknown", async {
            let token = self
                .inner
                .get_token(&[request.scope.as_str()], None)
                .await
                .map_err(|e| {
                    let kind = match e.kind() {
                        azure_core::error::ErrorKind::Connection
                        | azure_core::error::ErrorKind::Io => CredentialErrorKind::Unreachable,
                        azure_core::error::ErrorKind::DataConversion => {
                            CredentialErrorKind::InvalidResponse
                        }
                        _ => CredentialErrorKind::Refused,
                    };
                    CredentialError::new(
                        kind,
                        CREDENTIAL,
                        format!("the Azure SDK credential failed: {e}"),
                    )
                })?;
            let expires_on = jiff::Timestamp::from_second(token.expires_on.unix_timestamp())
                .map_err(|_| {
                    CredentialError::new(
                        CredentialErrorKind::InvalidResponse,
                        CREDENTIAL,
                        "the Azure SDK credential returned an expiry out of range",
                    )
                })?;
            Ok(AccessToken::new(
                token.token.secret().to_owned(),
                expires_on,
            ))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use azure_core::credentials::{AccessToken as SdkToken, TokenRequestOptions};
    use azure_core::time::OffsetDateTime;

    #[derive(Debug)]
    struct SdkFixed {
        fail: bool,
    }

    #[async_trait]
    impl AzureTokenCredential for SdkFixed {
        async fn get_token(
            &self,
            scopes: &[&str],
            _options: Option<TokenRequestOptions<'_>>,
        ) -> azure_core::Result<SdkToken> {
            if self.fail {
                return Err(azure_core::Error::with_message(
                    azure_core::error::ErrorKind::Credential,
                    "no identity",
                ));
            }
            assert_eq!(scopes, ["https://vault.azure.net/.default"]);
            Ok(SdkToken::new(
                "sdk-token",
                OffsetDateTime::from_unix_timestamp(2_000_000_000).unwrap(),
            ))
        }
    }

    #[tokio::test]
    async fn tokens_and_errors_are_converted() {
        let ok = AzureCoreCredential::new(Arc::new(SdkFixed { fail: false }));
        let token = ok
            .get_token(&TokenRequest::new("https://vault.azure.net/.default"))
            .await
            .unwrap();
        assert_eq!(token.secret(), "sdk-token");
        assert_eq!(token.expires_on().as_second(), 2_000_000_000);

        let failing = AzureCoreCredential::new(Arc::new(SdkFixed { fail: true }));
        let err = failing
            .get_token(&TokenRequest::new("https://vault.azure.net/.default"))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), CredentialErrorKind::Refused);
        assert!(err.message().contains("no identity"));
    }
}
