//! The principals section: the system identity, user-assigned identities and service principals,
//! and how a role assignment names one of them.

use std::collections::HashSet;

use toml::Spanned;

use super::at;
use crate::config::raw::{RawIdentity, RawServicePrincipal};
use crate::config::{ConfigError, Identity, ServicePrincipal};

/// The validated identities and service principals, which role assignments refer to.
pub(super) struct Principals {
    pub(super) system: Option<Identity>,
    pub(super) user_assigned: Vec<Identity>,
    pub(super) service_principals: Vec<ServicePrincipal>,
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
pub(super) fn principals(
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

/// The object id a role assignment's principal names: "system", or the name or object id of a
/// user-assigned identity or service principal, or the system identity's object id.
pub(super) fn assigned_object_id(
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
