//! Service principal credentials from the environment: `AZURE_TENANT_ID`, `AZURE_CLIENT_ID`
//! and `AZURE_CLIENT_SECRET` (client secret), as every Azure SDK's `EnvironmentCredential`.
//!
//! Client certificates (`AZURE_CLIENT_CERTIFICATE_PATH`) are recognised but not supported yet:
//! the credential says so instead of silently falling through.

use async_trait::async_trait;
use secrecy::SecretString;

use super::entra::{ClientProof, EntraClient};
use super::{
    AccessToken, CredentialError, CredentialErrorKind, TokenCredential, TokenRequest, traced,
};
use crate::Env;
use crate::transport::HttpTransport;

const CREDENTIAL: &str = "EnvironmentCredential";

/// A service principal with a client secret, configured by `AZURE_TENANT_ID`, `AZURE_CLIENT_ID`
/// and `AZURE_CLIENT_SECRET` (and optionally `AZURE_AUTHORITY_HOST`,
/// `AZURE_ADDITIONALLY_ALLOWED_TENANTS`).
///
/// ```
/// use kvref::Env;
/// use kvref::credential::EnvironmentCredential;
/// use kvref::transport::HttpTransport;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let transport = HttpTransport::builder().build()?;
/// // Nothing configured: the credential is unavailable (a chain moves on).
/// let err = EnvironmentCredential::new(&Env::default(), transport).unwrap_err();
/// assert!(err.is_unavailable());
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct EnvironmentCredential {
    client: EntraClient,
    secret: SecretString,
}

impl EnvironmentCredential {
    /// Reads the configuration from `env`. Fails with kind `Unavailable` when it is incomplete.
    pub fn new(env: &Env, transport: HttpTransport) -> Result<Self, CredentialError> {
        let tenant_id = env.get("AZURE_TENANT_ID");
        let client_id = env.get("AZURE_CLIENT_ID");
        let secret = env.get("AZURE_CLIENT_SECRET");
        match (tenant_id, client_id, secret) {
            (Some(tenant_id), Some(client_id), Some(secret)) => Ok(Self {
                client: EntraClient::new(CREDENTIAL, env, tenant_id.trim(), client_id.trim(), transport)?,
                secret: SecretString::from(secret.to_owned()),
            }),
            (Some(_), Some(_), None) if env.contains("AZURE_CLIENT_CERTIFICATE_PATH") => {
                Err(CredentialError::new(
                    CredentialErrorKind::InvalidConfiguration,
                    CREDENTIAL,
                    "AZURE_CLIENT_CERTIFICATE_PATH is set, but kvref does not support client certificates yet",
                )
                .with_fix("use a client secret (AZURE_CLIENT_SECRET), workload identity or a managed identity"))
            }
            _ => {
                let missing: Vec<&str> = ["AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET"]
                    .into_iter()
                    .filter(|name| !env.contains(name))
                    .collect();
                Err(CredentialError::new(
                    CredentialErrorKind::Unavailable,
                    CREDENTIAL,
                    format!("not configured: {} not set", missing.join(", ")),
                )
                .with_fix("for a service principal, set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET"))
            }
        }
    }
}

#[async_trait]
impl TokenCredential for EnvironmentCredential {
    fn name(&self) -> &str {
        CREDENTIAL
    }

    async fn get_token(&self, request: &TokenRequest) -> Result<AccessToken, CredentialError> {
        traced(
            CREDENTIAL,
            "client_secret",
            "client_id",
            self.client.get_token(
                request,
                &ClientProof::Secret(self.secret.clone()),
                "check AZURE_CLIENT_ID and AZURE_CLIENT_SECRET; secrets expire (`az ad app credential reset --id <client id>` makes a new one)",
            ),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configuration_is_read_from_the_env() {
        let transport = HttpTransport::builder().build().unwrap();
        let err = EnvironmentCredential::new(
            &Env::from_pairs([("AZURE_CLIENT_ID", "c"), ("AZURE_CLIENT_SECRET", "s3cr3t")]),
            transport.clone(),
        )
        .unwrap_err();
        assert!(err.is_unavailable());
        assert!(err.message().contains("AZURE_TENANT_ID"));
        assert!(!err.to_string().contains("s3cr3t"));
        let err = EnvironmentCredential::new(
            &Env::from_pairs([
                ("AZURE_TENANT_ID", "t"),
                ("AZURE_CLIENT_ID", "c"),
                ("AZURE_CLIENT_CERTIFICATE_PATH", "/cert.pem"),
            ]),
            transport.clone(),
        )
        .unwrap_err();
        assert_eq!(err.kind(), CredentialErrorKind::InvalidConfiguration);
        let ok = EnvironmentCredential::new(
            &Env::from_pairs([
                ("AZURE_TENANT_ID", "t"),
                ("AZURE_CLIENT_ID", "c"),
                ("AZURE_CLIENT_SECRET", "s3cr3t"),
            ]),
            transport,
        )
        .unwrap();
        assert!(!format!("{ok:?}").contains("s3cr3t"));
    }
}
