//! Vaults that disappear and come back, as Azure's soft delete has it: `DELETE
//! /_emulator/vaults/{vault}` deletes one (kept aside with its secrets), `POST
//! /_emulator/vaults/{vault}/recover` brings it back as it was.
//!
//! In Azure a deleted vault's host name stops resolving, so a client sees a DNS failure. The
//! emulator cannot make a name fail to resolve for a client that routes every vault host to
//! it, so it answers the deleted vault's host as it answers any unknown one: `404 VaultNotFound`,
//! whose message says that in Azure the name would not resolve.

use http::StatusCode;

use crate::control::ControlError;
use crate::state::{Shared, lock};

/// Deletes `vault`: its host answers `VaultNotFound` until it is recovered.
pub(crate) fn delete(shared: &Shared, vault: &str) -> Result<(), ControlError> {
    let name = vault.to_ascii_lowercase();
    let Some(gone) = lock(&shared.vaults).remove(&name) else {
        return Err(ControlError::new(
            StatusCode::NOT_FOUND,
            format!("no vault named {vault:?} in this emulator"),
        ));
    };
    lock(&shared.deleted_vaults).insert(name, gone);
    Ok(())
}

/// Recovers a deleted `vault` with everything it held.
pub(crate) fn recover(shared: &Shared, vault: &str) -> Result<(), ControlError> {
    let name = vault.to_ascii_lowercase();
    let Some(back) = lock(&shared.deleted_vaults).remove(&name) else {
        return Err(ControlError::new(
            StatusCode::NOT_FOUND,
            format!("no deleted vault named {vault:?} to recover"),
        ));
    };
    lock(&shared.vaults).insert(name, back);
    Ok(())
}
