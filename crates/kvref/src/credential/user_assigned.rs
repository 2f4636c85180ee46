//! Which managed identity to use: a user-assigned one (by client id, object id or resource id)
//! or the system-assigned one, and where that choice came from.

use std::fmt;

use super::connection_string::{CONNECTION_STRING_VARIABLE, ServicesAuthConnectionString};
use super::{CredentialError, CredentialErrorKind};
use crate::Env;

/// A user-assigned managed identity, named by one of its three ids. The ids are not secrets.
///
/// Each identity source gets the parameter it expects: App Service `client_id` / `principal_id`
/// / `mi_res_id`, IMDS `client_id` / `object_id` / `msi_res_id`, the legacy App Service protocol
/// `clientid` (client id only).
///
/// ```
/// use kvref::credential::UserAssignedId;
///
/// let id = UserAssignedId::ClientId("11111111-2222-3333-4444-555555555555".into());
/// assert_eq!(id.kind(), "client_id");
/// assert_eq!(id.to_string(), "client id 11111111-2222-3333-4444-555555555555");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum UserAssignedId {
    /// The identity's client (application) id.
    ClientId(String),
    /// The identity's object (principal) id.
    ObjectId(String),
    /// The identity's ARM resource id,
    /// `/subscriptions/…/resourceGroups/…/providers/Microsoft.ManagedIdentity/userAssignedIdentities/<name>`.
    ResourceId(String),
}

impl UserAssignedId {
    /// `client_id`, `object_id` or `resource_id`: the kind of id, for logs and messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::ClientId(_) => "client_id",
            Self::ObjectId(_) => "object_id",
            Self::ResourceId(_) => "resource_id",
        }
    }

    /// The id itself.
    pub fn value(&self) -> &str {
        match self {
            Self::ClientId(v) | Self::ObjectId(v) | Self::ResourceId(v) => v,
        }
    }
}

impl fmt::Display for UserAssignedId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = match self {
            Self::ClientId(_) => "client id",
            Self::ObjectId(_) => "object id",
            Self::ResourceId(_) => "resource id",
        };
        write!(f, "{label} {}", self.value())
    }
}

/// Where the choice of identity came from, in order of precedence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IdentitySelection {
    /// The application passed a [`UserAssignedId`] in the options.
    Explicit,
    /// The `AZURE_CLIENT_ID` environment variable.
    AzureClientId,
    /// `AzureServicesAuthConnectionString=RunAs=App;AppId=...`.
    ConnectionString,
    /// Nothing chose a user-assigned identity: the system-assigned one is used.
    SystemAssigned,
}

impl fmt::Display for IdentitySelection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Explicit => "chosen by the application's options",
            Self::AzureClientId => "chosen by AZURE_CLIENT_ID",
            Self::ConnectionString => "chosen by AzureServicesAuthConnectionString",
            Self::SystemAssigned => "system-assigned",
        })
    }
}

/// Applies the precedence: explicit option, then `AZURE_CLIENT_ID`, then
/// `AzureServicesAuthConnectionString` (`RunAs=App;AppId=...`), then system-assigned.
pub(crate) fn select_identity(
    explicit: Option<&UserAssignedId>,
    env: &Env,
    credential: &str,
) -> Result<(Option<UserAssignedId>, IdentitySelection), CredentialError> {
    if let Some(id) = explicit {
        if id.value().trim().is_empty() {
            return Err(CredentialError::new(
                CredentialErrorKind::InvalidConfiguration,
                credential,
                format!("the user-assigned identity's {} is empty", id.kind()),
            )
            .with_fix(
                "pass the identity's id, or no UserAssignedId for the system-assigned identity",
            ));
        }
        return Ok((Some(id.clone()), IdentitySelection::Explicit));
    }
    if let Some(client_id) = env.get("AZURE_CLIENT_ID") {
        return Ok((
            Some(UserAssignedId::ClientId(client_id.trim().to_owned())),
            IdentitySelection::AzureClientId,
        ));
    }
    if let Some(text) = env.get(CONNECTION_STRING_VARIABLE) {
        let parsed = ServicesAuthConnectionString::parse(text).map_err(|e| {
            CredentialError::new(
                CredentialErrorKind::InvalidConfiguration,
                credential,
                format!("{CONNECTION_STRING_VARIABLE} cannot be parsed: {e}"),
            )
            .with_fix(format!(
                "fix {CONNECTION_STRING_VARIABLE} (for a user-assigned identity: \
                 RunAs=App;AppId=<client id>), or remove it"
            ))
        })?;
        if let Some(client_id) = parsed.managed_identity_client_id() {
            return Ok((
                Some(UserAssignedId::ClientId(client_id.to_owned())),
                IdentitySelection::ConnectionString,
            ));
        }
    }
    Ok((None, IdentitySelection::SystemAssigned))
}

