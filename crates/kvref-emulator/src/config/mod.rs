//! The emulator's configuration file: what tenant, identities, vaults, secrets and roles it starts with.
//!
//! The format is documented in the crate's README. Parsing is strict (`deny_unknown_fields`) and every
//! semantic error names the line it comes from, so a typo in a CI fixture is found in one read.

mod raw;
mod validate;

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::Deserialize;

use raw::RawConfig;

/// The sample configuration shipped in the repository (`examples/emulator.toml`).
pub(crate) const SAMPLE_TOML: &str = include_str!("../../../../examples/emulator.toml");

/// A validated emulator configuration.
///
/// ```
/// use kvref_emulator::EmulatorConfig;
///
/// let config = EmulatorConfig::from_toml_str(r#"
/// tenant_id = "72f988bf-86f1-41af-91ab-2d7cd011db47"
/// [system_identity]
/// client_id = "11111111-1111-1111-1111-111111111111"
/// object_id = "22222222-2222-2222-2222-222222222222"
/// [[vaults]]
/// name = "myvault"
/// [[vaults.secrets]]
/// name = "DbPassword"
/// [[vaults.secrets.versions]]
/// value = "not-a-real-password"
/// [[role_assignments]]
/// principal = "system"
/// vault = "myvault"
/// role = "Key Vault Secrets User"
/// "#)?;
/// assert_eq!(config.tenant_id(), "72f988bf-86f1-41af-91ab-2d7cd011db47");
/// # Ok::<(), kvref_emulator::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct EmulatorConfig {
    pub(crate) tenant_id: String,
    pub(crate) token_lifetime_secs: u64,
    pub(crate) system_identity: Option<Identity>,
    pub(crate) user_assigned: Vec<Identity>,
    pub(crate) service_principals: Vec<ServicePrincipal>,
    pub(crate) throttle: Throttle,
    pub(crate) http2: Http2,
    pub(crate) vaults: Vec<VaultConfig>,
    pub(crate) role_assignments: Vec<RoleAssignment>,
    pub(crate) arc_tokens_dir: Option<std::path::PathBuf>,
    pub(crate) legacy_expires_on: LegacyExpiresOn,
    pub(crate) https_port: u16,
    pub(crate) http_port: u16,
    pub(crate) eventgrid: crate::eventgrid::EventGridConfig,
}

impl fmt::Debug for EmulatorConfig {
    // Hand-written so that secret values and client secrets never reach a log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmulatorConfig")
            .field("tenant_id", &self.tenant_id)
            .field(
                "vaults",
                &self.vaults.iter().map(|v| &v.name).collect::<Vec<_>>(),
            )
            .field("https_port", &self.https_port)
            .field("http_port", &self.http_port)
            .finish_non_exhaustive()
    }
}

/// A managed identity (system-assigned or user-assigned).
#[derive(Clone, Debug)]
pub(crate) struct Identity {
    pub(crate) name: String,
    pub(crate) client_id: String,
    pub(crate) object_id: String,
    pub(crate) resource_id: Option<String>,
}

/// An application registration that signs in with a secret or a federated token.
#[derive(Clone)]
pub(crate) struct ServicePrincipal {
    pub(crate) name: String,
    pub(crate) client_id: String,
    pub(crate) object_id: String,
    pub(crate) client_secret: Option<String>,
    pub(crate) federated_token: Option<String>,
}

/// The per-vault request limit.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Throttle {
    pub(crate) requests: u32,
    pub(crate) window_secs: u64,
}

/// Whether the HTTPS listener offers HTTP/2 (by ALPN) and with how many streams a connection.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Http2 {
    pub(crate) enabled: bool,
    pub(crate) max_concurrent_streams: u32,
}

impl Default for Http2 {
    fn default() -> Self {
        // Key Vault offers h2; 100 is the common server default (and hyper's).
        Self {
            enabled: true,
            max_concurrent_streams: 100,
        }
    }
}

/// The Azure cloud a vault lives in, which fixes its DNS suffix and token audience.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Cloud {
    Public,
    China,
    Usgov,
}

