//! The Event Grid webhook: Entra-protected delivery for the configured application. On Azure
//! the tokens come from the tenant in the settings and Microsoft's authority; with
//! `KVREF_EMULATOR` set, from the emulator's tenant and its Entra endpoint
//! ([`EntraAuth::for_resolver`] decides), so the same code runs in both places.

use kvref::Resolver;
use kvref::events::{EntraAuth, Webhook};
use kvref::live::Live;

use crate::Error;
use crate::settings::Events;

/// The path Event Grid delivers to.
pub const PATH: &str = "/events/keyvault";

/// The webhook that pushes rotations into `live`.
pub fn webhook<T: Send + Sync + 'static>(
    live: &Live<T>,
    events: &Events,
    resolver: &Resolver,
) -> Result<Webhook, Error> {
    let tenant = events
        .tenant_id
        .clone()
        .or_else(|| std::env::var("AZURE_TENANT_ID").ok());
    let entra = EntraAuth::for_resolver(resolver, tenant.as_deref(), &events.application_id)
        .and_then(|entra| entra.build())
        .map_err(|e| {
            Error::Setting(format!(
                "events: {e} (set events.tenant_id, APP__EVENTS__TENANT_ID or AZURE_TENANT_ID)"
            ))
        })?;
    Webhook::builder(live.clone())
        .entra(entra)
        .build()
        .map_err(|e| Error::Setting(e.to_string()))
}
