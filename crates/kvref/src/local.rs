//! Local development mode: run an unchanged app against a kvref emulator on this machine.
//!
//! Set `KVREF_EMULATOR=http://127.0.0.1:PORT` (the `http` address the emulator prints in its ready
//! line) and kvref asks the emulator, at `GET {url}/_emulator/info`, for everything else:
//!
//! - the vault hosts of every Azure cloud (`*.vault.azure.net`, `*.vault.azure.cn`,
//!   `*.vault.usgovcloudapi.net`) are routed to the emulator's HTTPS address, and the emulator's CA
//!   is trusted, so TLS still checks the real vault host name;
//! - the credential chain sees the emulator's App Service identity (`IDENTITY_ENDPOINT`,
//!   `IDENTITY_HEADER`), unless the environment already names an identity source itself, so any
//!   source (IMDS, Arc, workload identity, ...) can be tried locally with that source's variables.
//!
//! Only loopback `http://` URLs are accepted (127.0.0.0/8, `::1`, `localhost`): the mode exists
//! for a developer's machine, and a variable that sends every vault request elsewhere must not be
//! able to point at another host. The mode is announced at `warn` level whenever it is on.
//!
//! Local mode never meets a real credential: vault hosts go to the emulator, so any token the
//! chain gets would be handed to whatever listens there. Every identity endpoint and authority
//! in the environment must therefore be the emulator's own address, and a client secret,
//! certificate or federated token is accepted only with `AZURE_AUTHORITY_HOST` pointing at the
//! emulator. Anything else makes local mode refuse to start, naming the variable (never its
//! value). The emulator's info can add only `IDENTITY_ENDPOINT` (on the emulator itself) and
//! `IDENTITY_HEADER`.
//!
//! Applications rarely use this module directly: [`Resolver::from_env`](crate::Resolver::from_env) turns
//! local mode on by itself when the variable is set, and leaves the developer tools (`az`, `azd`)
//! out of the credential chain, since they would fetch real Azure tokens.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use kvref::Env;
//! use kvref::local::LocalEmulator;
//!
//! let env = Env::from_process();
//! if let Some(local) = LocalEmulator::from_env(&env).await? {
//!     let transport = local.transport()?;          // vault hosts routed, CA trusted
//!     let credential_env = local.credential_env(&env);
//! #   let _ = (transport, credential_env);
//! }
//! # Ok(()) }
//! ```

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use crate::Env;
use crate::reference;
use crate::transport::{
    HttpTransport, TransportBuilder, TransportError, error_chain, read_bounded,
};

/// The environment variable that turns local development mode on.
pub const EMULATOR_VAR: &str = "KVREF_EMULATOR";

/// The vault domains routed to the emulator: those of the public, China and US Government clouds.
pub const VAULT_DOMAINS: [&str; 3] = [
    reference::PUBLIC_CLOUD_SUFFIX,
    reference::CHINA_CLOUD_SUFFIX,
    reference::US_GOVERNMENT_CLOUD_SUFFIX,
];

/// Variables that name an identity source on their own. When the environment holds any of them,
/// local mode leaves the credential environment alone instead of adding the emulator's App
/// Service identity.
pub const IDENTITY_SOURCE_VARS: [&str; 7] = [
    "IDENTITY_ENDPOINT",
    "MSI_ENDPOINT",
    "AZURE_POD_IDENTITY_AUTHORITY_HOST",
    "IMDS_ENDPOINT",
    "AZURE_FEDERATED_TOKEN_FILE",
    "AZURE_CLIENT_SECRET",
    "AZURE_CLIENT_CERTIFICATE_PATH",
];

/// Variables that name where a token is fetched. In local mode each must be the emulator's own
/// address.
const ENDPOINT_VARS: [&str; 5] = [
    "IDENTITY_ENDPOINT",
    "MSI_ENDPOINT",
    "IMDS_ENDPOINT",
    "AZURE_POD_IDENTITY_AUTHORITY_HOST",
    "AZURE_AUTHORITY_HOST",
];

