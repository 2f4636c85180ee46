//! The HTTP clients kvref talks through: one set per process, rustls, timeouts always set.
//!
//! Two clients share one configuration, TLS included: the platform's certificate verifier is
//! loaded once per transport and every client resumes the others' TLS sessions (see `tls`).
//! [`HttpTransport::client`] goes to Key Vault and Entra ID over HTTPS and honours the system
//! proxy settings. [`HttpTransport::identity_client`] goes to the platform's managed identity
//! endpoints (IMDS at 169.254.169.254, App Service and Arc on loopback), which must never be
//! reached through a proxy: IMDS rejects proxied requests, and a proxy would see the identity
//! header.
//!
//! Two knobs exist for environments that are not Azure itself, and real users need them too:
//! extra root certificates (a TLS-inspecting corporate proxy, or the kvref emulator's CA) and host
//! routes (send every `*.vault.azure.net` connection to one address, as the emulator needs, without
//! touching the URL, so TLS still checks the real host name).
//!
//! Neither client follows redirects. Key Vault's data plane, Entra ID and the identity endpoints
//! never redirect, and a redirect would carry what kvref sends in custom headers or in a form
//! body (identity secrets, the client secret, a federated assertion) to an address nobody
//! configured: reqwest strips only `Authorization` and cookies on a change of host. Any 3xx is
//! handed back as the answer, and every client reports it as an error naming the host. The Key
//! Vault and Entra client also refuses plain `http://` URLs outright.
//!
//! The Key Vault and Entra client speaks HTTP/2 when the server offers it by ALPN (Key Vault
//! does), so that all of a vault's requests share one TLS connection, and HTTP/1.1 otherwise;
//! [`TransportBuilder::http1_only`] forces HTTP/1.1 and [`TransportBuilder::http2_only`]
//! HTTP/2. An idle HTTP/2 connection is checked with keep-alive PINGs, and one whose PING goes
//! unanswered is closed rather than trusted: a dead connection would otherwise hang every request
//! multiplexed on it. The identity client speaks
//! HTTP/1.1 only: the platform endpoints are plain local HTTP servers.
//!
//! Requests to Key Vault are spread over a few HTTP/2 connections per vault when one connection's
//! stream limit is the bottleneck (see `connections`), and paced against Key Vault's request
//! limit (see `pacing`).
//!
//! Every answer is read with `read_bounded`: no service kvref talks to answers with more than
//! a few kilobytes, so a longer body is an error ("answer larger than 256 KiB"), never a silent
//! truncation and never a process that grows without bound.

mod connections;
pub mod pacing;
pub mod sanitize;
mod tls;

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use zeroize::Zeroizing;

use self::connections::Connections;
pub(crate) use self::connections::Protocol;
use self::pacing::{KEY_VAULT_REQUEST_LIMIT, Pacer, RequestLimit};
use self::tls::{Alpn, SharedTls};

/// How long to wait for a TCP connection and TLS handshake unless configured otherwise.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one whole request may take unless configured otherwise.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How often an idle HTTP/2 connection is checked with a PING unless configured otherwise.
pub const DEFAULT_H2_KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(20);
/// How long a PING may go unanswered before the HTTP/2 connection is closed, unless configured.
pub const DEFAULT_H2_KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(10);
/// Requests in flight on one HTTP/2 connection unless configured: the server's
/// `SETTINGS_MAX_CONCURRENT_STREAMS`, for which RFC 9113 recommends at least 100 (and the
/// emulator's default is 100). More in flight than the server allows wait on the connection.
pub const DEFAULT_H2_STREAMS_PER_CONNECTION: usize = 100;
/// HTTP/2 connections kvref opens at most to one vault unless configured.
pub const DEFAULT_H2_CONNECTIONS_PER_HOST: usize = 4;
/// The most of one answer kvref reads from any service. A Key Vault secret is at most 25 KB and
/// a token answer a few KB; anything longer is refused.
pub const BODY_LIMIT: usize = 256 * 1024;

