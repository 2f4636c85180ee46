//! From the file as written to an [`EmulatorConfig`]: one function a section, checked in file order.
//!
//! Each check returns the first error it finds, and the sections run in the order below, so the
//! first error a user sees is the first one in the file's sections (tenant, token lifetime,
//! principals, throttle, vaults, role assignments). Role assignments come last because they refer
//! to principals and vaults by name.

use std::collections::{BTreeMap, HashSet};
use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

use super::{
    Cloud, ConfigError, EmulatorConfig, Identity, LegacyExpiresOn, Role, RoleAssignment,
    SecretConfig, ServicePrincipal, Throttle, VaultConfig, VersionConfig, is_valid_secret_name,
    is_valid_vault_name, is_valid_version,
};

/// The configuration file as written: spans kept, nothing checked beyond its shape.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
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

/// Checks every section of `raw` and builds the configuration; errors name a line of `source`.
pub(super) fn validate(source: &str, raw: RawConfig) -> Result<EmulatorConfig, ConfigError> {
    let tenant_id = tenant_id(source, raw.tenant_id)?;
    let token_lifetime_secs = token_lifetime_secs(source, raw.token_lifetime_secs)?;
    let principals = principals(
        source,
        raw.system_identity,
        raw.user_assigned_identities,
        raw.service_principals,
    )?;
    let throttle = throttle(source, raw.throttle)?;
    let vaults = vaults(source, raw.vaults)?;
    let role_assignments = raw
        .role_assignments
        .into_iter()
        .map(|ra| role_assignment(source, ra, &principals, &vaults))
        .collect::<Result<_, _>>()?;
    Ok(EmulatorConfig {
        tenant_id,
        token_lifetime_secs,
        system_identity: principals.system,
        user_assigned: principals.user_assigned,
        service_principals: principals.service_principals,
        throttle,
        vaults,
        role_assignments,
        arc_tokens_dir: raw.arc_tokens_dir.map(Into::into),
        legacy_expires_on: raw.legacy_expires_on.unwrap_or(LegacyExpiresOn::Date),
        https_port: 0,
        http_port: 0,
    })
}

/// An error at the start of `span` in `source`.
fn at(source: &str, span: Range<usize>, message: impl Into<String>) -> ConfigError {
    ConfigError::at(source, span.start, message)
}

fn tenant_id(source: &str, raw: Spanned<String>) -> Result<String, ConfigError> {
    let tenant_id = raw.get_ref();
    // Tenant ids are GUIDs or domain names (contoso.onmicrosoft.com). The id is written into
    // authority URLs, token issuers and challenges, so characters that would change a URL are refused.
    let allowed = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'.';
    if tenant_id.is_empty() || !tenant_id.bytes().all(allowed) {
        return Err(at(
            source,
            raw.span(),
            format!("tenant_id {tenant_id:?} is not a tenant id (letters, digits, '-', '.')"),
        ));
    }
    Ok(raw.into_inner())
}

fn token_lifetime_secs(source: &str, raw: Option<Spanned<u64>>) -> Result<u64, ConfigError> {
    match raw {
        Some(t) if *t.get_ref() == 0 => Err(at(
            source,
            t.span(),
            "token_lifetime_secs must be at least 1",
        )),
        Some(t) => Ok(t.into_inner()),
        // One day, the default the README documents.
        None => Ok(86_400),
    }
}

/// The validated identities and service principals, which role assignments refer to.
struct Principals {
    system: Option<Identity>,
    user_assigned: Vec<Identity>,
    service_principals: Vec<ServicePrincipal>,
}

/// The names and ids seen so far. Names and ids must be unique, ignoring case (GUIDs compare
/// that way), so that a role assignment's principal is unambiguous.
struct SeenPrincipals {
    names: HashSet<String>,
    client_ids: HashSet<String>,
    object_ids: HashSet<String>,
}

impl SeenPrincipals {
    fn new() -> Self {
        Self {
            // "system" always means the system-assigned identity, whether or not one is set.
            names: HashSet::from(["system".to_owned()]),
            client_ids: HashSet::new(),
            object_ids: HashSet::new(),
        }
    }

    /// Client id first, then object id: each must be non-empty and not seen before.
    fn claim_ids(
        &mut self,
        source: &str,
        client: &Spanned<String>,
        object: &Spanned<String>,
    ) -> Result<(), ConfigError> {
        for (field, value, seen) in [
            ("client_id", client, &mut self.client_ids),
            ("object_id", object, &mut self.object_ids),
        ] {
            if value.get_ref().is_empty() {
                return Err(at(
                    source,
                    value.span(),
                    format!("{field} must not be empty"),
                ));
            }
            if !seen.insert(value.get_ref().to_ascii_lowercase()) {
                return Err(at(
                    source,
                    value.span(),
                    format!(
                        "duplicate {field} {:?}: each principal needs its own",
                        value.get_ref()
                    ),
                ));
            }
        }
        Ok(())
    }