/// Variables holding a proof that Entra ID accepts. In local mode they need an
/// `AZURE_AUTHORITY_HOST` on the emulator: without it they would go to the real Entra ID.
const ENTRA_PROOF_VARS: [&str; 3] = [
    "AZURE_CLIENT_SECRET",
    "AZURE_CLIENT_CERTIFICATE_PATH",
    "AZURE_FEDERATED_TOKEN_FILE",
];

/// Variables that select a managed identity endpoint; without any, the emulator's App Service
/// identity is added so that no real endpoint (IMDS, an Arc agent) is ever asked.
const MANAGED_ENDPOINT_VARS: [&str; 3] = [
    "IDENTITY_ENDPOINT",
    "MSI_ENDPOINT",
    "AZURE_POD_IDENTITY_AUTHORITY_HOST",
];

/// The only variables the emulator's info may set.
const INFO_VARS: [&str; 2] = ["IDENTITY_ENDPOINT", "IDENTITY_HEADER"];

/// The most of the emulator's info kvref reads (it is about a kilobyte).
const INFO_LIMIT: usize = 64 * 1024;

/// How long to wait for the emulator's info: it is on this machine, so it answers at once or not
/// at all.
const INFO_TIMEOUT: Duration = Duration::from_secs(5);

/// A running kvref emulator that this process talks to instead of Azure.
///
/// ```no_run
/// # async fn demo() -> Result<(), kvref::local::LocalError> {
/// let local = kvref::local::LocalEmulator::connect("http://127.0.0.1:8080").await?;
/// println!("vaults are served at {}", local.https_addr());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct LocalEmulator {
    url: String,
    http_port: u16,
    https: SocketAddr,
    ca_cert_pem: String,
    ca_cert_path: Option<PathBuf>,
    tenant_id: Option<String>,
    app_service_env: Env,
}

impl fmt::Debug for LocalEmulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalEmulator")
            .field("url", &self.url)
            .field("https", &self.https)
            .field("ca_cert_path", &self.ca_cert_path)
            .field("tenant_id", &self.tenant_id)
            .field("app_service_env", &self.app_service_env)
            .finish()
    }
}

/// Local development mode could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LocalError {
    /// The URL is not a loopback `http://` URL.
    #[error(
        "{origin} is refused: {reason}. Local emulator mode only talks to a kvref emulator on \
         this machine: set it to the `http` address the emulator prints, e.g. http://127.0.0.1:8080, \
         or unset it to use Azure"
    )]
    Refused {
        /// The URL and where it came from, e.g. `KVREF_EMULATOR=http://10.0.0.5:8080`.
        origin: String,
        /// The URL as given (without any user name or password).
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Nothing answered at the URL.
    #[error(
        "the kvref emulator at {url} is not reachable ({reason}): is it running? Start it with \
         `kvref emulator --config emulator.toml` and set KVREF_EMULATOR to the `http` address it \
         prints, or unset KVREF_EMULATOR to use Azure"
    )]
    Unreachable {
        /// The emulator URL.
        url: String,
        /// The connection error.
        reason: String,
    },
    /// Something answered, but not with a kvref emulator's info.
    #[error(
        "{url}/_emulator/info did not describe a kvref emulator ({reason}): check that \
         KVREF_EMULATOR points at the emulator's `http` address, not its `https` one"
    )]
    InvalidInfo {
        /// The emulator URL.
        url: String,
        /// What was wrong with the answer.
        reason: String,
    },
    /// The environment holds a credential that local mode would hand to the emulator, or an
    /// endpoint that is not the emulator's.
    #[error(
        "local emulator mode refuses to start: {variable} {reason}. In local mode every token is \
         sent to the emulator, so a real credential must not be in reach: unset {variable}, or \
         point it at the emulator (the variables `kvref emulator` prints), or unset \
         KVREF_EMULATOR to use Azure"
    )]
    RealCredential {
        /// The variable at fault (its value is never shown).
        variable: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The emulator's CA certificate could not be read or used.
    #[error(
        "cannot use the kvref emulator's CA certificate {path}: {reason}; the emulator writes it \
         at start-up, so restart the emulator on this machine"
    )]
    CaCertificate {
        /// The certificate file named by the emulator.
        path: String,
        /// Why it could not be used.
        reason: String,
    },
}

