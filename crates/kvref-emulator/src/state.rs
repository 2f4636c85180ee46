//! What one running emulator shares between its listeners: configuration, vaults, faults, journal.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

use crate::config::{EmulatorConfig, Identity, Role};
use crate::fault::{FaultTable, JournalEntry};
use crate::store::{Vault, now_secs};
use crate::token::{Claims, TokenIssuer};

/// The most journal entries kept; the oldest tenth is dropped when it is reached.
const JOURNAL_LIMIT: usize = 100_000;

/// A principal a token can be issued to.
#[derive(Clone, Debug)]
pub(crate) struct Principal {
    pub(crate) client_id: String,
    pub(crate) object_id: String,
    pub(crate) resource_id: Option<String>,
}

impl From<&Identity> for Principal {
    fn from(id: &Identity) -> Self {
        Self {
            client_id: id.client_id.clone(),
            object_id: id.object_id.clone(),
            resource_id: id.resource_id.clone(),
        }
    }
}

/// Secrets that gate the identity endpoints, fresh for every start.
pub(crate) struct EndpointSecrets {
    pub(crate) identity_header: String,
    pub(crate) msi_secret: String,
    pub(crate) service_fabric_secret: String,
}

pub(crate) struct Shared {
    pub(crate) config: EmulatorConfig,
    pub(crate) issuer: TokenIssuer,
    pub(crate) secrets: EndpointSecrets,
    pub(crate) vaults: Mutex<BTreeMap<String, Vault>>,
    /// Vaults deleted through the control API, by name, until recovered.
    pub(crate) deleted_vaults: Mutex<BTreeMap<String, Vault>>,
    pub(crate) faults: Mutex<FaultTable>,
    pub(crate) journal: Mutex<Vec<JournalEntry>>,
    /// TLS handshakes completed on the HTTPS listener, by the SNI host name the client sent.
    pub(crate) handshakes: Mutex<BTreeMap<String, u64>>,
    /// Of those, the ones that resumed an earlier TLS session, by SNI host name.
    pub(crate) resumptions: Mutex<BTreeMap<String, u64>>,
    pub(crate) arc_tokens_dir: PathBuf,
    pub(crate) arc_keys: Mutex<HashMap<String, PathBuf>>,
    pub(crate) https_addr: SocketAddr,
    pub(crate) http_addr: SocketAddr,
    /// The ready-line JSON (`GET /_emulator/info`).
    pub(crate) info: serde_json::Value,
    /// The emulated Event Grid: subscriptions and deliveries.
    pub(crate) eventgrid: crate::eventgrid::EventGrid,
}

/// Locks a mutex even if a panicking thread poisoned it (the data stays consistent per operation).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Shared {
    pub(crate) fn tenant_id(&self) -> &str {
        &self.config.tenant_id
    }

    pub(crate) fn user_assigned(&self) -> &[Identity] {
        &self.config.user_assigned
    }

    /// Mints a token for `resource` (audience), returning it with its expiry (epoch seconds).
    pub(crate) fn issue_token(&self, principal: &Principal, resource: &str) -> (String, i64, i64) {
        let now = now_secs();
        let exp = now + self.config.token_lifetime_secs as i64;
        let claims = Claims {
            aud: resource.to_owned(),
            iss: format!("https://sts.windows.net/{}/", self.tenant_id()),
            iat: now,
            nbf: now,
            exp,
            appid: principal.client_id.clone(),
            oid: principal.object_id.clone(),
            sub: principal.object_id.clone(),
            tid: self.tenant_id().to_owned(),
            idtyp: "app".into(),
            xms_mirid: principal.resource_id.clone(),
        };
        (self.issuer.issue(&claims), now, exp)
    }

    /// The strongest role `object_id` holds on `vault`.
    pub(crate) fn role_of(&self, object_id: &str, vault: &str) -> Option<Role> {
        let object_id = object_id.to_ascii_lowercase();
        let mut best = None;
        for ra in &self.config.role_assignments {
            if ra.object_id == object_id && ra.vault == vault {
                if ra.role == Role::SecretsOfficer {
                    return Some(Role::SecretsOfficer);
                }
                best = Some(ra.role);
            }
        }
        best
    }

    /// Counts one completed TLS handshake for `server_name` (`""` when the client sent no SNI,
    /// as for an IP address).
    pub(crate) fn count_handshake(&self, server_name: Option<&str>, resumed: bool) {
        let name = server_name.unwrap_or_default().to_ascii_lowercase();
        if resumed {
            *lock(&self.resumptions).entry(name.clone()).or_default() += 1;
        }
        *lock(&self.handshakes).entry(name).or_default() += 1;
    }

    pub(crate) fn record(&self, entry: JournalEntry) {
        let mut journal = lock(&self.journal);
        // A long-running emulator must not grow without bound; tests stay far below this.
        if journal.len() >= JOURNAL_LIMIT {
            journal.drain(..JOURNAL_LIMIT / 10);
        }
        journal.push(entry);
    }
}
