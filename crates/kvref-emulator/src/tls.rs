//! The emulator's own certificate authority and the server certificate it signs at start.
//!
//! The server certificate carries the Azure vault wildcards, so clients keep checking the real host
//! name; they only need to trust the CA the emulator writes to a file.

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sha1::{Digest, Sha1};

/// Host names (and the loopback address) the server certificate is valid for.
pub(crate) const SERVER_NAMES: [&str; 6] = [
    "*.vault.azure.net",
    "*.vault.azure.cn",
    "*.vault.usgovcloudapi.net",
    "*.managedhsm.azure.net",
    "localhost",
    "127.0.0.1",
];

/// The generated CA and server certificate.
pub(crate) struct Certificates {
    pub(crate) ca_pem: String,
    pub(crate) server_config: Arc<rustls::ServerConfig>,
    /// Upper-case hex SHA-1 of the server certificate (Service Fabric's `IDENTITY_SERVER_THUMBPRINT`).
    pub(crate) server_thumbprint: String,
}

/// Why the certificates could not be made.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TlsError {
    #[error("cannot generate the emulator's certificates: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("cannot configure TLS: {0}")]
    Rustls(#[from] rustls::Error),
}

/// Makes the CA and the server certificate; the server offers `h2` by ALPN when `offer_h2`.
pub(crate) fn generate(offer_h2: bool) -> Result<Certificates, TlsError> {
    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    let mut ca_name = DistinguishedName::new();
    ca_name.push(DnType::CommonName, "kvref-emulator local CA");
    ca_name.push(DnType::OrganizationName, "kvref-emulator");
    ca_params.distinguished_name = ca_name;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca_params, ca_key);

    let server_key = KeyPair::generate()?;
    let mut server_params = CertificateParams::new(
        SERVER_NAMES
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>(),
    )?;
    let mut server_name = DistinguishedName::new();
    server_name.push(DnType::CommonName, "*.vault.azure.net");
    server_params.distinguished_name = server_name;
    server_params.is_ca = IsCa::ExplicitNoCa;
    server_params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    server_params.use_authority_key_identifier_extension = true;
    let server_cert = server_params.signed_by(&server_key, &issuer)?;

    let thumbprint = Sha1::digest(server_cert.der().as_ref())
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<String>();

    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(
            vec![
                CertificateDer::from(server_cert.der().to_vec()),
                CertificateDer::from(ca_cert.der().to_vec()),
            ],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der())),
        )?;
    // The client picks from these by ALPN; a client that sends no ALPN gets HTTP/1.1.
    config.alpn_protocols = if offer_h2 {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };

    Ok(Certificates {
        ca_pem: ca_cert.pem(),
        server_config: Arc::new(config),
        server_thumbprint: thumbprint,
    })
}