/// The identity kind for logs: `system`, `client_id`, `object_id` or `resource_id`.
pub(crate) fn identity_kind(id: Option<&UserAssignedId>) -> &'static str {
    id.map_or("system", UserAssignedId::kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn select(
        explicit: Option<UserAssignedId>,
        pairs: &[(&str, &str)],
    ) -> (Option<UserAssignedId>, IdentitySelection) {
        select_identity(
            explicit.as_ref(),
            &Env::from_pairs(pairs.iter().copied()),
            "test",
        )
        .unwrap()
    }

    #[test]
    fn precedence() {
        let all = [
            ("AZURE_CLIENT_ID", "from-env"),
            (CONNECTION_STRING_VARIABLE, "RunAs=App;AppId=from-cs"),
        ];
        assert_eq!(
            select(Some(UserAssignedId::ObjectId("explicit".into())), &all),
            (
                Some(UserAssignedId::ObjectId("explicit".into())),
                IdentitySelection::Explicit
            )
        );
        assert_eq!(
            select(None, &all),
            (
                Some(UserAssignedId::ClientId("from-env".into())),
                IdentitySelection::AzureClientId
            )
        );
        assert_eq!(
            select(None, &all[1..]),
            (
                Some(UserAssignedId::ClientId("from-cs".into())),
                IdentitySelection::ConnectionString
            )
        );
        assert_eq!(select(None, &[]), (None, IdentitySelection::SystemAssigned));
        assert_eq!(
            select(None, &[(CONNECTION_STRING_VARIABLE, "RunAs=App")]),
            (None, IdentitySelection::SystemAssigned)
        );
        assert_eq!(
            select(
                None,
                &[(
                    CONNECTION_STRING_VARIABLE,
                    "RunAs=Developer;DeveloperTool=AzureCli"
                )]
            ),
            (None, IdentitySelection::SystemAssigned)
        );
        // An empty AZURE_CLIENT_ID counts as unset.
        assert_eq!(
            select(
                None,
                &[
                    ("AZURE_CLIENT_ID", ""),
                    (CONNECTION_STRING_VARIABLE, "RunAs=App;AppId=cs")
                ]
            )
            .1,
            IdentitySelection::ConnectionString
        );
    }

    #[test]
    fn a_broken_connection_string_is_a_configuration_error_without_its_value() {
        let env = Env::from_pairs([(CONNECTION_STRING_VARIABLE, "RunAs=App;AppKey=\"s3cr3t")]);
        let err = select_identity(None, &env, "test").unwrap_err();
        assert_eq!(err.kind(), CredentialErrorKind::InvalidConfiguration);
        assert!(err.message().contains(CONNECTION_STRING_VARIABLE));
        assert!(!err.to_string().contains("s3cr3t"));
        assert!(err.fix().is_some());
        // Not consulted when something earlier decides.
        assert!(
            select_identity(
                None,
                &Env::from_pairs([
                    ("AZURE_CLIENT_ID", "x"),
                    (CONNECTION_STRING_VARIABLE, "junk")
                ]),
                "t"
            )
            .is_ok()
        );
    }

    #[test]
    fn an_empty_explicit_id_is_refused() {
        let err = select_identity(
            Some(&UserAssignedId::ResourceId(" ".into())),
            &Env::default(),
            "t",
        )
        .unwrap_err();
        assert_eq!(err.kind(), CredentialErrorKind::InvalidConfiguration);
    }
}