impl LocalError {
    /// Whether the URL was refused (not loopback, not `http://`).
    pub fn is_refused(&self) -> bool {
        matches!(self, LocalError::Refused { .. })
    }

    /// Whether the emulator did not answer (not running, wrong port).
    pub fn is_unreachable(&self) -> bool {
        matches!(self, LocalError::Unreachable { .. })
    }
}

impl LocalEmulator {
    /// Connects to the emulator named by `KVREF_EMULATOR` in `env`, or returns `None` when it is
    /// unset (or empty).
    pub async fn from_env(env: &Env) -> Result<Option<LocalEmulator>, LocalError> {
        match env.get(EMULATOR_VAR) {
            Some(url) => Self::connect_named(url, |shown| format!("{EMULATOR_VAR}={shown}"))
                .await
                .map(Some),
            None => Ok(None),
        }
    }

    /// Connects to the emulator at `url` (a loopback `http://` URL) and reads its info.
    pub async fn connect(url: &str) -> Result<LocalEmulator, LocalError> {
        Self::connect_named(url, |shown| format!("the emulator URL {shown}")).await
    }

    async fn connect_named(
        url: &str,
        origin: impl Fn(&str) -> String,
    ) -> Result<LocalEmulator, LocalError> {
        let base = validate_url(url, origin)?;
        let info = fetch_info(&base).await?;
        let local = Self::from_info(&base, &info)?;
        tracing::warn!(
            emulator = %local.url,
            https = %local.https,
            "LOCAL EMULATOR MODE IS ON: Key Vault and managed identity requests go to the kvref \
             emulator at {}, not to Azure (unset {EMULATOR_VAR} to use Azure)",
            local.url
        );
        Ok(local)
    }