/// The HTTP clients of one kvref instance. Cloning is cheap and shares the connection pools.
///
/// ```
/// # fn main() -> Result<(), kvref::transport::TransportError> {
/// use kvref::transport::HttpTransport;
/// use std::time::Duration;
///
/// let transport = HttpTransport::builder()
///     .request_timeout(Duration::from_secs(10))
///     .build()?;
/// assert_eq!(transport.request_timeout(), Duration::from_secs(10));
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct HttpTransport {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    client: reqwest::Client,
    identity_client: reqwest::Client,
    settings: TransportBuilder,
    tls: SharedTls,
    connections: Connections,
    pacer: Pacer,
}

/// Builds an [`HttpTransport`].
#[derive(Clone, Debug)]
pub struct TransportBuilder {
    root_certificates_pem: Vec<Vec<u8>>,
    routes: Vec<HostRoute>,
    connect_timeout: Duration,
    request_timeout: Duration,
    http_version: HttpVersion,
    h2_keep_alive_interval: Duration,
    h2_keep_alive_timeout: Duration,
    h2_streams_per_connection: usize,
    h2_connections_per_host: usize,
    vault_request_limit: Option<RequestLimit>,
}

/// The HTTP version the Key Vault and Entra client speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum HttpVersion {
    /// HTTP/2 when the server offers it by ALPN, else HTTP/1.1.
    Negotiated,
    Http1Only,
    Http2Only,
}

/// Sends connections for a host, or for every host under a domain, to a fixed socket address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostRoute {
    /// `myvault.vault.azure.net` for one host, or `.vault.azure.net` (leading dot) for every host
    /// under that domain. Compared case-insensitively.
    pub pattern: String,
    /// Where to connect instead of the address DNS would give.
    pub address: SocketAddr,
}

impl HostRoute {
    fn matches(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.');
        if self.pattern.starts_with('.') {
            host.len() > self.pattern.len()
                && host
                    .get(host.len() - self.pattern.len()..)
                    .is_some_and(|tail| tail.eq_ignore_ascii_case(&self.pattern))
        } else {
            host.eq_ignore_ascii_case(&self.pattern)
        }
    }
}

/// The transport could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// A root certificate was not valid PEM.
    #[error("root certificate is not a valid PEM certificate: {0}")]
    InvalidCertificate(String),
    /// reqwest refused the configuration.
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

impl Default for TransportBuilder {
    fn default() -> Self {
        Self {
            root_certificates_pem: Vec::new(),
            routes: Vec::new(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            http_version: HttpVersion::Negotiated,
            h2_keep_alive_interval: DEFAULT_H2_KEEP_ALIVE_INTERVAL,
            h2_keep_alive_timeout: DEFAULT_H2_KEEP_ALIVE_TIMEOUT,
            h2_streams_per_connection: DEFAULT_H2_STREAMS_PER_CONNECTION,
            h2_connections_per_host: DEFAULT_H2_CONNECTIONS_PER_HOST,
            vault_request_limit: Some(KEY_VAULT_REQUEST_LIMIT),
        }
    }
}

impl TransportBuilder {
    /// Trusts this PEM certificate in addition to the system's roots.
    pub fn add_root_certificate_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.root_certificates_pem.push(pem.into());
        self
    }

    /// Routes connections for `pattern` (a host, or `.domain` for every host under it) to `address`.
    pub fn route(mut self, pattern: impl Into<String>, address: SocketAddr) -> Self {
        self.routes.push(HostRoute {
            pattern: pattern.into(),
            address,
        });
        self
    }

    /// The limit for connecting (TCP and TLS).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The limit for one whole request.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Speaks HTTP/1.1 to Key Vault and Entra ID even where the server offers HTTP/2 (default:
    /// HTTP/2 when offered by ALPN). For a proxy or a network device that mishandles h2; each
    /// request in flight then needs a connection of its own.
    pub fn http1_only(mut self) -> Self {
        self.http_version = HttpVersion::Http1Only;
        self
    }

