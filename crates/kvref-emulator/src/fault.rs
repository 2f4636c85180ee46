//! Faults tests can inject into an endpoint, and the journal of requests the emulator served.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// The emulated services, as named in faults and journal entries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Endpoint {
    /// The Key Vault data plane (HTTPS, any `*.vault.azure.net`-style host).
    #[default]
    #[serde(rename = "keyvault")]
    KeyVault,
    /// The VM instance metadata service (`/metadata/identity/oauth2/token` over HTTP).
    #[serde(rename = "imds")]
    Imds,
    /// App Service / Functions / Container Apps, api-version 2019-08-01.
    #[serde(rename = "app_service")]
    AppService,
    /// App Service's legacy api-version 2017-09-01 (`MSI_ENDPOINT` + `MSI_SECRET`).
    #[serde(rename = "legacy_app_service")]
    LegacyAppService,
    /// Azure Arc's hybrid instance metadata service.
    #[serde(rename = "arc")]
    Arc,
    /// Azure Cloud Shell (`MSI_ENDPOINT` only, POST form).
    #[serde(rename = "cloud_shell")]
    CloudShell,
    /// Service Fabric's managed identity endpoint (HTTPS).
    #[serde(rename = "service_fabric")]
    ServiceFabric,
    /// Entra ID: the v2 token endpoint and its discovery documents (HTTPS).
    #[serde(rename = "entra")]
    Entra,
    /// Event Grid's deliveries to subscribers (journal entries only: requests the emulator
    /// sends, not ones it serves).
    #[serde(rename = "eventgrid")]
    EventGrid,
}

impl Endpoint {
    /// Every endpoint, in documentation order.
    pub const ALL: [Endpoint; 9] = [
        Endpoint::KeyVault,
        Endpoint::Imds,
        Endpoint::AppService,
        Endpoint::LegacyAppService,
        Endpoint::Arc,
        Endpoint::CloudShell,
        Endpoint::ServiceFabric,
        Endpoint::Entra,
        Endpoint::EventGrid,
    ];

    /// The wire name: `keyvault`, `imds`, `app_service`, `legacy_app_service`, `arc`,
    /// `cloud_shell`, `service_fabric`, `entra` or `eventgrid`.
    ///
    /// ```
    /// assert_eq!(kvref_emulator::Endpoint::AppService.as_str(), "app_service");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::KeyVault => "keyvault",
            Endpoint::Imds => "imds",
            Endpoint::AppService => "app_service",
            Endpoint::LegacyAppService => "legacy_app_service",
            Endpoint::Arc => "arc",
            Endpoint::CloudShell => "cloud_shell",
            Endpoint::ServiceFabric => "service_fabric",
            Endpoint::Entra => "entra",
            Endpoint::EventGrid => "eventgrid",
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<str> for Endpoint {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Endpoint {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// A fault to inject into one endpoint: answer with a fixed status, delay, drop the connection,
/// or send an oversized or endless body.
///
/// `status: None` passes the request through to the real handler (after `delay_ms`, with `headers`
/// added), `drop_connection` closes the connection without any response, and `times: None` means
/// every matching request until the faults are cleared. Faults on one endpoint apply in the order
/// they were added; a fault whose `times` is used up is removed. A redirect is a `status` of 3xx
/// with a `Location` in `headers`; `body_bytes` and `endless_body` replace the body of whatever
/// answer is sent (the fault's status or the real handler's).
///
/// ```
/// use kvref_emulator::{Endpoint, Fault};
///
/// let fault = Fault { endpoint: Endpoint::Imds, status: Some(410), times: Some(3), ..Fault::default() };
/// assert_eq!(fault.delay_ms, 0);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    /// Which endpoint the fault applies to.
    pub endpoint: Endpoint,
    /// The status to answer with, or `None` to pass the request through.
    #[serde(default)]
    pub status: Option<u16>,
    /// Extra response headers (for example `Retry-After`).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The JSON body to answer with; none means an empty body.
    #[serde(default)]
    pub body: Option<serde_json::Value>,
    /// How long to wait before answering (tokio time, so paused-time tests skip it).
    #[serde(default)]
    pub delay_ms: u64,
    /// Close the connection without answering.
    #[serde(default)]
    pub drop_connection: bool,
    /// How many requests the fault applies to; `None` for all of them.
    #[serde(default)]
    pub times: Option<u32>,
    /// Replace the answer's body with this many bytes of filler (`x`), sent in chunks without a
    /// `Content-Length`, to test a client's body limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_bytes: Option<u64>,
    /// Replace the answer's body with one that never ends (64 KiB chunks until the client
    /// closes the connection), to test that a client's memory stays flat.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub endless_body: bool,
    /// Send the answer's body (the fault's, the filler or the real handler's) a few bytes at a
    /// time with this many milliseconds between pieces (tokio time), to test a client's read
    /// timeout on a body that trickles.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub chunk_delay_ms: u64,
}

fn is_zero(ms: &u64) -> bool {
    *ms == 0
}

/// How many bytes a trickling body sends at a time.
pub(crate) const TRICKLE_BYTES: usize = 16;

/// The size of one chunk of a filler body.
pub(crate) const FILLER_CHUNK: usize = 64 * 1024;

/// One request the emulator served (control API requests are not recorded).
///
/// It never holds a token, a secret or a request body: only whether an `Authorization` header was
/// present. `status` is 0 when a fault dropped the connection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalEntry {
    /// Which emulated service answered.
    pub endpoint: Endpoint,
    /// The HTTP method.
    pub method: String,
    /// The `Host` header as sent.
    pub host: String,
    /// The path, without the query.
    pub path: String,
    /// The raw query string (empty when there is none).
    pub query: String,
    /// The status answered (0 when the connection was dropped).
    pub status: u16,
    /// Whether the request carried an `Authorization` header.
    pub authorization: bool,
    /// The HTTP version the request came over, by its ALPN name: `h2` or `http/1.1` (or
    /// `http/1.0`). Empty in entries from an emulator older than this field.
    #[serde(default)]
    pub protocol: String,
    /// For Event Grid's requests (endpoint `eventgrid`): the subscription, the attempt and how
    /// it ended. `host`, `path` and `query` are then the subscriber's (a query secret masked),
    /// `status` its answer (0 for none), `authorization` whether a bearer token was sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eventgrid: Option<crate::eventgrid::DeliveryAttempt>,
}

/// Faults in force, in the order they were added.
#[derive(Default)]
pub(crate) struct FaultTable {
    faults: Vec<Fault>,
}

impl FaultTable {
    pub(crate) fn add(&mut self, fault: Fault) {
        if fault.times != Some(0) {
            self.faults.push(fault);
        }
    }

    pub(crate) fn clear(&mut self) {
        self.faults.clear();
    }

    /// The fault that applies to the next request on `endpoint`, counting it.
    pub(crate) fn take(&mut self, endpoint: Endpoint) -> Option<Fault> {
        let index = self.faults.iter().position(|f| f.endpoint == endpoint)?;
        let fault = self.faults[index].clone();
        match &mut self.faults[index].times {
            Some(1) => {
                self.faults.remove(index);
            }
            Some(n) => *n -= 1,
            None => {}
        }
        Some(fault)
    }
}