    fn claim_name(&mut self, source: &str, name: &Spanned<String>) -> Result<(), ConfigError> {
        if !self.names.insert(name.get_ref().to_ascii_lowercase()) {
            return Err(at(
                source,
                name.span(),
                format!("duplicate principal name {:?}", name.get_ref()),
            ));
        }
        Ok(())
    }
}

/// The system identity, then the user-assigned identities, then the service principals; ids are
/// unique across all three, names across the last two (plus "system").
fn principals(
    source: &str,
    system: Option<RawIdentity>,
    user_assigned: Vec<RawIdentity>,
    service_principals: Vec<RawServicePrincipal>,
) -> Result<Principals, ConfigError> {
    let mut seen = SeenPrincipals::new();
    let system = match system {
        Some(id) => {
            seen.claim_ids(source, &id.client_id, &id.object_id)?;
            Some(Identity {
                name: "system".into(),
                client_id: id.client_id.into_inner(),
                object_id: id.object_id.into_inner(),
                resource_id: id.resource_id,
            })
        }
        None => None,
    };
    let user_assigned = user_assigned
        .into_iter()
        .map(|id| user_assigned_identity(source, id, &mut seen))
        .collect::<Result<_, _>>()?;
    let service_principals = service_principals
        .into_iter()
        .map(|sp| service_principal(source, sp, &mut seen))
        .collect::<Result<_, _>>()?;
    Ok(Principals {
        system,
        user_assigned,
        service_principals,
    })
}

fn user_assigned_identity(
    source: &str,
    id: RawIdentity,
    seen: &mut SeenPrincipals,
) -> Result<Identity, ConfigError> {
    seen.claim_ids(source, &id.client_id, &id.object_id)?;
    // Role assignments refer to user-assigned identities by name, so a name is required; the error
    // points at the client id because there is no name line to point at.
    let Some(name) = id.name else {
        return Err(at(
            source,
            id.client_id.span(),
            "a user-assigned identity needs a name",
        ));
    };
    seen.claim_name(source, &name)?;
    let name = name.into_inner();
    // Clients may select the identity by its ARM resource id (mi_res_id), so every identity has
    // one; the default has the shape Azure uses, under a placeholder subscription.
    let resource_id = id.resource_id.unwrap_or_else(|| {
        format!(
            "/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/kvref-emulator/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}"
        )
    });
    Ok(Identity {
        name,
        client_id: id.client_id.into_inner(),
        object_id: id.object_id.into_inner(),
        resource_id: Some(resource_id),
    })
}

fn service_principal(
    source: &str,
    sp: RawServicePrincipal,
    seen: &mut SeenPrincipals,
) -> Result<ServicePrincipal, ConfigError> {
    seen.claim_ids(source, &sp.client_id, &sp.object_id)?;
    seen.claim_name(source, &sp.name)?;
    Ok(ServicePrincipal {
        name: sp.name.into_inner(),
        client_id: sp.client_id.into_inner(),
        object_id: sp.object_id.into_inner(),
        client_secret: sp.client_secret,
        federated_token: sp.federated_token,
    })
}

fn throttle(source: &str, raw: Option<RawThrottle>) -> Result<Throttle, ConfigError> {
    // Without a [throttle] section: Key Vault's documented secrets limit, 4000 per 10 seconds.
    let Some(t) = raw else {
        return Ok(Throttle {
            requests: 4000,
            window_secs: 10,
        });
    };
    if *t.requests.get_ref() == 0 {
        return Err(at(
            source,
            t.requests.span(),
            "throttle.requests must be at least 1",
        ));
    }
    if *t.window_secs.get_ref() == 0 {
        return Err(at(
            source,
            t.window_secs.span(),
            "throttle.window_secs must be at least 1",
        ));
    }
    Ok(Throttle {
        requests: t.requests.into_inner(),
        window_secs: t.window_secs.into_inner(),
    })
}

fn vaults(source: &str, raw: Vec<RawVault>) -> Result<Vec<VaultConfig>, ConfigError> {
    let mut names = HashSet::new();
    raw.into_iter()
        .map(|vault| self::vault(source, vault, &mut names))
        .collect()
}

/// One vault; its name is stored lowercase because vault host names are case-insensitive.
fn vault(
    source: &str,
    vault: RawVault,
    names: &mut HashSet<String>,
) -> Result<VaultConfig, ConfigError> {
    let name = vault.name.get_ref().to_ascii_lowercase();
    if !is_valid_vault_name(&name) {
        return Err(at(
            source,
            vault.name.span(),
            format!(
                "vault name {:?} is not valid: 3-24 letters, digits and single dashes, starting with a letter",
                vault.name.get_ref()
            ),
        ));
    }
    if !names.insert(name.clone()) {
        return Err(at(
            source,
            vault.name.span(),
            format!(
                "duplicate vault {:?} (vault names are case-insensitive)",
                vault.name.get_ref()
            ),
        ));
    }
    let mut secret_names = HashSet::new();
    let secrets = vault
        .secrets
        .into_iter()
        .map(|secret| self::secret(source, &name, secret, &mut secret_names))
        .collect::<Result<_, _>>()?;
    Ok(VaultConfig {
        name,
        cloud: vault.cloud.unwrap_or(Cloud::Public),
        location: vault.location.unwrap_or_else(|| "westus".into()),
        secrets,
    })
}