    /// Speaks HTTP/2 only to Key Vault and Entra ID (instead of [`Self::http1_only`] or the
    /// default, HTTP/2 when offered by ALPN): a server that does not offer h2 fails the request
    /// with a connection error rather than being spoken to over HTTP/1.1. For a network where
    /// HTTP/1.1 to the vault would mean a connection per request in flight, and falling back
    /// quietly is worse than failing. The identity endpoints stay on HTTP/1.1.
    ///
    /// ```
    /// let settings = kvref::transport::HttpTransport::builder().http2_only();
    /// assert!(settings.is_http2_only() && !settings.is_http1_only());
    /// ```
    pub fn http2_only(mut self) -> Self {
        self.http_version = HttpVersion::Http2Only;
        self
    }

    /// How often an idle HTTP/2 connection is checked with a PING, and how long the answer may
    /// take before the connection is closed (defaults [`DEFAULT_H2_KEEP_ALIVE_INTERVAL`] and
    /// [`DEFAULT_H2_KEEP_ALIVE_TIMEOUT`]).
    pub fn h2_keep_alive(mut self, interval: Duration, timeout: Duration) -> Self {
        self.h2_keep_alive_interval = interval;
        self.h2_keep_alive_timeout = timeout;
        self
    }

    /// The requests kept in flight on one HTTP/2 connection: the server's
    /// `SETTINGS_MAX_CONCURRENT_STREAMS` (default [`DEFAULT_H2_STREAMS_PER_CONNECTION`]; at
    /// least 1). reqwest does not tell what the server advertised, so it is configured.
    pub fn h2_streams_per_connection(mut self, streams: usize) -> Self {
        self.h2_streams_per_connection = streams.max(1);
        self
    }

    /// The most HTTP/2 connections opened to one vault (default
    /// [`DEFAULT_H2_CONNECTIONS_PER_HOST`]; at least 1). More than one is opened only when a
    /// batch for the vault needs more streams than one connection carries.
    pub fn h2_connections_per_host(mut self, connections: usize) -> Self {
        self.h2_connections_per_host = connections.max(1);
        self
    }

    /// Paces requests to each vault to `limit` (default
    /// [`KEY_VAULT_REQUEST_LIMIT`], Key Vault's 4,000 GETs per
    /// 10 s), or not at all with `None` (for a vault with a higher limit, or a test).
    pub fn vault_request_limit(mut self, limit: Option<RequestLimit>) -> Self {
        self.vault_request_limit = limit;
        self
    }

    /// Whether HTTP/1.1 is forced on the Key Vault and Entra client ([`Self::http1_only`]).
    pub fn is_http1_only(&self) -> bool {
        self.http_version == HttpVersion::Http1Only
    }

    /// Whether HTTP/2 is forced on the Key Vault and Entra client ([`Self::http2_only`]).
    pub fn is_http2_only(&self) -> bool {
        self.http_version == HttpVersion::Http2Only
    }

    /// Builds the clients.
    pub fn build(self) -> Result<HttpTransport, TransportError> {
        let tls = SharedTls::new(self.root_certificate_ders()?)?;
        let vault_alpn = match self.http_version {
            HttpVersion::Negotiated => Alpn::H2OrHttp1,
            HttpVersion::Http1Only => Alpn::Http1,
            HttpVersion::Http2Only => Alpn::H2,
        };
        let client = self
            .vault_client_builder(&tls, vault_alpn)
            .build()
            .map_err(client_error)?;
        let identity_client = self
            .client_builder_with(&tls, Alpn::Http1)
            .no_proxy()
            .http1_only()
            .build()
            .map_err(client_error)?;
        let lanes = if self.is_http1_only() {
            1
        } else {
            self.h2_connections_per_host
        };
        Ok(HttpTransport {
            inner: Arc::new(Inner {
                client,
                identity_client,
                connections: Connections::new(lanes),
                pacer: Pacer::new(self.vault_request_limit),
                tls,
                settings: self,
            }),
        })
    }

