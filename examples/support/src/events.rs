//! The Event Grid webhook: Entra-protected delivery for the configured application. On Azure
//! the tokens come from the tenant in the settings and Microsoft's authority; with
//! `KVREF_EMULATOR` set, from the emulator's tenant and its Entra endpoint (the resolver's
//! transport already trusts the emulator's CA), so the same code runs in both places.

use kvref::events::{EntraAuth, Webhook};
use kvref::live::Live;
use kvref::{Env, Resolver};

use crate::Error;
use crate::settings::Events;

/// The path Event Grid delivers to.
pub const PATH: &str = "/events/keyvault";

/// The webhook that pushes rotations into `live`.
pub async fn webhook<T: Send + Sync + 'static>(
    live: &Live<T>,
    events: &Events,
    resolver: &Resolver,
) -> Result<Webhook, Error> {
    let mut entra = match kvref::local::LocalEmulator::from_env(&Env::from_process()).await? {
        Some(local) => {
            let tenant = local.tenant_id().unwrap_or_default().to_owned();
            // The emulator's certificate names localhost: its Entra endpoint is the authority.
            let authority = format!("https://localhost:{}", local.https_addr().port());
            EntraAuth::builder(tenant, &events.application_id).authority(authority)
        }
        None => {
            let tenant = events
                .tenant_id
                .clone()
                .or_else(|| std::env::var("AZURE_TENANT_ID").ok())
                .filter(|t| !t.trim().is_empty())
                .ok_or_else(|| {
                    Error::Setting(
                        "events.tenant_id is not set: set it (or APP__EVENTS__TENANT_ID, or \
                         AZURE_TENANT_ID) to the tenant of the webhook's Entra application"
                            .into(),
                    )
                })?;
            EntraAuth::builder(tenant, &events.application_id)
        }
    };
    entra = entra.transport(resolver.transport().clone());
    let entra = entra
        .build()
        .map_err(|e| Error::Setting(format!("events: {e}")))?;
    Webhook::builder(live.clone())
        .entra(entra)
        .build()
        .map_err(|e| Error::Setting(e.to_string()))
}
