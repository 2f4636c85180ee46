//! Client certificates for service principals: a PEM file holding the certificate and its
//! unencrypted RSA private key, turned into the signed JWT (`client_assertion`) Entra ID accepts.
//!
//! The assertion is signed RS256 with the aws-lc-rs provider rustls already uses, names the
//! certificate by its SHA-1 thumbprint (`x5t`), optionally carries the chain (`x5c`, for subject
//! name/issuer authentication), and lives 10 minutes. PKCS#12 (PFX) files and encrypted keys are
//! not read: kvref says so and how to convert them.

use std::path::Path;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rustls::SignatureScheme;
use rustls::sign::SigningKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use secrecy::SecretString;
use sha1::{Digest, Sha1};

/// How long an assertion is valid.
const ASSERTION_LIFETIME_SECS: i64 = 600;

/// A certificate and its private key, ready to sign client assertions.
pub(crate) struct ClientCertificate {
    chain: Vec<CertificateDer<'static>>,
    key: Arc<dyn SigningKey>,
    send_chain: bool,
}

impl std::fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCertificate")
            .field("thumbprint", &self.thumbprint_hex())
            .finish_non_exhaustive()
    }
}

impl ClientCertificate {
    /// Reads `path`: PEM with one or more certificates (the first is the client's) and a private key.
    pub(crate) fn from_pem_file(path: &Path, send_chain: bool) -> Result<Self, String> {
        let pem =
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Self::from_pem(&pem, send_chain).map_err(|e| format!("{}: {e}", path.display()))
    }

    pub(crate) fn from_pem(pem: &[u8], send_chain: bool) -> Result<Self, String> {
        const CONVERT: &str = "kvref reads PEM files with the certificate and an unencrypted private key (convert a PFX with `openssl pkcs12 -in cert.pfx -out cert.pem -nodes`)";
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<_, _>>()
            .map_err(|_| format!("not a PEM file; {CONVERT}"))?;
        if chain.is_empty() {
            return Err(format!("no certificate found; {CONVERT}"));
        }
        let key = PrivateKeyDer::from_pem_slice(pem)
            .map_err(|_| format!("no unencrypted private key found; {CONVERT}"))?;
        let key = rustls::crypto::aws_lc_rs::sign::any_supported_type(&key)
            .map_err(|e| format!("the private key cannot be used: {e}"))?;
        if key
            .choose_scheme(&[SignatureScheme::RSA_PKCS1_SHA256])
            .is_none()
        {
            return Err("the private key is not an RSA key (Entra ID accepts RSA certificates for client assertions)".into());
        }
        Ok(Self {
            chain,
            key,
            send_chain,
        })
    }

    fn thumbprint(&self) -> [u8; 20] {
        Sha1::digest(self.chain[0].as_ref()).into()
    }

    fn thumbprint_hex(&self) -> String {
        self.thumbprint()
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect()
    }

