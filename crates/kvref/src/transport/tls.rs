//! The one TLS configuration every client of a transport shares: the platform's certificate
//! verifier (with the extra roots) and one TLS session cache.
//!
//! reqwest would build both for each client it builds, and building the platform verifier reads
//! and parses every certificate of the system's store (tens of milliseconds on a Linux host).
//! A transport has several clients (Key Vault, the identity endpoints, the extra HTTP/2 lanes,
//! which are built in the middle of a batch), so it is done once here. Sharing the session cache
//! also lets a vault's second connection resume the first one's TLS session instead of a full
//! handshake.

use std::sync::Arc;

use rustls::ClientConfig;
use rustls_pki_types::CertificateDer;

use super::TransportError;

/// The protocols a client offers by ALPN.
#[derive(Clone, Copy, Debug)]
pub(super) enum Alpn {
    /// HTTP/2 when the server offers it, else HTTP/1.1.
    H2OrHttp1,
    /// HTTP/2 only (an extra lane to a host that answered over HTTP/2, or HTTP/2 forced).
    H2,
    /// HTTP/1.1 only.
    Http1,
}

/// The shared configuration, without ALPN (each client adds its own).
#[derive(Clone, Debug)]
pub(super) struct SharedTls {
    base: ClientConfig,
}

impl SharedTls {
    /// Verifies servers with the platform's verifier, trusting `extra_roots` as well.
    pub(super) fn new(extra_roots: Vec<CertificateDer<'static>>) -> Result<Self, TransportError> {
        let provider = rustls::crypto::CryptoProvider::get_default()
            .cloned()
            .unwrap_or_else(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()));
        let verifier = if extra_roots.is_empty() {
            rustls_platform_verifier::Verifier::new(provider.clone())
        } else {
            rustls_platform_verifier::Verifier::new_with_extra_roots(extra_roots, provider.clone())
        }
        .map_err(|e| TransportError::Client(format!("cannot load the system's roots: {e}")))?;
        let base = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| TransportError::Client(e.to_string()))?
            // The platform's own verifier: `dangerous` is only rustls's name for choosing one.
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        Ok(Self { base })
    }

    /// A configuration for one client: the shared verifier and session cache, and `alpn`.
    pub(super) fn for_client(&self, alpn: Alpn) -> ClientConfig {
        let mut config = self.base.clone();
        config.alpn_protocols = match alpn {
            Alpn::H2OrHttp1 => vec![b"h2".to_vec(), b"http/1.1".to_vec()],
            Alpn::H2 => vec![b"h2".to_vec()],
            Alpn::Http1 => vec![b"http/1.1".to_vec()],
        };
        config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_client_offers_its_own_protocols() {
        let shared = SharedTls::new(Vec::new()).expect("the system's roots load");
        let offered = |alpn| shared.for_client(alpn).alpn_protocols;
        assert_eq!(
            offered(Alpn::H2OrHttp1),
            [b"h2".to_vec(), b"http/1.1".to_vec()]
        );
        assert_eq!(offered(Alpn::H2), [b"h2".to_vec()]);
        assert_eq!(offered(Alpn::Http1), [b"http/1.1".to_vec()]);
    }
}
