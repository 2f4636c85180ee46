//! Service Fabric: `GET {IDENTITY_ENDPOINT}?api-version=2019-07-01-preview&resource=…` with
//! `Secret: {IDENTITY_HEADER}`, over HTTPS to a server whose self-signed certificate is pinned by
//! its SHA-1 thumbprint in `IDENTITY_SERVER_THUMBPRINT`.
//!
//! The pinned client accepts exactly the certificate with that thumbprint (no chain, no host
//! name: the certificate is self-signed for the node), and still verifies the handshake
//! signatures with the aws-lc-rs provider, so only the holder of that certificate's key can
//! answer. Only the system-assigned identity exists (checked when the credential is built).

use std::sync::Arc;

use reqwest::StatusCode;
use rustls::DigitallySignedStruct;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use sha1::{Digest, Sha1};

use super::protocol::{Call, Target};
use super::{
    Context, ManagedIdentitySource, SecretHeader, endpoint_url, error, secret_header, status_text,
    unreachable, with_query,
};
use crate::Env;
use crate::credential::retry::{NoResponse, Reply, RetryOptions};
use crate::credential::{CredentialError, CredentialErrorKind};
use crate::transport::HttpTransport;

const API_VERSION: &str = "2019-07-01-preview";
const SOURCE: ManagedIdentitySource = ManagedIdentitySource::ServiceFabric;

pub(super) struct ServiceFabric {
    /// Its client is the pinned one, not the transport's.
    target: Target,
    header: SecretHeader,
}

impl std::fmt::Debug for ServiceFabric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceFabric")
            .field("url", &self.target.url.as_str())
            .finish_non_exhaustive()
    }
}

impl ServiceFabric {
    pub(super) fn new(
        env: &Env,
        transport: &HttpTransport,
        retry: RetryOptions,
    ) -> Result<Self, CredentialError> {
        let url = endpoint_url(env, "IDENTITY_ENDPOINT")?;
        let thumbprint =
            parse_thumbprint(env.get("IDENTITY_SERVER_THUMBPRINT").unwrap_or_default())?;
        let client = pinned_client(transport, thumbprint)?;
        Ok(Self {
            target: Target { url, client, retry },
            header: secret_header(env, "IDENTITY_HEADER"),
        })
    }
}

/// Service Fabric documents only 429 as retryable.
fn transient(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS
}

impl super::protocol::Protocol for ServiceFabric {
    const SOURCE: ManagedIdentitySource = SOURCE;

    const TRANSIENT: fn(StatusCode) -> bool = transient;

    fn target(&self) -> &Target {
        &self.target
    }

    fn call(&self, resource: &str, _: &Context<'_>) -> Result<Call, CredentialError> {
        let url = with_query(
            &self.target.url,
            [("api-version", API_VERSION), ("resource", resource)],
        );
        Ok(Call::get(url).header("Secret", self.header.value(SOURCE)?))
    }

    fn refusal(&self, reply: &Reply, _: &str, _: &Context<'_>) -> CredentialError {
        refusal(reply)
    }

    fn no_response(&self, failure: NoResponse) -> CredentialError {
        let err = unreachable(SOURCE, &self.target.url, failure);
        if err.message().contains("certificate") {
            return err.with_fix(concat!(
                "the server's certificate does not match IDENTITY_SERVER_THUMBPRINT; ",
                "check that the variables come from this Service Fabric node"
            ));
        }
        err
    }
}

/// What a final, non-token Service Fabric reply means.
fn refusal(reply: &Reply) -> CredentialError {
    let text = status_text(reply);
    if reply.status == StatusCode::NOT_FOUND || text.contains("ManagedIdentityNotFound") {
        return error(
            CredentialErrorKind::IdentityNotFound,
            format!("Service Fabric has no managed identity for this application ({text})"),
        )
        .with_fix(concat!(
            "declare a managed identity for the application and its service in the ",
            "application manifest, and assign it in the cluster's ARM template"
        ));
    }
    if matches!(
        reply.status,
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
    ) || text.contains("SecretHeaderNotFound")
    {
        return error(
            CredentialErrorKind::Refused,
            format!("the Service Fabric identity endpoint refused the Secret header ({text})"),
        )
        .with_fix(concat!(
            "IDENTITY_HEADER is set by Service Fabric for this process; ",
            "read it from the process environment, never copy it"
        ));
    }
    error(
        CredentialErrorKind::Refused,
        format!("Service Fabric refused the token request ({text})"),
    )
    .with_fix("check the requested scope; the service's message says what is wrong")
}