    fn from_info(url: &str, info: &serde_json::Value) -> Result<LocalEmulator, LocalError> {
        let invalid = |reason: String| LocalError::InvalidInfo {
            url: url.to_owned(),
            reason,
        };
        let http_port = url::Url::parse(url)
            .ok()
            .and_then(|u| u.port_or_known_default())
            .ok_or_else(|| invalid("the emulator URL has no port".into()))?;
        let https_text = info
            .get("https")
            .and_then(|v| v.as_str())
            .ok_or_else(|| invalid("no `https` address".into()))?;
        let https = parse_socket_addr(https_text)
            .ok_or_else(|| invalid(format!("`https` is not an address: {https_text}")))?;
        if !https.ip().is_loopback() {
            return Err(invalid(format!(
                "its HTTPS address {https} is not on this machine"
            )));
        }
        let (ca_cert_pem, ca_cert_path) = match info.get("ca_cert_pem").and_then(|v| v.as_str()) {
            Some(pem) => (pem.to_owned(), None),
            None => {
                let path = info
                    .get("ca_cert")
                    .and_then(|v| v.as_str())
                    .ok_or_else(|| invalid("no `ca_cert` file".into()))?;
                let pem = std::fs::read_to_string(path).map_err(|e| LocalError::CaCertificate {
                    path: path.to_owned(),
                    reason: e.to_string(),
                })?;
                (pem, Some(PathBuf::from(path)))
            }
        };
        let vars = info
            .get("env")
            .and_then(|env| env.get("app_service"))
            .and_then(|v| v.as_object())
            .ok_or_else(|| invalid("no `env.app_service` identity environment".into()))?;
        if let Some(name) = vars.keys().find(|k| !INFO_VARS.contains(&k.as_str())) {
            return Err(invalid(format!(
                "its `env.app_service` sets {}, but the emulator may set only {}",
                crate::transport::sanitize::printable(&name.chars().take(64).collect::<String>()),
                INFO_VARS.join(" and ")
            )));
        }
        let app_service_env = Env::from_pairs(
            vars.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned()))),
        );
        if !app_service_env.contains("IDENTITY_ENDPOINT")
            || !app_service_env.contains("IDENTITY_HEADER")
        {
            return Err(invalid(
                "its `env.app_service` lacks IDENTITY_ENDPOINT or IDENTITY_HEADER".into(),
            ));
        }
        let endpoint = app_service_env.get("IDENTITY_ENDPOINT").unwrap_or_default();
        if !is_own_address(endpoint, http_port, https.port()) {
            return Err(invalid(
                "its IDENTITY_ENDPOINT is not on the emulator's own address".into(),
            ));
        }
        Ok(LocalEmulator {
            url: url.to_owned(),
            http_port,
            https,
            ca_cert_pem,
            ca_cert_path,
            tenant_id: info
                .get("tenant_id")
                .and_then(|v| v.as_str())
                .map(str::to_owned),
            app_service_env,
        })
    }

    /// The emulator's control URL (`http://127.0.0.1:PORT`, no trailing slash).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Where the emulator serves Key Vault (and its token endpoints) over HTTPS.
    pub fn https_addr(&self) -> SocketAddr {
        self.https
    }

    /// The emulator's CA certificate (PEM).
    pub fn ca_cert_pem(&self) -> &str {
        &self.ca_cert_pem
    }

    /// The emulator's tenant, when it names one.
    pub fn tenant_id(&self) -> Option<&str> {
        self.tenant_id.as_deref()
    }

    /// `base` with the emulator's CA trusted and every cloud's vault hosts routed to the emulator.
    pub fn transport_builder(&self, base: TransportBuilder) -> TransportBuilder {
        VAULT_DOMAINS.iter().fold(
            base.add_root_certificate_pem(self.ca_cert_pem.as_bytes().to_vec()),
            |builder, domain| builder.route(*domain, self.https),
        )
    }

    /// A transport with default timeouts that talks to the emulator (see
    /// [`transport_builder`](Self::transport_builder)).
    pub fn transport(&self) -> Result<HttpTransport, TransportError> {
        self.transport_builder(HttpTransport::builder()).build()
    }

    /// The environment the credential chain should see: `env` itself when it already names an
    /// identity source (see [`names_identity_source`]), otherwise `env` plus the emulator's App
    /// Service identity. `AZURE_CLIENT_ID` and other selectors in `env` are kept either way.
    ///
    /// Refused when `env` could reach a real credential (see the module docs): an identity
    /// endpoint or authority that is not the emulator's, or an Entra secret, certificate or
    /// federated token without `AZURE_AUTHORITY_HOST` on the emulator.
    pub fn credential_env(&self, env: &Env) -> Result<Env, LocalError> {
        self.check_no_real_credential(env)?;
        if !MANAGED_ENDPOINT_VARS.iter().any(|name| env.contains(name)) {
            // Also when `env` names another source (a secret for the emulator's Entra ID): the
            // chain's managed identity member must find the emulator, not a real IMDS or Arc.
            tracing::debug!("local emulator mode: using the emulator's App Service identity");
            return Ok(env.clone().overlay(&self.app_service_env));
        }
        tracing::debug!("local emulator mode: the environment names an identity source; using it");
        Ok(env.clone())
    }

    /// Refuses any variable of `env` that would make the chain fetch a real token.
    fn check_no_real_credential(&self, env: &Env) -> Result<(), LocalError> {
        let refuse = |variable: &str, reason: &str| LocalError::RealCredential {
            variable: variable.to_owned(),
            reason: reason.to_owned(),
        };
        for name in ENDPOINT_VARS {
            if let Some(value) = env.get(name)
                && !is_own_address(value, self.http_port, self.https.port())
            {
                return Err(refuse(
                    name,
                    "does not point at the kvref emulator's own address (a loopback URL on its \
                     http or https port)",
                ));
            }
        }
        if !env.contains("AZURE_AUTHORITY_HOST")
            && let Some(name) = ENTRA_PROOF_VARS.iter().find(|name| env.contains(name))
        {
            return Err(refuse(
                name,
                "would be sent to the real Entra ID: AZURE_AUTHORITY_HOST is not set to the \
                 emulator's https address",
            ));
        }
        Ok(())
    }
}

