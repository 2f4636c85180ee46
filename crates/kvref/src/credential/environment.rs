//! Service principal credentials from the environment, as every Azure SDK's
//! `EnvironmentCredential`: `AZURE_TENANT_ID` and `AZURE_CLIENT_ID` with either
//! `AZURE_CLIENT_SECRET` (client secret) or `AZURE_CLIENT_CERTIFICATE_PATH` (a PEM file with the
//! certificate and its unencrypted RSA key; `AZURE_CLIENT_SEND_CERTIFICATE_CHAIN=true` sends the
//! chain for subject name/issuer authentication). PKCS#12 files are refused with a conversion hint.

use async_trait::async_trait;
use secrecy::SecretString;

use std::sync::Arc;

use super::certificate::ClientCertificate;
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
    proof: Proof,
}

enum Proof {
    Secret(SecretString),
    Certificate(Arc<ClientCertificate>),
}

impl std::fmt::Debug for Proof {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Secret(_) => f.write_str("Secret(<redacted>)"),
            Self::Certificate(c) => c.fmt(f),
        }
    }
}

impl EnvironmentCredential {
    /// Reads the configuration from `env`. Fails with kind `Unavailable` when it is incomplete.
    pub fn new(env: &Env, transport: HttpTransport) -> Result<Self, CredentialError> {
        let tenant_id = env.get("AZURE_TENANT_ID");
        let client_id = env.get("AZURE_CLIENT_ID");
        let secret = env.get("AZURE_CLIENT_SECRET");
        let certificate_path = env.get("AZURE_CLIENT_CERTIFICATE_PATH");
        match (tenant_id, client_id, secret, certificate_path) {
            (Some(tenant_id), Some(client_id), Some(secret), _) => Ok(Self {
                client: EntraClient::new(
                    CREDENTIAL,
                    env,
                    tenant_id.trim(),
                    client_id.trim(),
                    transport,
                )?,
                proof: Proof::Secret(SecretString::from(secret.to_owned())),
            }),
            (Some(tenant_id), Some(client_id), None, Some(path)) => {
                let send_chain = env
                    .get("AZURE_CLIENT_SEND_CERTIFICATE_CHAIN")
                    .is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("true"));
                let certificate = ClientCertificate::from_pem_file(std::path::Path::new(path), send_chain)
                    .map_err(|e| {
                        CredentialError::new(
                            CredentialErrorKind::InvalidConfiguration,
                            CREDENTIAL,
                            format!("AZURE_CLIENT_CERTIFICATE_PATH cannot be used: {e}"),
                        )
                        .with_fix("point AZURE_CLIENT_CERTIFICATE_PATH at a PEM file holding the certificate and its unencrypted RSA private key")
                    })?;
                Ok(Self {
                    client: EntraClient::new(
                        CREDENTIAL,
                        env,
                        tenant_id.trim(),
                        client_id.trim(),
                        transport,
                    )?,
                    proof: Proof::Certificate(Arc::new(certificate)),
                })
            }
            _ => {
                let missing: Vec<&str> = [
                    "AZURE_TENANT_ID",
                    "AZURE_CLIENT_ID",
                    "AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH",
                ]
                .into_iter()
                .filter(|name| name.split(" or ").all(|n| !env.contains(n)))
                .collect();
                Err(CredentialError::new(
                    CredentialErrorKind::Unavailable,
                    CREDENTIAL,
                    format!("not configured: {} not set", missing.join(", ")),
                )
                .with_fix("for a service principal, set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (or AZURE_CLIENT_CERTIFICATE_PATH)"))
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
        let (source, proof, fix) = match &self.proof {
            Proof::Secret(secret) => (
                "client_secret",
                ClientProof::Secret(secret.clone()),
                "check AZURE_CLIENT_ID and AZURE_CLIENT_SECRET; secrets expire (`az ad app credential reset --id <client id>` makes a new one)",
            ),
            Proof::Certificate(certificate) => (
                "client_certificate",
                ClientProof::Certificate(certificate.clone()),
                "check that the certificate in AZURE_CLIENT_CERTIFICATE_PATH is registered on the app (`az ad app credential list --id <client id> --cert`) and not expired",
            ),
        };
        traced(
            CREDENTIAL,
            source,
            "client_id",
            self.client.get_token(request, &proof, fix),
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
                ("AZURE_CLIENT_CERTIFICATE_PATH", "/nonexistent/cert.pem"),
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

    #[test]
    fn a_pem_certificate_is_accepted() {
        let key =
            rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
                .unwrap();
        let cert = rcgen::CertificateParams::new(vec!["kvref-sp".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sp.pem");
        std::fs::write(&path, format!("{}{}", cert.pem(), key.serialize_pem())).unwrap();
        let env = Env::from_pairs([
            ("AZURE_TENANT_ID", "t"),
            ("AZURE_CLIENT_ID", "c"),
            ("AZURE_CLIENT_CERTIFICATE_PATH", path.to_str().unwrap()),
        ]);
        let credential =
            EnvironmentCredential::new(&env, HttpTransport::builder().build().unwrap()).unwrap();
        let debug = format!("{credential:?}");
        assert!(debug.contains("thumbprint"), "{debug}");
        assert!(!debug.contains("PRIVATE KEY"));
    }
}
