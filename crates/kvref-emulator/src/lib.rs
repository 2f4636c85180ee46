//! A local emulator of Azure Key Vault secrets, the managed identity endpoints and Entra ID.
//!
//! It speaks the real wire protocols over real sockets and real TLS, so that kvref, and any
//! Azure SDK client configured only through its documented environment variables, can run
//! against it unchanged: the Key Vault challenge, RBAC, errors and paging over HTTPS; App Service,
//! IMDS, Arc, Cloud Shell and Service Fabric identity endpoints; and Entra ID's client-credentials
//! token endpoint for service principals and workload identity.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use kvref_emulator::{Emulator, EmulatorConfig};
//!
//! let emu = Emulator::start(EmulatorConfig::sample()).await?;
//! let version = emu.set_secret("myvault", "DbPassword", "s3cret").await;
//! let app_service_env = emu.env("app_service");   // IDENTITY_ENDPOINT, IDENTITY_HEADER
//! let client = emu.client();                       // trusts the CA, routes *.vault.azure.net
//! let url = format!("{}/secrets/DbPassword/{version}?api-version=7.5", emu.vault_url("myvault"));
//! let challenge = client.get(url).send().await?;   // 401 + WWW-Authenticate
//! assert_eq!(challenge.status(), 401);
//! # Ok(()) }
//! ```
//!
//! The configuration format, the endpoints and the control API are described in the crate's
//! README.

mod config;
mod control;
mod entra;
mod eventgrid;
mod fault;
mod http;
mod identity;
mod keyvault;
mod run;
mod server;
mod state;
mod store;
mod tls;
mod token;
mod vault_gone;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use config::{ConfigError, EmulatorConfig};
pub use eventgrid::{
    AuthInfo, DeliveryAttempt, EVENT_GRID_APP_ID, KEY_VAULT_EVENT_TYPES, Outcome, Schema,
    Subscription, SubscriptionAuth, SubscriptionError, SubscriptionInfo,
};
pub use fault::{Endpoint, Fault, JournalEntry};
pub use run::run;

use state::{EndpointSecrets, Shared, lock};
use store::{NewVersion, Vault};

/// The identity sources the emulator offers, as named in [`Emulator::env`] and the ready line.
pub const SOURCES: [&str; 7] = [
    "app_service",
    "legacy_app_service",
    "imds",
    "arc",
    "cloud_shell",
    "service_fabric",
    "workload_identity",
];

/// The emulator could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmulatorError {
    /// A listener could not bind its port.
    #[error("cannot listen on 127.0.0.1:{port}: {source}")]
    Bind {
        /// The port asked for (0 = any free port).
        port: u16,
        /// Why.
        source: std::io::Error,
    },
    /// The state folder or a file in it could not be written.
    #[error("cannot write the emulator's state files ({what}): {source}")]
    State {
        /// Which file or folder.
        what: String,
        /// Why.
        source: std::io::Error,
    },
    /// The certificates could not be generated or loaded into TLS.
    #[error("{0}")]
    Tls(String),
    /// The ready line could not be written (standard output closed).
    #[error("cannot write the ready line: {0}")]
    ReadyLine(std::io::Error),
}