    /// The Key Vault and Entra client's builder: HTTPS only; HTTP/2 by ALPN, or only HTTP/2
    /// when forced, with keep-alive PINGs; or HTTP/1.1 alone when that is forced.
    fn vault_client_builder(&self, tls: &SharedTls, alpn: Alpn) -> reqwest::ClientBuilder {
        let client = self.client_builder_with(tls, alpn).https_only(true);
        let client = match self.http_version {
            HttpVersion::Http1Only => return client.http1_only(),
            HttpVersion::Http2Only => client.http2_prior_knowledge(),
            HttpVersion::Negotiated => client,
        };
        client
            .http2_keep_alive_interval(self.h2_keep_alive_interval)
            .http2_keep_alive_timeout(self.h2_keep_alive_timeout)
            .http2_keep_alive_while_idle(true)
    }

    /// A reqwest builder carrying these settings, for callers that need one more client of the
    /// same kind (for example one that pins a server certificate, with
    /// `tls_backend_preconfigured`). It speaks HTTP/1.1, as the identity client does.
    pub fn client_builder(&self) -> Result<reqwest::ClientBuilder, TransportError> {
        // The extra roots as reqwest takes them: it loads the system's store only when the
        // client is built, and not at all if the caller brings a TLS configuration of its own.
        let mut roots = Vec::new();
        for der in self.root_certificate_ders()? {
            roots.push(
                reqwest::Certificate::from_der(&der)
                    .map_err(|e| TransportError::InvalidCertificate(e.to_string()))?,
            );
        }
        let mut builder = self.client_builder_base().http1_only();
        if !roots.is_empty() {
            builder = builder.tls_certs_merge(roots);
        }
        Ok(builder)
    }

    /// The extra roots, parsed.
    fn root_certificate_ders(&self) -> Result<Vec<CertificateDer<'static>>, TransportError> {
        let mut certs = Vec::new();
        for pem in &self.root_certificates_pem {
            let parsed: Vec<_> = CertificateDer::pem_slice_iter(pem)
                .collect::<Result<_, _>>()
                .map_err(|e| TransportError::InvalidCertificate(e.to_string()))?;
            if parsed.is_empty() {
                return Err(TransportError::InvalidCertificate(
                    "no certificate in the PEM text".to_owned(),
                ));
            }
            certs.extend(parsed);
        }
        Ok(certs)
    }

    fn client_builder_with(&self, tls: &SharedTls, alpn: Alpn) -> reqwest::ClientBuilder {
        self.client_builder_base()
            .tls_backend_preconfigured(tls.for_client(alpn))
    }

    /// Timeouts, no redirects, the user agent and the routes: what every client shares.
    fn client_builder_base(&self) -> reqwest::ClientBuilder {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(self.connect_timeout)
            .timeout(self.request_timeout)
            // See the module docs: a redirect is an answer, never followed.
            .redirect(reqwest::redirect::Policy::none())
            .referer(false)
            .user_agent(concat!("kvref/", env!("CARGO_PKG_VERSION")));
        if !self.routes.is_empty() {
            builder = builder.dns_resolver(Arc::new(RoutingResolver {
                routes: self.routes.clone(),
            }));
        }
        builder
    }
}

fn client_error(e: reqwest::Error) -> TransportError {
    TransportError::Client(e.to_string())
}

impl HttpTransport {
    /// A builder with the default timeouts, the system's roots and no routes.
    pub fn builder() -> TransportBuilder {
        TransportBuilder::default()
    }

    /// The process-wide default transport, built on first use and shared afterwards.
    pub fn shared() -> Result<HttpTransport, TransportError> {
        static SHARED: OnceLock<HttpTransport> = OnceLock::new();
        if let Some(transport) = SHARED.get() {
            return Ok(transport.clone());
        }
        let built = TransportBuilder::default().build()?;
        Ok(SHARED.get_or_init(|| built).clone())
    }

