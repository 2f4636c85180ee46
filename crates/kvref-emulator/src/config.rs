//! The emulator's configuration file: what tenant, identities, vaults, secrets and roles it starts with.
//!
//! The format is documented in the crate's README. Parsing is strict (`deny_unknown_fields`) and every
//! semantic error names the line it comes from, so a typo in a CI fixture is found in one read.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

/// The sample configuration shipped in the repository (`examples/emulator.toml`).
pub(crate) const SAMPLE_TOML: &str = include_str!("../../../examples/emulator.toml");

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
    pub(crate) vaults: Vec<VaultConfig>,
    pub(crate) role_assignments: Vec<RoleAssignment>,
    pub(crate) arc_tokens_dir: Option<std::path::PathBuf>,
    pub(crate) legacy_expires_on: LegacyExpiresOn,
    pub(crate) https_port: u16,
    pub(crate) http_port: u16,
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
    fn at(source: &str, offset: usize, message: impl Into<String>) -> Self {
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    tenant_id: Spanned<String>,
    #[serde(default)]
    token_lifetime_secs: Option<Spanned<u64>>,
    #[serde(default)]
    arc_tokens_dir: Option<String>,
    #[serde(default)]
    legacy_expires_on: Option<LegacyExpiresOn>,
    #[serde(default)]
    system_identity: Option<RawIdentity>,
    #[serde(default)]
    user_assigned_identities: Vec<RawIdentity>,
    #[serde(default)]
    service_principals: Vec<RawServicePrincipal>,
    #[serde(default)]
    throttle: Option<RawThrottle>,
    #[serde(default)]
    vaults: Vec<RawVault>,
    #[serde(default)]
    role_assignments: Vec<RawRoleAssignment>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIdentity {
    #[serde(default)]
    name: Option<Spanned<String>>,
    client_id: Spanned<String>,
    object_id: Spanned<String>,
    #[serde(default)]
    resource_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServicePrincipal {
    name: Spanned<String>,
    client_id: Spanned<String>,
    object_id: Spanned<String>,
    #[serde(default)]
    client_secret: Option<String>,
    #[serde(default)]
    federated_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawThrottle {
    requests: Spanned<u32>,
    window_secs: Spanned<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVault {
    name: Spanned<String>,
    #[serde(default)]
    cloud: Option<Cloud>,
    #[serde(default)]
    location: Option<String>,
    #[serde(default)]
    secrets: Vec<RawSecret>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSecret {
    name: Spanned<String>,
    #[serde(default)]
    versions: Vec<RawVersion>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVersion {
    #[serde(default)]
    version: Option<Spanned<String>>,
    value: Spanned<String>,
    #[serde(default = "default_true")]
    enabled: bool,
    #[serde(default)]
    content_type: Option<String>,
    #[serde(default)]
    tags: Option<BTreeMap<String, String>>,
    #[serde(default)]
    nbf: Option<i64>,
    #[serde(default)]
    exp: Option<i64>,
}

fn default_true() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoleAssignment {
    principal: Spanned<String>,
    vault: Spanned<String>,
    role: Spanned<String>,
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

/// Versions: 32 lowercase hex characters, like the ones Key Vault generates.
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
        Self::validate(source, raw)
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

    /// Changes the per-vault limit: `requests` per `window_secs` seconds.
    pub fn with_throttle(mut self, requests: u32, window_secs: u64) -> Self {
        self.throttle = Throttle {
            requests,
            window_secs: window_secs.max(1),
        };
        self
    }

    fn validate(source: &str, raw: RawConfig) -> Result<Self, ConfigError> {
        let err =
            |span: std::ops::Range<usize>, msg: String| ConfigError::at(source, span.start, msg);

        let tenant_id = raw.tenant_id.get_ref().clone();
        if tenant_id.is_empty()
            || !tenant_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        {
            return Err(err(
                raw.tenant_id.span(),
                format!("tenant_id {tenant_id:?} is not a tenant id (letters, digits, '-', '.')"),
            ));
        }
        let token_lifetime_secs = match raw.token_lifetime_secs {
            Some(t) if *t.get_ref() == 0 => {
                return Err(err(
                    t.span(),
                    "token_lifetime_secs must be at least 1".into(),
                ));
            }
            Some(t) => *t.get_ref(),
            None => 86_400,
        };

        // Principals: names and ids must be unique so role assignments are unambiguous.
        let mut names: HashSet<String> = HashSet::new();
        let mut object_ids: HashSet<String> = HashSet::new();
        let mut client_ids: HashSet<String> = HashSet::new();
        let mut check_ids = |client: &Spanned<String>, object: &Spanned<String>| {
            for (field, value, set) in [
                ("client_id", client, &mut client_ids),
                ("object_id", object, &mut object_ids),
            ] {
                if value.get_ref().is_empty() {
                    return Err(err(value.span(), format!("{field} must not be empty")));
                }
                if !set.insert(value.get_ref().to_ascii_lowercase()) {
                    return Err(err(
                        value.span(),
                        format!(
                            "duplicate {field} {:?}: each principal needs its own",
                            value.get_ref()
                        ),
                    ));
                }
            }
            Ok(())
        };

        let system_identity = match raw.system_identity {
            Some(id) => {
                check_ids(&id.client_id, &id.object_id)?;
                Some(Identity {
                    name: "system".into(),
                    client_id: id.client_id.into_inner(),
                    object_id: id.object_id.into_inner(),
                    resource_id: id.resource_id,
                })
            }
            None => None,
        };
        names.insert("system".into());

        let mut user_assigned = Vec::new();
        for id in raw.user_assigned_identities {
            check_ids(&id.client_id, &id.object_id)?;
            let name = match id.name {
                Some(name) => {
                    if !names.insert(name.get_ref().to_ascii_lowercase()) {
                        return Err(err(
                            name.span(),
                            format!("duplicate principal name {:?}", name.get_ref()),
                        ));
                    }
                    name.into_inner()
                }
                None => {
                    return Err(err(
                        id.client_id.span(),
                        "a user-assigned identity needs a name".into(),
                    ));
                }
            };
            let resource_id = match id.resource_id {
                Some(r) => r,
                None => format!(
                    "/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/kvref-emulator/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}"
                ),
            };
            user_assigned.push(Identity {
                name,
                client_id: id.client_id.into_inner(),
                object_id: id.object_id.into_inner(),
                resource_id: Some(resource_id),
            });
        }

        let mut service_principals = Vec::new();
        for sp in raw.service_principals {
            check_ids(&sp.client_id, &sp.object_id)?;
            if !names.insert(sp.name.get_ref().to_ascii_lowercase()) {
                return Err(err(
                    sp.name.span(),
                    format!("duplicate principal name {:?}", sp.name.get_ref()),
                ));
            }
            service_principals.push(ServicePrincipal {
                name: sp.name.into_inner(),
                client_id: sp.client_id.into_inner(),
                object_id: sp.object_id.into_inner(),
                client_secret: sp.client_secret,
                federated_token: sp.federated_token,
            });
        }

        let throttle = match raw.throttle {
            Some(t) => {
                if *t.requests.get_ref() == 0 {
                    return Err(err(
                        t.requests.span(),
                        "throttle.requests must be at least 1".into(),
                    ));
                }
                if *t.window_secs.get_ref() == 0 {
                    return Err(err(
                        t.window_secs.span(),
                        "throttle.window_secs must be at least 1".into(),
                    ));
                }
                Throttle {
                    requests: *t.requests.get_ref(),
                    window_secs: *t.window_secs.get_ref(),
                }
            }
            None => Throttle {
                requests: 4000,
                window_secs: 10,
            },
        };

        let mut vaults = Vec::new();
        let mut vault_names = HashSet::new();
        for vault in raw.vaults {
            let name = vault.name.get_ref().to_ascii_lowercase();
            if !is_valid_vault_name(&name) {
                return Err(err(
                    vault.name.span(),
                    format!(
                        "vault name {:?} is not valid: 3-24 letters, digits and single dashes, starting with a letter",
                        vault.name.get_ref()
                    ),
                ));
            }
            if !vault_names.insert(name.clone()) {
                return Err(err(
                    vault.name.span(),
                    format!(
                        "duplicate vault {:?} (vault names are case-insensitive)",
                        vault.name.get_ref()
                    ),
                ));
            }
            let mut secrets = Vec::new();
            let mut secret_names = HashSet::new();
            for secret in vault.secrets {
                let secret_name = secret.name.get_ref();
                if !is_valid_secret_name(secret_name) {
                    return Err(err(
                        secret.name.span(),
                        format!(
                            "secret name {secret_name:?} in vault {name:?} is not valid: 1-127 letters, digits and dashes"
                        ),
                    ));
                }
                if !secret_names.insert(secret_name.to_ascii_lowercase()) {
                    return Err(err(
                        secret.name.span(),
                        format!(
                            "duplicate secret {secret_name:?} in vault {name:?} (names are case-insensitive; add versions instead)"
                        ),
                    ));
                }
                let mut versions = Vec::new();
                let mut version_ids = HashSet::new();
                for v in secret.versions {
                    let version = match v.version {
                        Some(id) => {
                            if !is_valid_version(id.get_ref()) {
                                return Err(err(
                                    id.span(),
                                    format!(
                                        "version {:?} is not 32 lowercase hex characters",
                                        id.get_ref()
                                    ),
                                ));
                            }
                            if !version_ids.insert(id.get_ref().clone()) {
                                return Err(err(
                                    id.span(),
                                    format!("duplicate version {:?}", id.get_ref()),
                                ));
                            }
                            Some(id.into_inner())
                        }
                        None => None,
                    };
                    if v.value.get_ref().len() > 25 * 1024 {
                        return Err(err(
                            v.value.span(),
                            "secret values are limited to 25 KiB".into(),
                        ));
                    }
                    versions.push(VersionConfig {
                        version,
                        value: v.value.into_inner(),
                        enabled: v.enabled,
                        content_type: v.content_type,
                        tags: v.tags,
                        nbf: v.nbf,
                        exp: v.exp,
                    });
                }
                secrets.push(SecretConfig {
                    name: secret.name.into_inner(),
                    versions,
                });
            }
            vaults.push(VaultConfig {
                name,
                cloud: vault.cloud.unwrap_or(Cloud::Public),
                location: vault.location.unwrap_or_else(|| "westus".into()),
                secrets,
            });
        }

        let mut role_assignments = Vec::new();
        for ra in raw.role_assignments {
            let principal = ra.principal.get_ref();
            let object_id = if principal.eq_ignore_ascii_case("system") {
                match &system_identity {
                    Some(id) => id.object_id.clone(),
                    None => {
                        return Err(err(
                            ra.principal.span(),
                            "principal \"system\" but there is no [system_identity]".into(),
                        ));
                    }
                }
            } else if let Some(id) = user_assigned.iter().find(|id| {
                id.name.eq_ignore_ascii_case(principal)
                    || id.object_id.eq_ignore_ascii_case(principal)
            }) {
                id.object_id.clone()
            } else if let Some(sp) = service_principals.iter().find(|sp| {
                sp.name.eq_ignore_ascii_case(principal)
                    || sp.object_id.eq_ignore_ascii_case(principal)
            }) {
                sp.object_id.clone()
            } else if system_identity
                .as_ref()
                .is_some_and(|id| id.object_id.eq_ignore_ascii_case(principal))
            {
                principal.clone()
            } else {
                return Err(err(
                    ra.principal.span(),
                    format!(
                        "unknown principal {principal:?}: use \"system\", the name or object id of a user-assigned identity or service principal"
                    ),
                ));
            };
            let vault = ra.vault.get_ref().to_ascii_lowercase();
            if !vault_names.contains(&vault) {
                return Err(err(
                    ra.vault.span(),
                    format!("role assignment for unknown vault {:?}", ra.vault.get_ref()),
                ));
            }
            let role = match ra.role.get_ref().as_str() {
                "Key Vault Secrets User" => Role::SecretsUser,
                "Key Vault Secrets Officer" => Role::SecretsOfficer,
                other => {
                    return Err(err(
                        ra.role.span(),
                        format!(
                            "unknown role {other:?}: use \"Key Vault Secrets User\" or \"Key Vault Secrets Officer\""
                        ),
                    ));
                }
            };
            role_assignments.push(RoleAssignment {
                object_id: object_id.to_ascii_lowercase(),
                vault,
                role,
            });
        }

        Ok(Self {
            tenant_id,
            token_lifetime_secs,
            system_identity,
            user_assigned,
            service_principals,
            throttle,
            vaults,
            role_assignments,
            arc_tokens_dir: raw.arc_tokens_dir.map(Into::into),
            legacy_expires_on: raw.legacy_expires_on.unwrap_or(LegacyExpiresOn::Date),
            https_port: 0,
            http_port: 0,
        })
    }
}
