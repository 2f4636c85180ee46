//! Vaults that disappear and come back, as Azure's soft delete has it: `DELETE
//! /_emulator/vaults/{vault}` deletes one (kept aside with its secrets), `POST
//! /_emulator/vaults/{vault}/recover` brings it back as it was.
//!
//! In Azure a deleted vault's host name stops resolving, so a client sees a DNS failure. The
//! emulator cannot make a name fail to resolve for a client that routes every vault host to
//! it, so it answers the deleted vault's host as it answers any unknown one: `404 VaultNotFound`,
//! whose message says that in Azure the name would not resolve.

use std::collections::BTreeMap;
use std::sync::Mutex;

use http::StatusCode;

use crate::control::ControlError;
use crate::state::{Shared, lock};
use crate::store::Vault;

/// Deletes `vault`: its host answers `VaultNotFound` until it is recovered.
pub(crate) fn delete(shared: &Shared, vault: &str) -> Result<(), ControlError> {
    move_vault(&shared.vaults, &shared.deleted_vaults, vault)
        .ok_or_else(|| not_found(format!("no vault named {vault:?} in this emulator")))
}

/// Recovers a deleted `vault` with everything it held.
pub(crate) fn recover(shared: &Shared, vault: &str) -> Result<(), ControlError> {
    move_vault(&shared.deleted_vaults, &shared.vaults, vault)
        .ok_or_else(|| not_found(format!("no deleted vault named {vault:?} to recover")))
}

/// Moves `vault` (by its case-insensitive name) from one map to the other; `None` if absent.
fn move_vault(
    from: &Mutex<BTreeMap<String, Vault>>,
    to: &Mutex<BTreeMap<String, Vault>>,
    vault: &str,
) -> Option<()> {
    let name = vault.to_ascii_lowercase();
    let moved = lock(from).remove(&name)?;
    lock(to).insert(name, moved);
    Some(())
}

fn not_found(message: String) -> ControlError {
    ControlError::new(StatusCode::NOT_FOUND, message)
}