    /// A signed client assertion for `client_id` addressed to `token_url`.
    pub(crate) fn assertion(
        &self,
        client_id: &str,
        token_url: &str,
        now: jiff::Timestamp,
    ) -> Result<SecretString, String> {
        let mut header = serde_json::json!({
            "alg": "RS256",
            "typ": "JWT",
            "x5t": URL_SAFE_NO_PAD.encode(self.thumbprint()),
        });
        if self.send_chain {
            header["x5c"] = self
                .chain
                .iter()
                .map(|c| serde_json::Value::String(STANDARD.encode(c.as_ref())))
                .collect();
        }
        let issued = now.as_second();
        let claims = serde_json::json!({
            "aud": token_url,
            "iss": client_id,
            "sub": client_id,
            "jti": format!("{:032x}", rand::random::<u128>()),
            "iat": issued,
            "nbf": issued,
            "exp": issued + ASSERTION_LIFETIME_SECS,
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signer = self
            .key
            .choose_scheme(&[SignatureScheme::RSA_PKCS1_SHA256])
            .ok_or("the private key cannot sign RS256")?;
        let signature = signer
            .sign(signing_input.as_bytes())
            .map_err(|e| format!("signing the client assertion failed: {e}"))?;
        Ok(SecretString::from(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn generate(alg: &'static rcgen::SignatureAlgorithm) -> (String, rcgen::KeyPair, Vec<u8>) {
        let key = if alg == &rcgen::PKCS_RSA_SHA256 {
            rcgen::KeyPair::generate_rsa_for(alg, rcgen::RsaKeySize::_2048).unwrap()
        } else {
            rcgen::KeyPair::generate_for(alg).unwrap()
        };
        let cert = rcgen::CertificateParams::new(vec!["kvref-test-client".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let pem = format!("{}{}", cert.pem(), key.serialize_pem());
        (pem, key, cert.der().to_vec())
    }

    fn decode(part: &str) -> serde_json::Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    }

    #[test]
    fn assertions_are_signed_rs256_jwts_naming_the_certificate() {
        let (pem, key, der) = generate(&rcgen::PKCS_RSA_SHA256);
        let certificate = ClientCertificate::from_pem(pem.as_bytes(), true).unwrap();
        let now: jiff::Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let url = "https://login.microsoftonline.com/t/oauth2/v2.0/token";
        let assertion = certificate.assertion("client-1", url, now).unwrap();
        let parts: Vec<&str> = assertion.expose_secret().split('.').collect();
        assert_eq!(parts.len(), 3);

        let header = decode(parts[0]);
        assert_eq!(header["alg"], "RS256");
        let thumbprint: [u8; 20] = Sha1::digest(&der).into();
        assert_eq!(header["x5t"], URL_SAFE_NO_PAD.encode(thumbprint));
        assert_eq!(header["x5c"][0], STANDARD.encode(&der));

        let claims = decode(parts[1]);
        assert_eq!(claims["aud"], url);
        assert_eq!(claims["iss"], "client-1");
        assert_eq!(claims["sub"], "client-1");
        assert_eq!(claims["nbf"], now.as_second());
        assert_eq!(claims["exp"], now.as_second() + 600);
        assert_eq!(claims["jti"].as_str().unwrap().len(), 32);

        // The signature verifies with the certificate's public key.
        let provider = rustls::crypto::aws_lc_rs::default_provider();
        let (_, algorithms) = provider
            .signature_verification_algorithms
            .mapping
            .iter()
            .find(|(scheme, _)| *scheme == SignatureScheme::RSA_PKCS1_SHA256)
            .unwrap();
        let signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        let message = format!("{}.{}", parts[0], parts[1]);
        assert!(
            algorithms[0]
                .verify_signature(key.public_key_raw(), message.as_bytes(), &signature)
                .is_ok()
        );
        assert!(
            algorithms[0]
                .verify_signature(key.public_key_raw(), b"tampered", &signature)
                .is_err()
        );

        // A fresh jti every time; no chain unless asked.
        let again = ClientCertificate::from_pem(pem.as_bytes(), false).unwrap();
        let second = again.assertion("client-1", url, now).unwrap();
        let second_parts: Vec<&str> = second.expose_secret().split('.').collect();
        assert!(decode(second_parts[0]).get("x5c").is_none());
        assert_ne!(decode(second_parts[1])["jti"], claims["jti"]);
    }

    #[test]
    fn unusable_files_are_explained() {
        let err = ClientCertificate::from_pem(b"\x30\x82binary pfx", false).unwrap_err();
        assert!(err.contains("openssl pkcs12"), "{err}");
        let (pem, _, _) = generate(&rcgen::PKCS_RSA_SHA256);
        let cert_only: String = pem
            .split("-----BEGIN PRIVATE KEY-----")
            .next()
            .unwrap()
            .into();
        let err = ClientCertificate::from_pem(cert_only.as_bytes(), false).unwrap_err();
        assert!(err.contains("private key"), "{err}");
        let (ec_pem, _, _) = generate(&rcgen::PKCS_ECDSA_P256_SHA256);
        let err = ClientCertificate::from_pem(ec_pem.as_bytes(), false).unwrap_err();
        assert!(err.contains("not an RSA key"), "{err}");
        assert!(
            !format!(
                "{:?}",
                ClientCertificate::from_pem(pem.as_bytes(), false).unwrap()
            )
            .contains("PRIVATE")
        );
    }
}
