//! Emulator plumbing for the resolver's tests: configurations, the transport, the credential.

use std::sync::Arc;
use std::time::Duration;

use kvref::Env;
use kvref::credential::{
    ManagedIdentityCredential, ManagedIdentityOptions, TokenCredential, UserAssignedId,
};
use kvref::resolve::{Resolver, ResolverBuilder};
use kvref::transport::HttpTransport;
use kvref::vault::RetryPolicy;
use kvref_emulator::{Emulator, EmulatorConfig, Endpoint, JournalEntry};

use super::CountingCredential;
use super::cred_emulator::{SYSTEM_CLIENT_ID, SYSTEM_OBJECT_ID, TENANT};

/// A transport that trusts the emulator's CA and routes every cloud's vault hosts to it.
pub fn transport(emu: &Emulator) -> HttpTransport {
    HttpTransport::builder()
        .add_root_certificate_pem(emu.ca_cert_pem())
        .route(".vault.azure.net", emu.https_addr())
        .route(".vault.azure.cn", emu.https_addr())
        .route(".vault.usgovcloudapi.net", emu.https_addr())
        .build()
        .expect("transport")
}

/// The app's managed identity as App Service would give it, counted.
pub fn credential(emu: &Emulator) -> Arc<CountingCredential> {
    credential_for(emu, None)
}

/// The app's managed identity, optionally a user-assigned one by client id, counted.
pub fn credential_for(emu: &Emulator, client_id: Option<&str>) -> Arc<CountingCredential> {
    let env = Env::from_pairs(emu.env("app_service"));
    let inner = managed_identity(env, client_id);
    CountingCredential::wrap(inner)
}

/// A resolver over the emulator with fast retries (1 ms initial backoff) and a 20 s budget.
pub fn resolver(emu: &Emulator, credential: Arc<CountingCredential>) -> ResolverBuilder {
    Resolver::builder()
        .credential(credential)
        .transport(transport(emu))
        .retry_policy(RetryPolicy::default().with_initial_delay(Duration::from_millis(1)))
        .budget(Duration::from_secs(20))
}

/// Starts an emulator from TOML.
pub async fn start(toml: &str) -> Emulator {
    Emulator::start(EmulatorConfig::from_toml_str(toml).expect("emulator config"))
        .await
        .expect("emulator starts")
}

/// The Key Vault requests in the journal.
pub async fn vault_requests(emu: &Emulator) -> Vec<JournalEntry> {
    emu.requests()
        .await
        .into_iter()
        .filter(|e| e.endpoint == Endpoint::KeyVault)
        .collect()
}

/// The identity endpoint's requests in the journal.
pub async fn token_requests(emu: &Emulator) -> usize {
    emu.requests()
        .await
        .into_iter()
        .filter(|e| e.endpoint == Endpoint::AppService)
        .count()
}

/// A configuration with the system identity granted `Key Vault Secrets User` on `vaults`, each
/// holding `secrets` secrets named `s{i}` with value `value-{vault}-{i}`.
pub fn vaults_toml(vaults: &[&str], secrets: usize) -> String {
    let mut toml = format!(
        r#"tenant_id = "{TENANT}"
token_lifetime_secs = 86400

[system_identity]
client_id = "{SYSTEM_CLIENT_ID}"
object_id = "{SYSTEM_OBJECT_ID}"

[throttle]
requests = 100000
window_secs = 10
"#,
    );
    for vault in vaults {
        toml.push_str(&format!("\n[[vaults]]\nname = \"{vault}\"\n"));
        for i in 0..secrets {
            toml.push_str(&format!(
                "\n[[vaults.secrets]]\nname = \"s{i}\"\n\n[[vaults.secrets.versions]]\nvalue = \"value-{vault}-{i}\"\n"
            ));
        }
    }
    for vault in vaults {
        toml.push_str(&format!(
            "\n[[role_assignments]]\nprincipal = \"system\"\nvault = \"{vault}\"\nrole = \"Key Vault Secrets User\"\n"
        ));
    }
    toml
}

/// The app's managed identity credential (App Service in the emulator).
fn managed_identity(env: Env, client_id: Option<&str>) -> Arc<dyn TokenCredential> {
    let transport = HttpTransport::builder().build().expect("transport");
    let mut options = ManagedIdentityOptions::new(env, transport);
    if let Some(id) = client_id {
        options = options.with_user_assigned(UserAssignedId::ClientId(id.to_owned()));
    }
    Arc::new(ManagedIdentityCredential::new(options).expect("managed identity credential"))
}
