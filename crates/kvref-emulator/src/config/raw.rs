//! The configuration file as written: what serde reads, spans kept for error lines.
//!
//! Unknown fields are refused here (`deny_unknown_fields`); every other rule is checked in
//! [`super::validate`].

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use super::{Cloud, LegacyExpiresOn};

/// The whole file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    pub(super) tenant_id: Spanned<String>,
    #[serde(default)]
    pub(super) token_lifetime_secs: Option<Spanned<u64>>,
    #[serde(default)]
    pub(super) arc_tokens_dir: Option<String>,
    #[serde(default)]
    pub(super) legacy_expires_on: Option<LegacyExpiresOn>,
    #[serde(default)]
    pub(super) system_identity: Option<RawIdentity>,
    #[serde(default)]
    pub(super) user_assigned_identities: Vec<RawIdentity>,
    #[serde(default)]
    pub(super) service_principals: Vec<RawServicePrincipal>,
    #[serde(default)]
    pub(super) throttle: Option<RawThrottle>,
    #[serde(default)]
    pub(super) http2: Option<RawHttp2>,
    #[serde(default)]
    pub(super) vaults: Vec<RawVault>,
    #[serde(default)]
    pub(super) role_assignments: Vec<RawRoleAssignment>,
    #[serde(default)]
    pub(super) eventgrid: Option<crate::eventgrid::RawEventGrid>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawIdentity {
    #[serde(default)]
    pub(super) name: Option<Spanned<String>>,
    pub(super) client_id: Spanned<String>,
    pub(super) object_id: Spanned<String>,
    #[serde(default)]
    pub(super) resource_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawServicePrincipal {
    pub(super) name: Spanned<String>,
    pub(super) client_id: Spanned<String>,
    pub(super) object_id: Spanned<String>,
    #[serde(default)]
    pub(super) client_secret: Option<String>,
    #[serde(default)]
    pub(super) federated_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawThrottle {
    pub(super) requests: Spanned<u32>,
    pub(super) window_secs: Spanned<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHttp2 {
    #[serde(default)]
    pub(super) enabled: Option<bool>,
    #[serde(default)]
    pub(super) max_concurrent_streams: Option<Spanned<u32>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawVault {
    pub(super) name: Spanned<String>,
    #[serde(default)]
    pub(super) cloud: Option<Cloud>,
    #[serde(default)]
    pub(super) location: Option<String>,
    #[serde(default)]
    pub(super) secrets: Vec<RawSecret>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSecret {
    pub(super) name: Spanned<String>,
    #[serde(default)]
    pub(super) versions: Vec<RawVersion>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawVersion {
    #[serde(default)]
    pub(super) version: Option<Spanned<String>>,
    pub(super) value: Spanned<String>,
    #[serde(default = "default_true")]
    pub(super) enabled: bool,
    #[serde(default)]
    pub(super) content_type: Option<String>,
    #[serde(default)]
    pub(super) tags: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub(super) nbf: Option<i64>,
    #[serde(default)]
    pub(super) exp: Option<i64>,
}

fn default_true() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRoleAssignment {
    pub(super) principal: Spanned<String>,
    pub(super) vault: Spanned<String>,
    pub(super) role: Spanned<String>,
}