/// Whether `text` is a URL on this emulator: a loopback host (127.0.0.0/8, `::1`, `localhost`)
/// with `http` on the emulator's http port or `https` on its https port, and no user info.
fn is_own_address(text: &str, http_port: u16, https_port: u16) -> bool {
    let Ok(url) = url::Url::parse(text.trim()) else {
        return false;
    };
    let loopback = match url.host() {
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    let port = url.port_or_known_default();
    let own_port = match url.scheme() {
        "http" => port == Some(http_port),
        "https" => port == Some(https_port),
        _ => false,
    };
    loopback && own_port && url.username().is_empty() && url.password().is_none()
}

/// Whether `env` names a managed identity, workload identity or service principal source on its
/// own (any of [`IDENTITY_SOURCE_VARS`]).
///
/// ```
/// use kvref::Env;
/// use kvref::local::names_identity_source;
///
/// assert!(!names_identity_source(&Env::from_pairs([("AZURE_CLIENT_ID", "abc")])));
/// assert!(names_identity_source(&Env::from_pairs([("IMDS_ENDPOINT", "http://127.0.0.1:1")])));
/// ```
pub fn names_identity_source(env: &Env) -> bool {
    IDENTITY_SOURCE_VARS.iter().any(|name| env.contains(name))
}

/// Checks that `url` is a loopback `http://` URL and returns it without a trailing slash.
fn validate_url(url: &str, origin: impl Fn(&str) -> String) -> Result<String, LocalError> {
    let trimmed = url.trim();
    let refused = |shown: &str, reason: &str| LocalError::Refused {
        origin: origin(shown),
        url: shown.to_owned(),
        reason: reason.to_owned(),
    };
    // An unparsable URL is shown only up to any `@`: what precedes it may be a password.
    let parsed = url::Url::parse(trimmed).map_err(|e| {
        let shown = trimmed.rsplit_once('@').map_or(trimmed, |(_, host)| host);
        refused(shown, &e.to_string())
    })?;
    let shown = {
        let mut shown = parsed.clone();
        let _ = shown.set_username("");
        let _ = shown.set_password(None);
        shown.as_str().trim_end_matches('/').to_owned()
    };
    if parsed.scheme() != "http" {
        return Err(refused(
            &shown,
            "only http:// is accepted (the emulator's plain control address)",
        ));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(refused(&shown, "it must not carry a user name or password"));
    }
    let loopback = match parsed.host() {
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    if !loopback {
        return Err(refused(
            &shown,
            "the host is not this machine (only 127.0.0.0/8, ::1 and localhost are accepted)",
        ));
    }
    if parsed.path() != "/" || parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(refused(
            &shown,
            "give the emulator's address only, with no path or query",
        ));
    }
    Ok(shown)
}

fn parse_socket_addr(text: &str) -> Option<SocketAddr> {
    let bare = text
        .strip_prefix("https://")
        .unwrap_or(text)
        .trim_end_matches('/');
    bare.parse().ok().or_else(|| {
        let (host, port) = bare.rsplit_once(':')?;
        let ip: IpAddr = if host.eq_ignore_ascii_case("localhost") {
            IpAddr::from([127, 0, 0, 1])
        } else {
            host.trim_start_matches('[')
                .trim_end_matches(']')
                .parse()
                .ok()?
        };
        Some(SocketAddr::new(ip, port.parse().ok()?))
    })
}

async fn fetch_info(url: &str) -> Result<serde_json::Value, LocalError> {
    let info_url = format!("{url}/_emulator/info");
    let invalid = |reason: String| LocalError::InvalidInfo {
        url: url.to_owned(),
        reason,
    };
    // The process-wide clients (no proxy: the emulator is on this machine), with a short limit.
    let transport = HttpTransport::shared().map_err(|e| LocalError::Unreachable {
        url: url.to_owned(),
        reason: e.to_string(),
    })?;
    let response = transport
        .identity_client()
        .get(&info_url)
        .timeout(INFO_TIMEOUT)
        .send()
        .await
        .map_err(|e| LocalError::Unreachable {
            url: url.to_owned(),
            reason: error_chain(&e),
        })?;
    let status = response.status();
    if !status.is_success() {
        return Err(invalid(format!("it answered HTTP {status}")));
    }
    let body = read_bounded(response, INFO_LIMIT)
        .await
        .map_err(|e| invalid(e.to_string()))?;
    serde_json::from_slice(&body).map_err(|e| {
        invalid(format!(
            "the answer is not JSON (line {}, column {})",
            e.line(),
            e.column()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_http_urls_are_accepted() {
        for (url, normalised) in [
            ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
            ("http://127.0.0.1:8080/", "http://127.0.0.1:8080"),
            ("http://127.1.2.3:1", "http://127.1.2.3:1"),
            ("http://[::1]:9000", "http://[::1]:9000"),
            ("http://localhost:9000", "http://localhost:9000"),
            ("http://LOCALHOST:9000", "http://localhost:9000"),
            (" http://127.0.0.1:80 ", "http://127.0.0.1"),
        ] {
            assert_eq!(
                validate_url(url, |u| format!("KVREF_EMULATOR={u}")).unwrap(),
                normalised,
                "{url}"
            );
        }
    }

    #[test]
    fn anything_else_is_refused_with_the_reason() {
        for (url, reason) in [
            ("https://127.0.0.1:8443", "only http://"),
            ("http://10.0.0.5:8080", "not this machine"),
            ("http://169.254.169.254", "not this machine"),
            ("http://example.com:8080", "not this machine"),
            ("http://localhost.example.com:8080", "not this machine"),
            ("http://127.0.0.1.nip.io:8080", "not this machine"),
            ("http://[::2]:8080", "not this machine"),
            ("http://0.0.0.0:8080", "not this machine"),
            ("http://127.0.0.1:8080/_emulator", "no path"),
            ("http://user:pw@127.0.0.1:8080", "user name or password"),
            ("127.0.0.1:8080", ""),
            ("not a url", ""),
            ("http://user:hunter2@[::1", ""),
        ] {
            let error = validate_url(url, |u| format!("KVREF_EMULATOR={u}")).unwrap_err();
            assert!(error.is_refused());
            let text = error.to_string();
            assert!(text.contains(reason), "{url}: {text}");
            assert!(text.contains("KVREF_EMULATOR"), "{text}");
            assert!(!text.contains("pw@"), "{text}");
            assert!(!text.contains("hunter2"), "{text}");
        }
    }

    #[test]
    fn https_addresses_in_every_spelling() {
        let expected: SocketAddr = "127.0.0.1:8443".parse().unwrap();
        for text in [
            "127.0.0.1:8443",
            "https://127.0.0.1:8443",
            "https://127.0.0.1:8443/",
            "localhost:8443",
        ] {
            assert_eq!(parse_socket_addr(text), Some(expected), "{text}");
        }
        assert_eq!(
            parse_socket_addr("[::1]:8443"),
            Some("[::1]:8443".parse().unwrap())
        );
        assert_eq!(parse_socket_addr("nowhere"), None);
    }

    #[test]
    fn identity_sources_are_recognised() {
        assert!(!names_identity_source(&Env::default()));
        assert!(!names_identity_source(&Env::from_pairs([
            ("AZURE_CLIENT_ID", "x"),
            ("AZURE_TENANT_ID", "t"),
        ])));
        for name in IDENTITY_SOURCE_VARS {
            assert!(
                names_identity_source(&Env::from_pairs([(name, "x")])),
                "{name}"
            );
        }
        // Empty counts as unset, as everywhere in kvref.
        assert!(!names_identity_source(&Env::from_pairs([(
            "IDENTITY_ENDPOINT",
            ""
        )])));
    }
}
