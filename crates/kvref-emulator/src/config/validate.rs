//! From the file as written to an [`EmulatorConfig`]: one function a section.
//!
//! Each check returns the first error it finds, and the sections are checked in a fixed order
//! (tenant, token lifetime, principals, throttle, vaults, role assignments), whatever their order in
//! the file, so the error reported first does not depend on how the file is laid out. Role
//! assignments come last because they refer to principals and vaults by name.

mod principals;

use std::collections::HashSet;
use std::ops::Range;

use toml::Spanned;

use super::raw::{
    RawConfig, RawHttp2, RawRoleAssignment, RawSecret, RawThrottle, RawVault, RawVersion,
};
use super::{
    Cloud, ConfigError, EmulatorConfig, Http2, LegacyExpiresOn, Role, RoleAssignment, SecretConfig,
    Throttle, VaultConfig, VersionConfig, is_valid_secret_name, is_valid_vault_name,
    is_valid_version,
};
use principals::{Principals, assigned_object_id, principals};

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
    let http2 = http2(source, raw.http2)?;
    let vaults = vaults(source, raw.vaults)?;
    let role_assignments = raw
        .role_assignments
        .into_iter()
        .map(|ra| role_assignment(source, ra, &principals, &vaults))
        .collect::<Result<_, _>>()?;
    let eventgrid = crate::eventgrid::validate_config(source, raw.eventgrid)?;
    Ok(EmulatorConfig {
        tenant_id,
        token_lifetime_secs,
        system_identity: principals.system,
        user_assigned: principals.user_assigned,
        service_principals: principals.service_principals,
        throttle,
        http2,
        vaults,
        role_assignments,
        arc_tokens_dir: raw.arc_tokens_dir.map(Into::into),
        legacy_expires_on: raw.legacy_expires_on.unwrap_or(LegacyExpiresOn::Date),
        https_port: 0,
        http_port: 0,
        eventgrid,
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

fn http2(source: &str, raw: Option<RawHttp2>) -> Result<Http2, ConfigError> {
    let mut http2 = Http2::default();
    let Some(raw) = raw else {
        return Ok(http2);
    };
    if let Some(enabled) = raw.enabled {
        http2.enabled = enabled;
    }
    if let Some(streams) = raw.max_concurrent_streams {
        if *streams.get_ref() == 0 {
            return Err(at(
                source,
                streams.span(),
                "http2.max_concurrent_streams must be at least 1",
            ));
        }
        http2.max_concurrent_streams = *streams.get_ref();
    }
    Ok(http2)
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