impl Cloud {
    pub(crate) fn dns_suffix(self) -> &'static str {
        match self {
            Cloud::Public => ".vault.azure.net",
            Cloud::China => ".vault.azure.cn",
            Cloud::Usgov => ".vault.usgovcloudapi.net",
        }
    }

    pub(crate) fn resource(self) -> &'static str {
        match self {
            Cloud::Public => "https://vault.azure.net",
            Cloud::China => "https://vault.azure.cn",
            Cloud::Usgov => "https://vault.usgovcloudapi.net",
        }
    }

    pub(crate) fn authority(self) -> &'static str {
        match self {
            Cloud::Public => "https://login.microsoftonline.com",
            Cloud::China => "https://login.chinacloudapi.cn",
            Cloud::Usgov => "https://login.microsoftonline.us",
        }
    }
}

#[derive(Clone)]
pub(crate) struct VaultConfig {
    pub(crate) name: String,
    pub(crate) cloud: Cloud,
    pub(crate) location: String,
    pub(crate) secrets: Vec<SecretConfig>,
}

#[derive(Clone)]
pub(crate) struct SecretConfig {
    pub(crate) name: String,
    pub(crate) versions: Vec<VersionConfig>,
}

#[derive(Clone)]
pub(crate) struct VersionConfig {
    pub(crate) version: Option<String>,
    pub(crate) value: String,
    pub(crate) enabled: bool,
    pub(crate) content_type: Option<String>,
    pub(crate) tags: Option<BTreeMap<String, String>>,
    pub(crate) nbf: Option<i64>,
    pub(crate) exp: Option<i64>,
}

/// How the legacy (2017-09-01) endpoint writes `expires_on`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum LegacyExpiresOn {
    /// `"11/05/2021 15:18:31 +00:00"`, as App Service did.
    Date,
    /// A string of epoch seconds, as Azure Machine Learning does (clients that read
    /// `MSI_ENDPOINT` + `MSI_SECRET` as Azure ML, such as Python's azure-identity, need this).
    Epoch,
}

/// The two data-plane roles the emulator knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    SecretsUser,
    SecretsOfficer,
}

#[derive(Clone, Debug)]
pub(crate) struct RoleAssignment {
    pub(crate) object_id: String,
    pub(crate) vault: String,
    pub(crate) role: Role,
}

/// The configuration is not valid TOML, has an unknown field, or contradicts itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    file: Option<String>,
    line: Option<usize>,
    message: String,
}

impl ConfigError {
    pub(crate) fn at(source: &str, offset: usize, message: impl Into<String>) -> Self {
        Self {
            file: None,
            line: Some(line_of(source, offset)),
            message: message.into(),
        }
    }

    /// The 1-based line of the configuration the error refers to, when it refers to one.
    pub fn line(&self) -> Option<usize> {
        self.line
    }

    /// The configuration file, when the configuration was read from one.
    pub fn file(&self) -> Option<&str> {
        self.file.as_deref()
    }