    /// The client for Key Vault and Entra ID (HTTPS, proxy-aware).
    pub fn client(&self) -> &reqwest::Client {
        &self.inner.client
    }

    /// The client for managed identity endpoints (never through a proxy).
    pub fn identity_client(&self) -> &reqwest::Client {
        &self.inner.identity_client
    }

    /// The settings this transport was built with.
    pub fn settings(&self) -> &TransportBuilder {
        &self.inner.settings
    }

    /// The per-request time limit.
    pub fn request_timeout(&self) -> Duration {
        self.inner.settings.request_timeout
    }

    /// The host routes in force.
    pub fn routes(&self) -> &[HostRoute] {
        &self.inner.settings.routes
    }

    /// Where a connection to `host` will go if it is routed, or `None` for ordinary DNS.
    pub fn route_for(&self, host: &str) -> Option<SocketAddr> {
        route_for(&self.inner.settings.routes, host)
    }

    /// The Key Vault client for `lane` of a vault: lane 0 is [`Self::client`], the others are
    /// HTTP/2 clients of their own (see `connections`), built on first use.
    pub(crate) fn vault_lane(&self, lane: usize) -> &reqwest::Client {
        if lane == 0 {
            return &self.inner.client;
        }
        let inner = &self.inner;
        inner
            .connections
            .extra_lane(lane, || {
                let built = inner
                    .settings
                    .vault_client_builder(&inner.tls, Alpn::H2)
                    .http2_prior_knowledge()
                    .build();
                // The same settings built lane 0, so this does not fail in practice; if it
                // does, lane 0 carries the requests.
                built
                    .inspect_err(|e| tracing::debug!(error = %e, "extra HTTP/2 client not built"))
                    .ok()
            })
            .unwrap_or(&inner.client)
    }

    /// The lanes a vault's requests may be spread over (1 when HTTP/1.1 is forced).
    pub(crate) fn vault_lanes(&self) -> usize {
        self.inner.connections.lanes()
    }

    /// The requests kept in flight on one HTTP/2 connection.
    pub(crate) fn h2_streams_per_connection(&self) -> usize {
        self.inner.settings.h2_streams_per_connection
    }

    /// Records the HTTP version `host` answered with.
    pub(crate) fn note_protocol(&self, host: &str, version: http::Version) {
        self.inner.connections.note(host, version);
    }

    /// The protocol `host` answered with so far, if it answered yet.
    pub(crate) fn protocol_of(&self, host: &str) -> Option<Protocol> {
        self.inner.connections.protocol(host)
    }

    /// Changes whenever a host's protocol is learnt.
    pub(crate) fn watch_protocols(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inner.connections.watch()
    }

    /// Books when the next request to vault `host` may go (see `pacing`).
    pub(crate) fn book_departure(
        &self,
        host: &str,
        deadline: tokio::time::Instant,
    ) -> Result<tokio::time::Instant, tokio::time::Instant> {
        self.inner.pacer.book(host, deadline)
    }

    /// The request limit paced to, if any.
    pub(crate) fn vault_request_limit(&self) -> Option<RequestLimit> {
        self.inner.pacer.limit()
    }
}

/// Why an answer's body could not be read.
#[derive(Debug)]
pub(crate) enum BodyError {
    /// The connection failed while reading.
    Http(reqwest::Error),
    /// The body is longer than the limit; reading stopped there.
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
}

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BodyError::Http(e) => f.write_str(&error_chain(e)),
            BodyError::TooLarge { limit } => write!(f, "{}", too_large(*limit)),
        }
    }
}

impl From<reqwest::Error> for BodyError {
    fn from(error: reqwest::Error) -> Self {
        BodyError::Http(error)
    }
}