/// 40 hex digits (SHA-1), case-insensitive; spaces and colons, as some tools print them, are ignored.
fn parse_thumbprint(text: &str) -> Result<[u8; 20], CredentialError> {
    let digits: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ':')
        .collect();
    let invalid = || {
        error(
            CredentialErrorKind::InvalidConfiguration,
            "IDENTITY_SERVER_THUMBPRINT is not a SHA-1 thumbprint (40 hexadecimal digits)",
        )
        .with_fix("use the value Service Fabric sets for the process")
    };
    if digits.len() != 40 {
        return Err(invalid());
    }
    let mut out = [0u8; 20];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(digits.get(2 * i..2 * i + 2).ok_or_else(invalid)?, 16)
            .map_err(|_| invalid())?;
    }
    Ok(out)
}

fn pinned_client(
    transport: &HttpTransport,
    thumbprint: [u8; 20],
) -> Result<reqwest::Client, CredentialError> {
    let config_error = |e: String| {
        error(
            CredentialErrorKind::InvalidConfiguration,
            format!("cannot build the Service Fabric TLS client: {e}"),
        )
    };
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = PinnedCertificate {
        thumbprint,
        algorithms: provider.signature_verification_algorithms,
    };
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| config_error(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    transport
        .settings()
        .client_builder()
        .map_err(|e| config_error(e.to_string()))?
        .no_proxy()
        .tls_backend_preconfigured(config)
        .build()
        .map_err(|e| config_error(e.to_string()))
}

/// Accepts exactly the server certificate whose SHA-1 thumbprint is pinned.
#[derive(Debug)]
struct PinnedCertificate {
    thumbprint: [u8; 20],
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for PinnedCertificate {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let digest: [u8; 20] = Sha1::digest(end_entity.as_ref()).into();
        if digest == self.thumbprint {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbprints_parse_in_common_spellings() {
        let expected: [u8; 20] = [
            0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab,
            0xcd, 0xef, 0x01, 0x23, 0x45, 0x67,
        ];
        assert_eq!(
            parse_thumbprint("0123456789ABCDEF0123456789abcdef01234567").unwrap(),
            expected
        );
        assert_eq!(
            parse_thumbprint("01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67")
                .unwrap(),
            expected
        );
        for bad in [
            "",
            "0123",
            "zz23456789ABCDEF0123456789abcdef01234567",
            "é123456789ABCDEF0123456789abcdef0123456",
        ] {
            assert_eq!(
                parse_thumbprint(bad).unwrap_err().kind(),
                CredentialErrorKind::InvalidConfiguration,
                "{bad}"
            );
        }
    }

    #[test]
    fn the_verifier_accepts_only_the_pinned_certificate() {
        let cert = CertificateDer::from(b"pretend DER".to_vec());
        let other = CertificateDer::from(b"other DER".to_vec());
        let verifier = PinnedCertificate {
            thumbprint: Sha1::digest(cert.as_ref()).into(),
            algorithms: rustls::crypto::aws_lc_rs::default_provider()
                .signature_verification_algorithms,
        };
        let name = ServerName::try_from("localhost").unwrap();
        assert!(
            verifier
                .verify_server_cert(&cert, &[], &name, &[], UnixTime::now())
                .is_ok()
        );
        assert!(
            verifier
                .verify_server_cert(&other, &[], &name, &[], UnixTime::now())
                .is_err()
        );
        assert!(!verifier.supported_verify_schemes().is_empty());
    }
}