    /// What is wrong, without the file and line prefix.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.file, self.line) {
            (Some(file), Some(line)) => write!(f, "{file}, line {line}: {}", self.message),
            (Some(file), None) => write!(f, "{file}: {}", self.message),
            (None, Some(line)) => write!(f, "line {line}: {}", self.message),
            (None, None) => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for ConfigError {}

fn line_of(source: &str, offset: usize) -> usize {
    source
        .get(..offset.min(source.len()))
        .map_or(1, |head| head.bytes().filter(|b| *b == b'\n').count() + 1)
}

/// Secret names: 1-127 characters of `0-9a-zA-Z-` (Key Vault's own rule).
pub(crate) fn is_valid_secret_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 127
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Vault names: 3-24 characters, letters, digits and non-consecutive dashes, starting with a letter.
pub(crate) fn is_valid_vault_name(name: &str) -> bool {
    (3..=24).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && name.as_bytes()[0].is_ascii_alphabetic()
        && !name.ends_with('-')
        && !name.contains("--")
}

/// A serde message without the value it quotes: `invalid type: string "s3cret", expected a
/// boolean` becomes `invalid type: string, expected a boolean`. Configuration files and control
/// API bodies hold secret values, and these messages reach stderr and HTTP answers.
pub(crate) fn without_values(message: &str) -> String {
    for marker in ["invalid type: ", "invalid value: "] {
        if let Some(start) = message.find(marker) {
            let from = start + marker.len();
            let rest = &message[from..];
            let kind_end = rest.find([' ', ',']).unwrap_or(rest.len());
            let tail = rest.find(", expected").map_or("", |i| &rest[i..]);
            return format!("{}{}{}", &message[..from], &rest[..kind_end], tail);
        }
    }
    message.to_owned()
}

/// Versions: 32 lowercase hex characters, like the ones Key Vault generates.
pub(crate) fn is_valid_version(version: &str) -> bool {
    version.len() == 32
        && version
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl EmulatorConfig {
    /// Parses and validates a configuration. Errors name the offending line.
    pub fn from_toml_str(source: &str) -> Result<Self, ConfigError> {
        let raw: RawConfig = toml::from_str(source).map_err(|e| {
            let line = e.span().map(|span| line_of(source, span.start));
            ConfigError {
                file: None,
                line,
                message: without_values(e.message().trim()),
            }
        })?;
        validate::validate(source, raw)
    }

    /// Reads and parses a configuration file. Errors name the file and the line.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let file = Some(path.display().to_string());
        let source = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: file.clone(),
            line: None,
            message: format!("cannot read the file: {e}"),
        })?;
        Self::from_toml_str(&source).map_err(|e| ConfigError { file, ..e })
    }

    /// The sample configuration from the repository (`examples/emulator.toml`): a tenant, a
    /// system-assigned identity, two user-assigned identities, a service principal, and two vaults
    /// (`myvault` first) with a few secrets.
    ///
    /// ```
    /// let config = kvref_emulator::EmulatorConfig::sample();
    /// assert!(config.vault_names().any(|name| name == "myvault"));
    /// ```
    pub fn sample() -> Self {
        // The sample is part of this crate and checked by its tests; failing here is a build defect.
        Self::from_toml_str(SAMPLE_TOML).expect("examples/emulator.toml is a valid configuration")
    }

    /// The text of the sample configuration.
    pub fn sample_toml() -> &'static str {
        SAMPLE_TOML
    }

    /// The tenant every token and challenge names.
    pub fn tenant_id(&self) -> &str {
        &self.tenant_id
    }

    /// The configured vault names, in file order.
    pub fn vault_names(&self) -> impl Iterator<Item = &str> {
        self.vaults.iter().map(|v| v.name.as_str())
    }

    /// Listens for HTTPS on this port instead of a free one (0 = a free port).
    pub fn with_https_port(mut self, port: u16) -> Self {
        self.https_port = port;
        self
    }

    /// Listens for HTTP (identity endpoints, control API) on this port instead of a free one.
    pub fn with_http_port(mut self, port: u16) -> Self {
        self.http_port = port;
        self
    }

    /// Changes the lifetime of the tokens the emulator issues.
    pub fn with_token_lifetime_secs(mut self, secs: u64) -> Self {
        self.token_lifetime_secs = secs;
        self
    }

    /// Offers HTTP/2 on the HTTPS listener (ALPN `h2`, the default) or only HTTP/1.1 (`false`),
    /// like a server or a proxy that does not speak h2.
    pub fn with_http2(mut self, enabled: bool) -> Self {
        self.http2.enabled = enabled;
        self
    }

    /// The `SETTINGS_MAX_CONCURRENT_STREAMS` an HTTP/2 connection advertises (default 100; at
    /// least 1).
    pub fn with_max_concurrent_streams(mut self, streams: u32) -> Self {
        self.http2.max_concurrent_streams = streams.max(1);
        self
    }

    /// Changes the per-vault limit: `requests` per `window_secs` seconds.
    pub fn with_throttle(mut self, requests: u32, window_secs: u64) -> Self {
        self.throttle = Throttle {
            requests,
            window_secs: window_secs.max(1),
        };
        self
    }
}
