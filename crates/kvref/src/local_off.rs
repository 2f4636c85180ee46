//! Stands in for [`local`](crate) when kvref is built without its `local` feature (as production
//! builds can be): `KVREF_EMULATOR` is ignored, and asking for the emulator explicitly is a
//! configuration error. No value of [`LocalEmulator`] can exist.

use crate::Env;
use crate::transport::{HttpTransport, TransportError};

/// Local development mode is not built in; no value of this type exists.
#[derive(Clone, Debug)]
pub enum LocalEmulator {}

/// Why local mode cannot start: it is not built in.
#[derive(Debug, thiserror::Error)]
#[error(
    "local emulator mode is not built into this program (kvref's `local` feature is off); \
     build with the feature, or remove the emulator URL to use Azure"
)]
pub struct LocalError;

impl LocalEmulator {
    /// Always `None`: without the feature `KVREF_EMULATOR` means nothing.
    pub async fn from_env(_env: &Env) -> Result<Option<LocalEmulator>, LocalError> {
        Ok(None)
    }

    /// Always refused.
    pub async fn connect(_url: &str) -> Result<LocalEmulator, LocalError> {
        Err(LocalError)
    }

    /// Unreachable: no value exists.
    pub fn url(&self) -> &str {
        match *self {}
    }

    /// Unreachable: no value exists.
    pub fn transport(&self) -> Result<HttpTransport, TransportError> {
        match *self {}
    }

    /// Unreachable: no value exists.
    pub fn credential_env(&self, _env: &Env) -> Result<Env, LocalError> {
        match *self {}
    }
}