/// "answer larger than 256 KiB (kvref reads no more)".
pub(crate) fn too_large(limit: usize) -> String {
    if limit >= 1024 && limit.is_multiple_of(1024) {
        format!(
            "answer larger than {} KiB (kvref reads no more)",
            limit / 1024
        )
    } else {
        format!("answer larger than {limit} bytes (kvref reads no more)")
    }
}

/// Reads a whole body of at most `limit` bytes into memory that is wiped when dropped. A longer
/// body (announced by `Content-Length` or found while reading) is an error, and reading stops at
/// the limit, so an endless body costs no more than `limit`.
pub(crate) async fn read_bounded(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Zeroizing<Vec<u8>>, BodyError> {
    let announced = response.content_length();
    if announced.is_some_and(|length| length > limit as u64) {
        return Err(BodyError::TooLarge { limit });
    }
    // The announced length (within the limit) is the usual size: one allocation, no regrowth.
    let mut body = Zeroizing::new(Vec::with_capacity(
        announced.map_or(0, |length| length as usize),
    ));
    while let Some(chunk) = response.chunk().await? {
        let needed = body.len() + chunk.len();
        if needed > limit {
            return Err(BodyError::TooLarge { limit });
        }
        if needed > body.capacity() {
            // Grow by hand so that the old buffer is wiped rather than freed by `Vec`.
            let mut bigger =
                Zeroizing::new(Vec::with_capacity(needed.next_power_of_two().min(limit)));
            bigger.extend_from_slice(&body);
            body = bigger;
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// "Key Vault myvault.vault.azure.net answered 307 Temporary Redirect: …" for a 3xx answer.
pub(crate) fn redirect_refused(
    what: &str,
    url: &reqwest::Url,
    status: reqwest::StatusCode,
) -> String {
    format!(
        "{what} {} answered {status}, a redirect; kvref follows no redirects, because whatever          it sends (tokens, identity secrets) must not go to an address nobody configured",
        url.host_str().unwrap_or("(no host)")
    )
}

/// Whether the connection failed because TLS refused the peer (a certificate we do not accept,
/// a handshake that cannot succeed): such failures are not transient. The TLS layers report them
/// as an I/O error of kind `InvalidData` or `Other` carrying the TLS error.
pub(crate) fn is_tls_rejection(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(err) = source {
        if err.is::<rustls::Error>() {
            return true;
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && matches!(
                io.kind(),
                std::io::ErrorKind::InvalidData | std::io::ErrorKind::Other
            )
            && io.get_ref().is_some()
        {
            return true;
        }
        source = err.source();
    }
    false
}

/// An error and its causes on one line: reqwest's own message says only "error sending
/// request"; the causes say why ("Connection refused", "invalid peer certificate: …").
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

fn route_for(routes: &[HostRoute], host: &str) -> Option<SocketAddr> {
    routes.iter().find(|r| r.matches(host)).map(|r| r.address)
}

/// Answers routed hosts from the table and everything else from the system resolver.
struct RoutingResolver {
    routes: Vec<HostRoute>,
}

impl Resolve for RoutingResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let routed = route_for(&self.routes, name.as_str());
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Addrs = match routed {
                Some(address) => Box::new(std::iter::once(address)),
                None => Box::new(tokio::net::lookup_host((host, 0)).await?),
            };
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(pattern: &str) -> HostRoute {
        HostRoute {
            pattern: pattern.into(),
            address: SocketAddr::from(([127, 0, 0, 1], 8443)),
        }
    }

    #[test]
    fn domain_routes_match_subdomains_only() {
        let r = route(".vault.azure.net");
        assert!(r.matches("myvault.vault.azure.net"));
        assert!(r.matches("MyVault.Vault.Azure.Net"));
        assert!(!r.matches("vault.azure.net"));
        assert!(!r.matches("myvault.vault.azure.net.evil.example"));
        assert!(!r.matches("evilvault.azure.net"));
    }

    #[test]
    fn host_routes_match_exactly() {
        let r = route("login.example");
        assert!(r.matches("LOGIN.example"));
        assert!(!r.matches("x.login.example"));
    }
}
