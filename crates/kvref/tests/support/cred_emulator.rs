//! Helpers for the credential tests that run against the emulator: a configuration with known
//! identities, a transport that reaches it, token claims and journal queries.
#![allow(dead_code, unreachable_pub)]

use kvref::Env;
use kvref::transport::HttpTransport;
use kvref_emulator::{Emulator, EmulatorConfig, Endpoint, JournalEntry};

pub const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
pub const SYSTEM_CLIENT_ID: &str = "3f1b2a4c-5d6e-4f70-8a9b-0c1d2e3f4a5b";
pub const SYSTEM_OBJECT_ID: &str = "9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d";
pub const UAMI_CLIENT_ID: &str = "6beb3ab0-6e28-4a92-8e5a-ce0d5abf3a8c";
pub const UAMI_OBJECT_ID: &str = "b1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f";
pub const UAMI_RESOURCE_ID: &str = "/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/kvref-rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/app-uami";
pub const OTHER_CLIENT_ID: &str = "c4d5e6f7-a8b9-4cad-9ebf-1a2b3c4d5e6f";
pub const OTHER_OBJECT_ID: &str = "d7e8f9a0-b1c2-4d3e-8f4a-5b6c7d8e9f0a";
pub const SP_CLIENT_ID: &str = "0e1f2a3b-4c5d-4e6f-9a0b-1c2d3e4f5a6b";
pub const SP_OBJECT_ID: &str = "5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d";
pub const SP_SECRET: &str = "emulator-client-secret-not-real";
pub const SP_FEDERATED_TOKEN: &str =
    "eyJhbGciOiJub25lIn0.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6ZGVmYXVsdDpjaSJ9.";
pub const SCOPE: &str = "https://vault.azure.net/.default";

/// Which identities the emulated app has.
#[derive(Clone, Copy, Debug)]
pub struct Identities {
    pub system: bool,
    pub user_assigned: usize,
}

impl Identities {
    pub const ALL: Identities = Identities {
        system: true,
        user_assigned: 2,
    };
    /// An app with no managed identity at all.
    pub const NONE: Identities = Identities {
        system: false,
        user_assigned: 0,
    };
}

/// Every managed identity source the emulator gives an environment for.
pub const MANAGED_IDENTITY_SOURCES: [&str; 6] = [
    "app_service",
    "legacy_app_service",
    "imds",
    "arc",
    "cloud_shell",
    "service_fabric",
];

pub fn config_toml(identities: Identities, token_lifetime_secs: u64) -> String {
    let mut toml =
        format!("tenant_id = \"{TENANT}\"\ntoken_lifetime_secs = {token_lifetime_secs}\n");
    if identities.system {
        toml += &format!(
            "[system_identity]\nclient_id = \"{SYSTEM_CLIENT_ID}\"\nobject_id = \"{SYSTEM_OBJECT_ID}\"\n"
        );
    }
    let uamis = [
        ("app-uami", UAMI_CLIENT_ID, UAMI_OBJECT_ID),
        ("other-uami", OTHER_CLIENT_ID, OTHER_OBJECT_ID),
    ];
    for (name, client_id, object_id) in uamis.iter().take(identities.user_assigned) {
        toml += &format!(
            "[[user_assigned_identities]]\nname = \"{name}\"\nclient_id = \"{client_id}\"\nobject_id = \"{object_id}\"\nresource_id = \"/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/kvref-rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}\"\n"
        );
    }
    toml += &format!(
        "[[service_principals]]\nname = \"ci\"\nclient_id = \"{SP_CLIENT_ID}\"\nobject_id = \"{SP_OBJECT_ID}\"\nclient_secret = \"{SP_SECRET}\"\nfederated_token = \"{SP_FEDERATED_TOKEN}\"\n"
    );
    toml += "[[vaults]]\nname = \"myvault\"\n";
    toml
}

pub async fn start(identities: Identities) -> Emulator {
    start_with_lifetime(identities, 86400).await
}

pub async fn start_with_lifetime(identities: Identities, token_lifetime_secs: u64) -> Emulator {
    let config = EmulatorConfig::from_toml_str(&config_toml(identities, token_lifetime_secs))
        .expect("test config");
    Emulator::start(config).await.expect("emulator starts")
}

/// A transport that trusts the emulator's CA and sends vault hosts and `localhost` (Entra,
/// Service Fabric) to it. Built once per emulator (building loads the system's roots); keyed by
/// address and CA, so a later emulator on a reused port never gets a stale one.
pub fn transport(emu: &Emulator) -> HttpTransport {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    type Key = (std::net::SocketAddr, String);
    static BUILT: OnceLock<Mutex<HashMap<Key, HttpTransport>>> = OnceLock::new();
    let mut built = BUILT.get_or_init(Default::default).lock().expect("lock");
    built
        .entry((emu.https_addr(), emu.ca_cert_pem().to_owned()))
        .or_insert_with(|| {
            HttpTransport::builder()
                .add_root_certificate_pem(emu.ca_cert_pem())
                .route(".vault.azure.net", emu.https_addr())
                .route("localhost", emu.https_addr())
                .build()
                .expect("transport")
        })
        .clone()
}

/// The environment of one identity source, as the emulator gives it.
pub fn env(emu: &Emulator, source: &str) -> Env {
    let vars = emu.env(source);
    assert!(
        !vars.is_empty(),
        "the emulator has no environment for {source}"
    );
    Env::from_pairs(vars)
}

/// The environment of one identity source with some variables replaced or added.
pub fn env_with(emu: &Emulator, source: &str, overrides: &[(&str, &str)]) -> Env {
    let mut env = env(emu, source);
    for (name, value) in overrides {
        env.set(*name, *value);
    }
    env
}

/// The identity endpoint secrets (`IDENTITY_HEADER`, `MSI_SECRET`) in `env`, for leak checks.
pub fn identity_secrets(env: &Env) -> Vec<String> {
    ["IDENTITY_HEADER", "MSI_SECRET"]
        .into_iter()
        .filter_map(|name| env.get(name))
        .map(str::to_owned)
        .collect()
}

/// `EnvironmentCredential`'s variables for the emulator's service principal, with its secret.
pub fn service_principal_env(emu: &Emulator) -> Env {
    let workload = env(emu, "workload_identity");
    let host = workload
        .get("AZURE_AUTHORITY_HOST")
        .expect("the emulator names its authority host");
    Env::from_pairs([
        ("AZURE_TENANT_ID", TENANT),
        ("AZURE_CLIENT_ID", SP_CLIENT_ID),
        ("AZURE_CLIENT_SECRET", SP_SECRET),
        ("AZURE_AUTHORITY_HOST", host),
    ])
}

/// The claims of an emulator token (its JWT payload).
pub fn claims(token: &str) -> serde_json::Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url payload");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

/// The requests one endpoint received.
pub async fn requests_to(emu: &Emulator, endpoint: Endpoint) -> Vec<JournalEntry> {
    emu.requests()
        .await
        .into_iter()
        .filter(|e| e.endpoint == endpoint)
        .collect()
}
