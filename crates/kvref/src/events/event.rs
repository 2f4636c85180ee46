//! What a delivery says, typed: the Key Vault secret events kvref acts on, and everything else
//! marked as ignored. Names and versions only: an event never carries a secret value.

/// One event of a delivery, whichever schema it came in.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Event {
    /// The event's `id` (a GUID from Event Grid), for deduplication: delivery is at least once.
    pub id: String,
    /// What happened.
    pub kind: EventKind,
}

/// What an [`Event`] reports.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventKind {
    /// `Microsoft.KeyVault.SecretNewVersionCreated`: a new version exists; references that
    /// follow the latest version of this secret should be read again.
    SecretNewVersionCreated(SecretEvent),
    /// `Microsoft.KeyVault.SecretNearExpiry`: the current version expires within 30 days.
    SecretNearExpiry(SecretEvent),
    /// `Microsoft.KeyVault.SecretExpired`: the current version has expired.
    SecretExpired(SecretEvent),
    /// Any other event type (keys, certificates, access policies, unknown ones), or a secret
    /// event without a vault or a name: ignored, as Microsoft recommends.
    Ignored {
        /// The event type as sent (may be empty).
        event_type: String,
    },
}

/// The secret a Key Vault event is about.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SecretEvent {
    /// The vault: its host (`myvault.vault.azure.net`) when the event's `Id` names one, else
    /// its name (`myvault`). Compare case-insensitively ([`SecretEvent::is_vault`]).
    pub vault: String,
    /// The secret's name (`ObjectName`, else the subject).
    pub name: String,
    /// The version the event is about, when it names one.
    pub version: Option<String>,
    /// `NBF`, in seconds since the epoch, when set.
    pub not_before: Option<i64>,
    /// `EXP`, in seconds since the epoch, when set.
    pub expires: Option<i64>,
}

impl SecretEvent {
    /// Whether this event is about the vault at `host` (`myvault.vault.azure.net`) named
    /// `name` (`myvault`): by host when the event knows it, else by name; case-insensitive.
    pub fn is_vault(&self, host: &str, name: &str) -> bool {
        if self.vault.contains('.') {
            self.vault.eq_ignore_ascii_case(host)
        } else {
            self.vault.eq_ignore_ascii_case(name)
        }
    }

    /// Whether this event is about `secret` in the vault at `host` named `vault_name`.
    pub fn is_secret(&self, host: &str, vault_name: &str, secret: &str) -> bool {
        self.is_vault(host, vault_name) && self.name.eq_ignore_ascii_case(secret)
    }
}

impl Event {
    /// A `SecretNewVersionCreated` event without an id or a version, as an app's own signal
    /// that a secret rotated (see [`Live::notify_new_version`](crate::live::Live::notify_new_version)).
    pub fn new_version(vault: &str, name: &str) -> Event {
        Event {
            id: String::new(),
            kind: EventKind::SecretNewVersionCreated(SecretEvent {
                vault: vault.to_owned(),
                name: name.to_owned(),
                version: None,
                not_before: None,
                expires: None,
            }),
        }
    }
}