/// One secret of vault `vault`; `names` holds the lowercase names seen in that vault so far.
fn secret(
    source: &str,
    vault: &str,
    secret: RawSecret,
    names: &mut HashSet<String>,
) -> Result<SecretConfig, ConfigError> {
    let name = secret.name.get_ref();
    if !is_valid_secret_name(name) {
        return Err(at(
            source,
            secret.name.span(),
            format!(
                "secret name {name:?} in vault {vault:?} is not valid: 1-127 letters, digits and dashes"
            ),
        ));
    }
    // Key Vault secret names are case-insensitive: two entries would be one secret.
    if !names.insert(name.to_ascii_lowercase()) {
        return Err(at(
            source,
            secret.name.span(),
            format!(
                "duplicate secret {name:?} in vault {vault:?} (names are case-insensitive; add versions instead)"
            ),
        ));
    }
    let mut version_ids = HashSet::new();
    let versions = secret
        .versions
        .into_iter()
        .map(|v| version(source, v, &mut version_ids))
        .collect::<Result<_, _>>()?;
    Ok(SecretConfig {
        name: secret.name.into_inner(),
        versions,
    })
}

/// One version of a secret; `ids` holds the explicit version ids seen in that secret so far.
fn version(
    source: &str,
    v: RawVersion,
    ids: &mut HashSet<String>,
) -> Result<VersionConfig, ConfigError> {
    // A version without an id gets a generated one when the store is built.
    let version = match v.version {
        Some(id) => {
            if !is_valid_version(id.get_ref()) {
                return Err(at(
                    source,
                    id.span(),
                    format!(
                        "version {:?} is not 32 lowercase hex characters",
                        id.get_ref()
                    ),
                ));
            }
            if !ids.insert(id.get_ref().clone()) {
                return Err(at(
                    source,
                    id.span(),
                    format!("duplicate version {:?}", id.get_ref()),
                ));
            }
            Some(id.into_inner())
        }
        None => None,
    };
    // Key Vault's own limit on a secret value.
    if v.value.get_ref().len() > 25 * 1024 {
        return Err(at(
            source,
            v.value.span(),
            "secret values are limited to 25 KiB",
        ));
    }
    Ok(VersionConfig {
        version,
        value: v.value.into_inner(),
        enabled: v.enabled,
        content_type: v.content_type,
        tags: v.tags,
        nbf: v.nbf,
        exp: v.exp,
    })
}

/// One role assignment: principal, then vault, then role are checked, in that order.
fn role_assignment(
    source: &str,
    ra: RawRoleAssignment,
    principals: &Principals,
    vaults: &[VaultConfig],
) -> Result<RoleAssignment, ConfigError> {
    let object_id = assigned_object_id(source, &ra.principal, principals)?;
    let vault = ra.vault.get_ref().to_ascii_lowercase();
    if !vaults.iter().any(|v| v.name == vault) {
        return Err(at(
            source,
            ra.vault.span(),
            format!("role assignment for unknown vault {:?}", ra.vault.get_ref()),
        ));
    }
    let role = match ra.role.get_ref().as_str() {
        "Key Vault Secrets User" => Role::SecretsUser,
        "Key Vault Secrets Officer" => Role::SecretsOfficer,
        other => {
            return Err(at(
                source,
                ra.role.span(),
                format!(
                    "unknown role {other:?}: use \"Key Vault Secrets User\" or \"Key Vault Secrets Officer\""
                ),
            ));
        }
    };
    Ok(RoleAssignment {
        object_id: object_id.to_ascii_lowercase(),
        vault,
        role,
    })
}

/// The object id a role assignment's principal names: "system", or the name or object id of a
/// user-assigned identity or service principal, or the system identity's object id.
fn assigned_object_id(
    source: &str,
    principal: &Spanned<String>,
    principals: &Principals,
) -> Result<String, ConfigError> {
    let wanted = principal.get_ref();
    let named = |name: &str, object_id: &str| {
        name.eq_ignore_ascii_case(wanted) || object_id.eq_ignore_ascii_case(wanted)
    };
    if wanted.eq_ignore_ascii_case("system") {
        return match &principals.system {
            Some(id) => Ok(id.object_id.clone()),
            None => Err(at(
                source,
                principal.span(),
                "principal \"system\" but there is no [system_identity]",
            )),
        };
    }
    if let Some(id) = principals
        .user_assigned
        .iter()
        .find(|id| named(&id.name, &id.object_id))
    {
        return Ok(id.object_id.clone());
    }
    if let Some(sp) = principals
        .service_principals
        .iter()
        .find(|sp| named(&sp.name, &sp.object_id))
    {
        return Ok(sp.object_id.clone());
    }
    if principals
        .system
        .as_ref()
        .is_some_and(|id| id.object_id.eq_ignore_ascii_case(wanted))
    {
        return Ok(wanted.clone());
    }
    Err(at(
        source,
        principal.span(),
        format!(
            "unknown principal {wanted:?}: use \"system\", the name or object id of a user-assigned identity or service principal"
        ),
    ))
}