/// A running emulator. It serves on the caller's tokio runtime and shuts down when dropped.
pub struct Emulator {
    shared: Arc<Shared>,
    cancel: CancellationToken,
    ca_pem: String,
    ca_path: PathBuf,
    env: BTreeMap<String, BTreeMap<String, String>>,
    client: reqwest::Client,
    // Dropped last: removes the CA file, the federated token file and the Arc key files (when
    // they live in the state folder; a key file elsewhere is removed when its key is used).
    _state_dir: tempfile::TempDir,
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator")
            .field("https", &self.shared.https_addr)
            .field("http", &self.shared.http_addr)
            .finish_non_exhaustive()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

fn state_error(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> EmulatorError {
    let what = what.into();
    move |source| EmulatorError::State { what, source }
}

fn map(pairs: &[(&str, String)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

impl Emulator {
    /// Starts the emulator on 127.0.0.1 (free ports unless the configuration fixes them), spawning
    /// its server tasks on the current tokio runtime. Works on a current-thread runtime with paused
    /// time: nothing on the request path waits on a tokio timer except injected fault delays.
    pub async fn start(config: EmulatorConfig) -> Result<Emulator, EmulatorError> {
        let certificates =
            tls::generate(config.http2.enabled).map_err(|e| EmulatorError::Tls(e.to_string()))?;
        let state_dir = tempfile::Builder::new()
            .prefix("kvref-emulator-")
            .tempdir()
            .map_err(state_error("temporary folder"))?;
        let ca_path = state_dir.path().join("ca.pem");
        std::fs::write(&ca_path, &certificates.ca_pem).map_err(state_error("ca.pem"))?;
        let arc_tokens_dir = match &config.arc_tokens_dir {
            Some(dir) => dir.clone(),
            None => state_dir.path().join("arc-tokens"),
        };
        std::fs::create_dir_all(&arc_tokens_dir)
            .map_err(state_error(arc_tokens_dir.display().to_string()))?;
        let federated = config
            .service_principals
            .iter()
            .find(|sp| sp.federated_token.is_some());
        let token_file = state_dir.path().join("azure-identity-token");
        if let Some(token) = federated.and_then(|sp| sp.federated_token.as_deref()) {
            std::fs::write(&token_file, token).map_err(state_error("azure-identity-token"))?;
        }

        let https_listener = TcpListener::bind(("127.0.0.1", config.https_port))
            .await
            .map_err(|source| EmulatorError::Bind {
                port: config.https_port,
                source,
            })?;
        let http_listener = TcpListener::bind(("127.0.0.1", config.http_port))
            .await
            .map_err(|source| EmulatorError::Bind {
                port: config.http_port,
                source,
            })?;
        let https_addr = https_listener
            .local_addr()
            .map_err(|source| EmulatorError::Bind {
                port: config.https_port,
                source,
            })?;
        let http_addr = http_listener
            .local_addr()
            .map_err(|source| EmulatorError::Bind {
                port: config.http_port,
                source,
            })?;

        let secrets = EndpointSecrets {
            identity_header: uuid::Uuid::new_v4().to_string(),
            msi_secret: uuid::Uuid::new_v4().to_string(),
            service_fabric_secret: uuid::Uuid::new_v4().to_string(),
        };
        let http_base = format!("http://{http_addr}");
        let https_port = https_addr.port();
        let mut env = BTreeMap::new();
        env.insert(
            "app_service".to_owned(),
            map(&[
                ("IDENTITY_ENDPOINT", format!("{http_base}/msi/token")),
                ("IDENTITY_HEADER", secrets.identity_header.clone()),
            ]),
        );
        env.insert(
            "legacy_app_service".to_owned(),
            map(&[
                ("MSI_ENDPOINT", format!("{http_base}/legacy/msi/token")),
                ("MSI_SECRET", secrets.msi_secret.clone()),
            ]),
        );
        env.insert(
            "imds".to_owned(),
            map(&[("AZURE_POD_IDENTITY_AUTHORITY_HOST", http_base.clone())]),
        );
        env.insert(
            "arc".to_owned(),
            map(&[
                (
                    "IDENTITY_ENDPOINT",
                    format!("{http_base}/arc/metadata/identity/oauth2/token"),
                ),
                ("IMDS_ENDPOINT", format!("{http_base}/arc")),
                ("KVREF_ARC_TOKENS_DIR", arc_tokens_dir.display().to_string()),
            ]),
        );
        env.insert(
            "cloud_shell".to_owned(),
            map(&[(
                "MSI_ENDPOINT",
                format!("{http_base}/cloudshell/oauth2/token"),
            )]),
        );
        env.insert(
            "service_fabric".to_owned(),
            map(&[
                (
                    "IDENTITY_ENDPOINT",
                    format!("https://localhost:{https_port}/metadata/identity/oauth2/token"),
                ),
                ("IDENTITY_HEADER", secrets.service_fabric_secret.clone()),
                (
                    "IDENTITY_SERVER_THUMBPRINT",
                    certificates.server_thumbprint.clone(),
                ),
            ]),
        );
        env.insert(
            "workload_identity".to_owned(),
            match federated {
                Some(sp) => map(&[
                    (
                        "AZURE_AUTHORITY_HOST",
                        format!("https://localhost:{https_port}/"),
                    ),
                    ("AZURE_TENANT_ID", config.tenant_id.clone()),
                    ("AZURE_CLIENT_ID", sp.client_id.clone()),
                    (
                        "AZURE_FEDERATED_TOKEN_FILE",
                        token_file.display().to_string(),
                    ),
                ]),
                None => BTreeMap::new(),
            },
        );
        let info = json!({
            "https": https_addr.to_string(),
            "http": http_addr.to_string(),
            "ca_cert": ca_path.display().to_string(),
            "tenant_id": config.tenant_id,
            "env": env,
        });

        let vaults = config
            .vaults
            .iter()
            .map(|v| (v.name.clone(), Vault::from_config(v)))
            .collect();
        let cancel = CancellationToken::new();
        let eventgrid_client =
            eventgrid::EventGrid::client(&certificates.ca_pem).map_err(EmulatorError::Tls)?;
        let eventgrid_config = config.eventgrid.clone();
        let shared = Arc::new_cyclic(|weak| Shared {
            eventgrid: eventgrid::EventGrid::new(
                &eventgrid_config,
                eventgrid_client,
                cancel.clone(),
                weak.clone(),
            ),
            issuer: token::TokenIssuer::new(),
            secrets,
            vaults: Mutex::new(vaults),
            deleted_vaults: Mutex::default(),
            faults: Mutex::default(),
            journal: Mutex::default(),
            handshakes: Mutex::default(),
            resumptions: Mutex::default(),
            arc_tokens_dir,
            arc_keys: Mutex::new(HashMap::new()),
            https_addr,
            http_addr,
            info,
            config,
        });

        let client = build_client(&certificates.ca_pem, https_addr)
            .map_err(|e| EmulatorError::Tls(format!("cannot build the test client: {e}")))?;

        let acceptor = tokio_rustls::TlsAcceptor::from(certificates.server_config.clone());
        tokio::spawn(server::accept_loop(
            https_listener,
            Some(acceptor),
            shared.clone(),
            cancel.clone(),
        ));
        tokio::spawn(server::accept_loop(
            http_listener,
            None,
            shared.clone(),
            cancel.clone(),
        ));
        tracing::info!(https = %https_addr, http = %http_addr, "kvref-emulator listening");

        Ok(Emulator {
            shared,
            cancel,
            ca_pem: certificates.ca_pem,
            ca_path,
            env,
            client,
            _state_dir: state_dir,
        })
    }

    /// The HTTPS listener: Key Vault (by `Host`), Entra ID and Service Fabric (`localhost`).
    pub fn https_addr(&self) -> SocketAddr {
        self.shared.https_addr
    }

    /// The HTTP listener: the identity endpoints and the control API.
    pub fn http_addr(&self) -> SocketAddr {
        self.shared.http_addr
    }

    /// The emulator's CA certificate (PEM); trust it to reach the HTTPS listener.
    pub fn ca_cert_pem(&self) -> &str {
        &self.ca_pem
    }

    /// Where the CA certificate is written (removed when the emulator is dropped).
    pub fn ca_cert_path(&self) -> &Path {
        &self.ca_path
    }

    /// The tenant the challenge and the tokens name.
    pub fn tenant_id(&self) -> &str {
        self.shared.tenant_id()
    }

    /// The ready-line JSON: addresses, CA path, tenant and every source's environment.
    pub fn info(&self) -> &Value {
        &self.shared.info
    }

    /// The environment variables that point a client at one identity source: `app_service`,
    /// `legacy_app_service`, `imds`, `arc`, `cloud_shell`, `service_fabric` or
    /// `workload_identity`. Unknown names give an empty map.
    pub fn env(&self, source: &str) -> BTreeMap<String, String> {
        self.env.get(source).cloned().unwrap_or_default()
    }

    /// A reqwest client that trusts the emulator's CA and sends every Key Vault host
    /// (`*.vault.azure.net`, `.cn`, `.usgovcloudapi.net`, `*.managedhsm.azure.net`) to it.
    pub fn client(&self) -> reqwest::Client {
        self.client.clone()
    }

    /// The vault's URL as clients write it, e.g. `https://myvault.vault.azure.net` (the vault's
    /// cloud decides the suffix; unknown vaults get the public one).
    pub fn vault_url(&self, vault: &str) -> String {
        let vaults = lock(&self.shared.vaults);
        match vaults.get(&vault.to_ascii_lowercase()) {
            Some(v) => v.base_url(),
            None => format!("https://{vault}.vault.azure.net"),
        }
    }

    /// Adds a new version of a secret (creating the secret if needed) and returns the version id
    /// (32 lowercase hex characters).
    ///
    /// # Panics
    /// If the vault does not exist or the name is not a valid secret name: this is a test helper,
    /// and a typo there should stop the test at once.
    pub async fn set_secret(&self, vault: &str, name: &str, value: &str) -> String {
        match control::add_version(
            &self.shared,
            vault,
            name,
            value.to_owned(),
            NewVersion::default(),
        ) {
            Ok(id) => id.rsplit('/').next().unwrap_or_default().to_owned(),
            Err(e) => panic!("set_secret({vault:?}, {name:?}): {}", e.message),
        }
    }

    /// An RS256 JWT of `claims` (a JSON object), signed with the key the Entra endpoint's keys
    /// document (`/{tenant}/discovery/v2.0/keys`, named by its discovery document) publishes:
    /// for testing receivers of Entra-protected Event Grid deliveries. The caller chooses every
    /// claim (`aud`, `iss`, `exp`, `appid`, …), so that wrong ones can be tested too.
    ///
    /// # Panics
    /// If the process cannot make an RSA key (a test helper).
    pub fn sign_entra_token(&self, claims: &Value) -> String {
        entra::sign(claims).unwrap_or_else(|e| panic!("sign_entra_token: {e}"))
    }

    /// Enables or disables one version of a secret.
    ///
    /// # Panics
    /// If the vault, secret or version does not exist (a test helper; see [`Emulator::set_secret`]).
    pub async fn set_enabled(&self, vault: &str, name: &str, version: &str, enabled: bool) {
        let patch = store::VersionPatch {
            enabled: Some(enabled),
            ..Default::default()
        };
        if let Err(e) = control::update_version(&self.shared, vault, name, version, patch) {
            panic!(
                "set_enabled({vault:?}, {name:?}, {version:?}): {}",
                e.message
            );
        }
    }

    /// Deletes a vault, as Azure's soft delete does: its host answers `404 VaultNotFound` (in
    /// Azure the name would stop resolving) until [`recover_vault`](Self::recover_vault).
    ///
    /// # Panics
    /// If the vault does not exist (a test helper; see [`Emulator::set_secret`]).
    pub async fn delete_vault(&self, vault: &str) {
        if let Err(e) = vault_gone::delete(&self.shared, vault) {
            panic!("delete_vault({vault:?}): {}", e.message);
        }
    }

    /// Brings a deleted vault back with everything it held.
    ///
    /// # Panics
    /// If no vault of that name was deleted (a test helper).
    pub async fn recover_vault(&self, vault: &str) {
        if let Err(e) = vault_gone::recover(&self.shared, vault) {
            panic!("recover_vault({vault:?}): {}", e.message);
        }
    }

    /// Injects a fault (see [`Fault`]).
    pub async fn add_fault(&self, fault: Fault) {
        lock(&self.shared.faults).add(fault);
    }

    /// Removes every fault.
    pub async fn clear_faults(&self) {
        lock(&self.shared.faults).clear();
    }

    /// The journal of requests served so far, oldest first.
    pub async fn requests(&self) -> Vec<JournalEntry> {
        lock(&self.shared.journal).clone()
    }

    /// How many TLS handshakes the HTTPS listener completed, by the SNI host name the client
    /// sent (`myvault.vault.azure.net`; `""` without SNI, as for `127.0.0.1`). Over HTTP/2 a
    /// client that shares one connection per vault makes one handshake per vault.
    pub async fn tls_handshakes(&self) -> BTreeMap<String, u64> {
        lock(&self.shared.handshakes).clone()
    }

    /// Of [`tls_handshakes`](Self::tls_handshakes), those that resumed an earlier TLS session
    /// (the client offered a ticket the emulator issued), by SNI host name.
    pub async fn tls_resumptions(&self) -> BTreeMap<String, u64> {
        lock(&self.shared.resumptions).clone()
    }

    /// Empties the journal.
    pub async fn clear_requests(&self) {
        lock(&self.shared.journal).clear();
    }

    /// Creates an Event Grid subscription on every vault, once its endpoint passed the
    /// validation handshake (a `SubscriptionValidationEvent` POST, or the CloudEvents `OPTIONS`),
    /// as `POST /_emulator/eventgrid/subscriptions` does. The error says which step failed and
    /// what the endpoint answered.
    pub async fn add_subscription(
        &self,
        subscription: Subscription,
    ) -> Result<SubscriptionInfo, SubscriptionError> {
        self.shared.eventgrid.add(&self.shared, subscription).await
    }

    /// The Event Grid subscriptions, without secret values.
    pub fn subscriptions(&self) -> Vec<SubscriptionInfo> {
        self.shared.eventgrid.list()
    }

    /// Removes the subscription named `name` (ignoring case); whether there was one. Deliveries
    /// already under way carry on.
    pub fn remove_subscription(&self, name: &str) -> bool {
        self.shared.eventgrid.remove(name)
    }

    /// The journal's Event Grid entries (handshakes and delivery attempts), oldest first.
    pub fn deliveries(&self) -> Vec<JournalEntry> {
        eventgrid::journal(&self.shared)
    }

    /// Waits until no Event Grid delivery is under way: each one delivered, dead-lettered or
    /// given up (with the configured retry delays, in tokio time).
    pub async fn deliveries_settled(&self) {
        self.shared.eventgrid.settled().await;
    }

    /// Stops serving now (dropping the emulator does the same).
    pub fn shutdown(&self) {
        self.cancel.cancel();
    }
}

/// Sends Key Vault hosts to the emulator and everything else to the system resolver.
struct VaultResolver {
    address: SocketAddr,
}

impl reqwest::dns::Resolve for VaultResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().trim_end_matches('.').to_ascii_lowercase();
        let routed = keyvault::is_vault_host(&host).then_some(self.address);
        Box::pin(async move {
            let addrs: reqwest::dns::Addrs = match routed {
                Some(address) => Box::new(std::iter::once(address)),
                None => Box::new(tokio::net::lookup_host((host, 0)).await?),
            };
            Ok(addrs)
        })
    }
}

fn build_client(ca_pem: &str, https_addr: SocketAddr) -> Result<reqwest::Client, reqwest::Error> {
    let certificate = reqwest::Certificate::from_pem(ca_pem.as_bytes())?;
    reqwest::Client::builder()
        .tls_certs_merge([certificate])
        .dns_resolver(Arc::new(VaultResolver {
            address: https_addr,
        }))
        .no_proxy()
        .connect_timeout(std::time::Duration::from_secs(10))
        .timeout(std::time::Duration::from_secs(30))
        .build()
}

#[cfg(test)]
mod tests {
    #[test]
    fn handles_can_move_between_tasks() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<super::Emulator>();
        send_sync::<super::EmulatorConfig>();
        send_sync::<super::Fault>();
        send_sync::<super::JournalEntry>();
    }
}
