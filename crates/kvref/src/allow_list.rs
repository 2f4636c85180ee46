//! The vault host allow-list: the security boundary between a setting (which an attacker may
//! influence) and the hosts that ever see a connection, let alone a token.
//!
//! The resolver consults it before it opens any connection; the Key Vault client checks it again
//! before every request, so a reference that slipped past one layer is stopped by the other.

use crate::reference::{
    CHINA_CLOUD_SUFFIX, PUBLIC_CLOUD_SUFFIX, US_GOVERNMENT_CLOUD_SUFFIX, check_vault_name,
};

/// The vault DNS suffixes a reference may point at. Anything else is refused before any
/// connection is made, so a tampered setting cannot make the app send its token elsewhere.
///
/// A host is allowed when it is exactly one valid vault name followed by an allowed suffix:
/// `myvault.vault.azure.net` is allowed, `vault.azure.net`, `a.b.vault.azure.net` and
/// `myvault.vault.azure.net.evil.example` are not.
///
/// ```
/// use kvref::allow_list::AllowedHosts;
///
/// let hosts = AllowedHosts::default();
/// assert!(hosts.is_allowed("myvault.vault.azure.net"));
/// assert!(hosts.is_allowed("myvault.vault.azure.cn"));
/// assert!(!hosts.is_allowed("vault.azure.net"));
/// assert!(!hosts.is_allowed("myvault.vault.azure.net.evil.example"));
///
/// let hosts = hosts.with_suffix(".vault.example").unwrap();
/// assert!(hosts.is_allowed("myvault.vault.example"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllowedHosts {
    /// Lower-cased, each with a leading dot.
    suffixes: Vec<String>,
}

impl Default for AllowedHosts {
    fn default() -> Self {
        Self {
            suffixes: vec![
                PUBLIC_CLOUD_SUFFIX.into(),
                CHINA_CLOUD_SUFFIX.into(),
                US_GOVERNMENT_CLOUD_SUFFIX.into(),
            ],
        }
    }
}

/// A vault DNS suffix that cannot be allowed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid vault DNS suffix {suffix:?}: {reason}")]
pub struct InvalidSuffix {
    suffix: String,
    reason: &'static str,
}

impl AllowedHosts {
    /// The Azure clouds' vault suffixes: public, China and US Government.
    pub fn azure_clouds() -> Self {
        Self::default()
    }

    /// Also allows hosts under `suffix` (such as `.vault.example`; the leading dot is optional).
    /// The suffix needs at least two labels, so that `.net` cannot allow the whole of `.net`.
    pub fn with_suffix(mut self, suffix: &str) -> Result<Self, InvalidSuffix> {
        let normalized = normalize_suffix(suffix)?;
        if !self.suffixes.contains(&normalized) {
            self.suffixes.push(normalized);
        }
        Ok(self)
    }

    /// The allowed suffixes, each with a leading dot.
    pub fn suffixes(&self) -> impl Iterator<Item = &str> {
        self.suffixes.iter().map(String::as_str)
    }

    /// Whether `host` (no scheme, no port) is one vault name followed by an allowed suffix.
    pub fn is_allowed(&self, host: &str) -> bool {
        self.suffixes.iter().any(|suffix| {
            host.len() > suffix.len()
                && host.is_char_boundary(host.len() - suffix.len())
                && host[host.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
                && check_vault_name(&host[..host.len() - suffix.len()]).is_ok()
        })
    }
}

/// Validates and normalises a vault suffix to `.lower.case.labels`.
pub(crate) fn normalize_suffix(suffix: &str) -> Result<String, InvalidSuffix> {
    let invalid = |reason| InvalidSuffix {
        suffix: suffix.to_owned(),
        reason,
    };
    let bare = suffix.strip_prefix('.').unwrap_or(suffix);
    if bare.is_empty() {
        return Err(invalid("it is empty"));
    }
    if !bare
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
    {
        return Err(invalid("only letters, digits, `-` and `.` are allowed"));
    }
    let labels: Vec<&str> = bare.split('.').collect();
    if labels.iter().any(|l| l.is_empty()) {
        return Err(invalid("it has an empty label"));
    }
    if labels.len() < 2 {
        return Err(invalid(
            "it needs at least two labels, such as `.vault.example`",
        ));
    }
    Ok(format!(".{}", bare.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_list_label_rules() {
        let hosts = AllowedHosts::default();
        for ok in [
            "myvault.vault.azure.net",
            "MyVault.Vault.Azure.Net",
            "a-b.vault.usgovcloudapi.net",
        ] {
            assert!(hosts.is_allowed(ok), "{ok}");
        }
        for bad in [
            "vault.azure.net",
            ".vault.azure.net",
            "x.y.vault.azure.net",
            "myvault.vault.azure.net.",
            "myvault.vault.azure.net.evil.example",
            "myvault.vault.azure.net:443",
            "user@myvault.vault.azure.net",
            "127.0.0.1",
            "localhost",
            "myvault.managedhsm.azure.net",
            "my--vault.vault.azure.net",
        ] {
            assert!(!hosts.is_allowed(bad), "{bad}");
        }
    }

    #[test]
    fn suffixes_are_validated() {
        assert!(AllowedHosts::default().with_suffix(".net").is_err());
        assert!(AllowedHosts::default().with_suffix("").is_err());
        assert!(
            AllowedHosts::default()
                .with_suffix("vault..example")
                .is_err()
        );
        assert!(
            AllowedHosts::default()
                .with_suffix("*.example.com")
                .is_err()
        );
        let hosts = AllowedHosts::default()
            .with_suffix("Vault.Example")
            .unwrap();
        assert!(hosts.suffixes().any(|s| s == ".vault.example"));
    }
}
