//! Workload identity (AKS and any Kubernetes with the Azure workload identity webhook): a
//! Kubernetes service account token, federated with an Entra app or user-assigned identity, is
//! exchanged for an Entra token.
//!
//! The webhook injects `AZURE_CLIENT_ID`, `AZURE_TENANT_ID`, `AZURE_FEDERATED_TOKEN_FILE` and
//! `AZURE_AUTHORITY_HOST`. The kubelet rotates the token file, so it is read again for every
//! token request (the [`TokenCache`](super::TokenCache) in front keeps that rare).

use std::path::PathBuf;

use async_trait::async_trait;
use secrecy::SecretString;

use super::entra::{ClientProof, EntraClient};
use super::{
    AccessToken, CredentialError, CredentialErrorKind, TokenCredential, TokenRequest, traced,
};
use crate::Env;
use crate::transport::HttpTransport;

const CREDENTIAL: &str = "WorkloadIdentityCredential";

/// Exchanges the Kubernetes service account token in `AZURE_FEDERATED_TOKEN_FILE` for an Entra
/// token of `AZURE_CLIENT_ID` in `AZURE_TENANT_ID`.
///
/// ```
/// use kvref::Env;
/// use kvref::credential::WorkloadIdentityCredential;
/// use kvref::transport::HttpTransport;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let env = Env::from_pairs([
///     ("AZURE_CLIENT_ID", "11111111-2222-3333-4444-555555555555"),
///     ("AZURE_TENANT_ID", "72f988bf-86f1-41af-91ab-2d7cd011db47"),
///     ("AZURE_FEDERATED_TOKEN_FILE", "/var/run/secrets/azure/tokens/azure-identity-token"),
///     ("AZURE_AUTHORITY_HOST", "https://login.microsoftonline.com/"),
/// ]);
/// let credential = WorkloadIdentityCredential::new(&env, HttpTransport::builder().build()?)?;
/// # let _ = credential; Ok(()) }
/// ```
#[derive(Debug)]
pub struct WorkloadIdentityCredential {
    client: EntraClient,
    token_file: PathBuf,
}

impl WorkloadIdentityCredential {
    /// Reads the configuration from `env`. Fails with kind `Unavailable` when the variables
    /// are not all set.
    pub fn new(env: &Env, transport: HttpTransport) -> Result<Self, CredentialError> {
        let missing: Vec<&str> = [
            "AZURE_TENANT_ID",
            "AZURE_CLIENT_ID",
            "AZURE_FEDERATED_TOKEN_FILE",
        ]
        .into_iter()
        .filter(|name| !env.contains(name))
        .collect();
        if !missing.is_empty() {
            return Err(CredentialError::new(
                CredentialErrorKind::Unavailable,
                CREDENTIAL,
                format!("not configured: {} not set", missing.join(", ")),
            )
            .with_fix(concat!(
                "on AKS, enable workload identity ",
                "(`az aks update --enable-oidc-issuer --enable-workload-identity`), ",
                "label the pod `azure.workload.identity/use: \"true\"` and annotate its ",
                "service account with `azure.workload.identity/client-id`"
            )));
        }
        let tenant_id = env.get("AZURE_TENANT_ID").unwrap_or_default().trim();
        let client_id = env.get("AZURE_CLIENT_ID").unwrap_or_default().trim();
        Ok(Self {
            client: EntraClient::new(CREDENTIAL, env, tenant_id, client_id, transport)?,
            token_file: PathBuf::from(env.get("AZURE_FEDERATED_TOKEN_FILE").unwrap_or_default()),
        })
    }

    async fn assertion(&self) -> Result<SecretString, CredentialError> {
        let text = tokio::fs::read_to_string(&self.token_file)
            .await
            .map_err(|e| {
                CredentialError::new(
                    CredentialErrorKind::InvalidConfiguration,
                    CREDENTIAL,
                    format!(
                        "cannot read the federated token file {} (AZURE_FEDERATED_TOKEN_FILE): {e}",
                        self.token_file.display()
                    ),
                )
                .with_fix(concat!(
                    "check that the service account token volume is mounted ",
                    "(the workload identity webhook adds it when the pod is labelled ",
                    "azure.workload.identity/use: \"true\")"
                ))
            })?;
        let token = text.trim();
        if token.is_empty() {
            return Err(CredentialError::new(
                CredentialErrorKind::InvalidConfiguration,
                CREDENTIAL,
                format!(
                    "the federated token file {} is empty",
                    self.token_file.display()
                ),
            )
            .with_fix(concat!(
                "wait for the kubelet to write the projected service account token, ",
                "or check the volume mount"
            )));
        }
        Ok(SecretString::from(token.to_owned()))
    }
}

#[async_trait]
impl TokenCredential for WorkloadIdentityCredential {
    fn name(&self) -> &str {
        CREDENTIAL
    }

    async fn get_token(&self, request: &TokenRequest) -> Result<AccessToken, CredentialError> {
        traced(CREDENTIAL, "workload_identity", "client_id", async {
            let assertion = self.assertion().await?;
            self.client
                .get_token(
                    request,
                    &ClientProof::Assertion(assertion),
                    concat!(
                        "check the federated identity credential of the app or identity in ",
                        "AZURE_CLIENT_ID: its issuer must be the cluster's OIDC issuer and its ",
                        "subject system:serviceaccount:<namespace>:<service account>"
                    ),
                )
                .await
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_variables_make_it_unavailable() {
        let transport = HttpTransport::builder().build().unwrap();
        let err = WorkloadIdentityCredential::new(
            &Env::from_pairs([("AZURE_CLIENT_ID", "c")]),
            transport.clone(),
        )
        .unwrap_err();
        assert!(err.is_unavailable());
        assert!(
            err.message()
                .contains("AZURE_TENANT_ID, AZURE_FEDERATED_TOKEN_FILE")
        );
        let err = WorkloadIdentityCredential::new(
            &Env::from_pairs([
                ("AZURE_CLIENT_ID", "c"),
                ("AZURE_TENANT_ID", "../evil"),
                ("AZURE_FEDERATED_TOKEN_FILE", "/x"),
            ]),
            transport,
        )
        .unwrap_err();
        assert_eq!(err.kind(), CredentialErrorKind::InvalidConfiguration);
    }
}
