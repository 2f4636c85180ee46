//! The vaults' contents: secrets, their versions and attributes, and each vault's request window.

use std::collections::BTreeMap;
use tokio::time::Instant;

use serde::{Deserialize, Serialize};

use crate::config::{Cloud, VaultConfig, is_valid_secret_name};

/// One vault and everything in it.
pub(crate) struct Vault {
    pub(crate) name: String,
    pub(crate) cloud: Cloud,
    pub(crate) location: String,
    /// Keyed by the lower-case name: Key Vault names are case-insensitive.
    pub(crate) secrets: BTreeMap<String, Secret>,
    pub(crate) window: RequestWindow,
}

/// A secret: the name as first written, and its versions oldest first (the last is "latest").
pub(crate) struct Secret {
    pub(crate) name: String,
    pub(crate) versions: Vec<Version>,
}

/// One version of a secret. No `Debug`: it holds the value.
pub(crate) struct Version {
    pub(crate) id: String,
    pub(crate) value: String,
    pub(crate) enabled: bool,
    pub(crate) content_type: Option<String>,
    pub(crate) tags: Option<BTreeMap<String, String>>,
    pub(crate) nbf: Option<i64>,
    pub(crate) exp: Option<i64>,
    pub(crate) created: i64,
    pub(crate) updated: i64,
}

/// A fixed request window on tokio's clock: a client test under paused time sees the window
/// reopen when its paced requests wait one out, as they would in real time.
pub(crate) struct RequestWindow {
    started: Instant,
    count: u32,
}

impl RequestWindow {
    fn new() -> Self {
        Self {
            started: Instant::now(),
            count: 0,
        }
    }

    /// Counts a request, or answers how many seconds until the window reopens.
    pub(crate) fn admit(&mut self, limit: u32, window_secs: u64) -> Result<(), u64> {
        let elapsed = self.started.elapsed();
        if elapsed.as_secs() >= window_secs {
            self.started = Instant::now();
            self.count = 0;
        }
        if self.count >= limit {
            let left = window_secs.saturating_sub(self.started.elapsed().as_secs());
            return Err(left.max(1));
        }
        self.count += 1;
        Ok(())
    }
}

/// Optional fields a new version may carry.
#[derive(Default)]
pub(crate) struct NewVersion {
    pub(crate) version: Option<String>,
    pub(crate) enabled: Option<bool>,
    pub(crate) content_type: Option<String>,
    pub(crate) tags: Option<BTreeMap<String, String>>,
    pub(crate) nbf: Option<i64>,
    pub(crate) exp: Option<i64>,
}

pub(crate) fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

pub(crate) fn new_version_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

impl Vault {
    pub(crate) fn from_config(config: &VaultConfig) -> Self {
        let mut vault = Vault {
            name: config.name.clone(),
            cloud: config.cloud,
            location: config.location.clone(),
            secrets: BTreeMap::new(),
            window: RequestWindow::new(),
        };
        for secret in &config.secrets {
            for v in &secret.versions {
                vault.add_version(
                    &secret.name,
                    v.value.clone(),
                    NewVersion {
                        version: v.version.clone(),
                        enabled: Some(v.enabled),
                        content_type: v.content_type.clone(),
                        tags: v.tags.clone(),
                        nbf: v.nbf,
                        exp: v.exp,
                    },
                );
            }
            // A secret declared without versions still exists by name (listing shows nothing).
            vault
                .secrets
                .entry(secret.name.to_ascii_lowercase())
                .or_insert_with(|| Secret {
                    name: secret.name.clone(),
                    versions: Vec::new(),
                });
        }
        vault
    }

    /// `https://{name}.vault.azure.net` (or the vault's cloud suffix).
    pub(crate) fn base_url(&self) -> String {
        format!("https://{}{}", self.name, self.cloud.dns_suffix())
    }

    pub(crate) fn secret(&self, name: &str) -> Option<&Secret> {
        self.secrets.get(&name.to_ascii_lowercase())
    }

    pub(crate) fn secret_mut(&mut self, name: &str) -> Option<&mut Secret> {
        self.secrets.get_mut(&name.to_ascii_lowercase())
    }

    /// Adds a version and returns its id. The caller has checked the name.
    pub(crate) fn add_version(&mut self, name: &str, value: String, new: NewVersion) -> String {
        debug_assert!(is_valid_secret_name(name));
        let now = now_secs();
        let id = new.version.unwrap_or_else(new_version_id);
        let secret = self
            .secrets
            .entry(name.to_ascii_lowercase())
            .or_insert_with(|| Secret {
                name: name.to_owned(),
                versions: Vec::new(),
            });
        secret.versions.push(Version {
            id: id.clone(),
            value,
            enabled: new.enabled.unwrap_or(true),
            content_type: new.content_type,
            tags: new.tags,
            nbf: new.nbf,
            exp: new.exp,
            created: now,
            updated: now,
        });
        id
    }
}

impl Secret {
    pub(crate) fn latest(&self) -> Option<&Version> {
        self.versions.last()
    }

    pub(crate) fn version(&self, id: &str) -> Option<&Version> {
        self.versions.iter().find(|v| v.id.eq_ignore_ascii_case(id))
    }

    pub(crate) fn version_mut(&mut self, id: &str) -> Option<&mut Version> {
        self.versions
            .iter_mut()
            .find(|v| v.id.eq_ignore_ascii_case(id))
    }
}

impl Version {
    /// Applies attribute changes (from the data plane's PATCH or the control API) and marks the
    /// version updated.
    pub(crate) fn apply(&mut self, patch: VersionPatch) {
        if let Some(enabled) = patch.enabled {
            self.enabled = enabled;
        }
        if let Some(content_type) = patch.content_type {
            self.content_type = Some(content_type);
        }
        if let Some(tags) = patch.tags {
            self.tags = Some(tags);
        }
        if patch.nbf.is_some() {
            self.nbf = patch.nbf;
        }
        if patch.exp.is_some() {
            self.exp = patch.exp;
        }
        self.updated = now_secs();
    }

    /// The `SecretBundle` (with `value`) or a `SecretItem` (without), as the service writes it.
    pub(crate) fn bundle(&self, id: String, with_value: bool) -> Bundle<'_> {
        Bundle {
            value: with_value.then_some(self.value.as_str()),
            content_type: self.content_type.as_deref(),
            id,
            attributes: Attributes {
                enabled: self.enabled,
                nbf: self.nbf,
                exp: self.exp,
                created: self.created,
                updated: self.updated,
                recovery_level: "CustomizedRecoverable+Purgeable",
                recoverable_days: 7,
            },
            tags: self.tags.as_ref(),
        }
    }
}

/// A `SecretBundle` or `SecretItem`; fields in the order the service sends them, absent ones
/// omitted. Serialized straight from the version: answering a GET builds no JSON tree.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Bundle<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_type: Option<&'a str>,
    id: String,
    attributes: Attributes,
    #[serde(skip_serializing_if = "Option::is_none")]
    tags: Option<&'a BTreeMap<String, String>>,
}

/// The `attributes` object: integers for dates, omitted when absent.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Attributes {
    enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    nbf: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exp: Option<i64>,
    created: i64,
    updated: i64,
    recovery_level: &'static str,
    recoverable_days: u32,
}

/// Attribute changes for one version.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct VersionPatch {
    #[serde(default)]
    pub(crate) enabled: Option<bool>,
    #[serde(default, alias = "contentType")]
    pub(crate) content_type: Option<String>,
    #[serde(default)]
    pub(crate) tags: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub(crate) nbf: Option<i64>,
    #[serde(default)]
    pub(crate) exp: Option<i64>,
}
