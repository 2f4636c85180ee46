//! The status of one setting's resolution, named after App Service's Key Vault reference statuses.
//!
//! Its own module because both the resolver and the public error speak it, and neither should
//! depend on the other for it.

use std::fmt;

/// The result of resolving one setting. Names follow App Service's Key Vault reference statuses
/// where one exists; `SecretDisabled`, `VaultNotAllowed` and `Throttled` are kvref's own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ResolveStatus {
    /// The secret was fetched.
    Resolved,
    /// The value starts like a reference but is malformed.
    InvalidSyntax,
    /// No managed identity (or other credential) is available to the app.
    MSINotEnabled,
    /// The vault's host could not be reached (DNS or connection failure).
    VaultNotFound,
    /// The vault has no secret of that name.
    SecretNotFound,
    /// The secret has no such version.
    SecretVersionNotFound,
    /// The identity may not read secrets in the vault (RBAC, access policy or firewall).
    AccessToKeyVaultDenied,
    /// The time budget ran out before Key Vault (or the identity endpoint) answered; a vault
    /// that kept answering 429 until then is [`Throttled`](Self::Throttled).
    FetchTimedOut,
    /// The identity was refused by the token service, or its token by the vault.
    UnauthorizedClient,
    /// Anything else; the message says what.
    OtherReasons,
    /// The secret (or the version asked for) is disabled.
    SecretDisabled,
    /// The vault host is not allowed, or its challenge named a foreign audience.
    VaultNotAllowed,
    /// Key Vault kept throttling until the retries or the budget ran out.
    Throttled,
}

impl ResolveStatus {
    /// Whether the setting was resolved.
    pub fn is_resolved(self) -> bool {
        self == ResolveStatus::Resolved
    }

    /// The status's name, as printed.
    pub fn as_str(self) -> &'static str {
        match self {
            ResolveStatus::Resolved => "Resolved",
            ResolveStatus::InvalidSyntax => "InvalidSyntax",
            ResolveStatus::MSINotEnabled => "MSINotEnabled",
            ResolveStatus::VaultNotFound => "VaultNotFound",
            ResolveStatus::SecretNotFound => "SecretNotFound",
            ResolveStatus::SecretVersionNotFound => "SecretVersionNotFound",
            ResolveStatus::AccessToKeyVaultDenied => "AccessToKeyVaultDenied",
            ResolveStatus::FetchTimedOut => "FetchTimedOut",
            ResolveStatus::UnauthorizedClient => "UnauthorizedClient",
            ResolveStatus::OtherReasons => "OtherReasons",
            ResolveStatus::SecretDisabled => "SecretDisabled",
            ResolveStatus::VaultNotAllowed => "VaultNotAllowed",
            ResolveStatus::Throttled => "Throttled",
        }
    }
}

impl fmt::Display for ResolveStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad` so that tables can align statuses with `{:<24}`.
        f.pad(self.as_str())
    }
}
