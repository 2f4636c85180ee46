//! `Connection`: from an environment to a working resolver, against a real emulator.

use kvref::Env;
use kvref::connect::{ConnectOptions, Connection};
use kvref::credential::UserAssignedId;
use kvref::resolve::ResolveStatus;
use kvref_emulator::{Emulator, EmulatorConfig};
use secrecy::ExposeSecret;

const REFERENCE: &str = "@Microsoft.KeyVault(VaultName=myvault;SecretName=DbPassword)";

async fn emulator() -> Emulator {
    Emulator::start(EmulatorConfig::sample()).await.unwrap()
}

fn local_env(emu: &Emulator) -> Env {
    Env::from_pairs([("KVREF_EMULATOR", format!("http://{}", emu.http_addr()))])
}

#[tokio::test]
async fn kvref_emulator_alone_resolves_with_the_app_service_identity() {
    let emu = emulator().await;
    let connection = Connection::from_env(&local_env(&emu)).await.unwrap();
    assert!(connection.is_local());
    assert_eq!(
        connection.transport().route_for("myvault.vault.azure.net"),
        Some(emu.https_addr())
    );
    // az and azd would fetch real Azure tokens: never in local mode.
    let members: Vec<&str> = connection.default_credential().members().collect();
    assert!(
        members.contains(&"ManagedIdentityCredential"),
        "{members:?}"
    );
    assert!(!members.iter().any(|m| m.contains("Cli")), "{members:?}");
    let resolver = connection.resolver().build().unwrap();
    let resolution = resolver.resolve([("db.password", REFERENCE)]).await;
    let outcome = &resolution.outcomes()[0];
    assert_eq!(outcome.status(), ResolveStatus::Resolved, "{outcome:?}");
    assert_eq!(
        outcome.value().map(|v| v.expose_secret().to_owned()),
        Some("db-password-from-the-emulator".to_owned())
    );
    let journal = emu.requests().await;
    assert!(journal.iter().any(|e| e.endpoint == "app_service"));
}

#[tokio::test]
async fn the_explicit_identity_reaches_the_token_request() {
    let emu = emulator().await;
    let client_id = "6beb3ab0-6e28-4a92-8e5a-ce0d5abf3a8c";
    let options =
        ConnectOptions::default().user_assigned(UserAssignedId::ClientId(client_id.into()));
    let connection = Connection::connect(&local_env(&emu), options)
        .await
        .unwrap();
    let resolution = connection
        .resolver()
        .build()
        .unwrap()
        .resolve([("db.password", REFERENCE)])
        .await;
    assert!(resolution.is_success(), "{:?}", resolution.outcomes());
    let journal = emu.requests().await;
    assert!(
        journal
            .iter()
            .any(|e| e.endpoint == "app_service"
                && e.query.contains(&format!("client_id={client_id}"))),
        "{journal:?}"
    );
}

#[tokio::test]
async fn an_identity_source_in_the_environment_wins_over_the_emulator_default() {
    let emu = emulator().await;
    let env = local_env(&emu).overlay(&Env::from_pairs(emu.env("imds")));
    let connection = Connection::from_env(&env).await.unwrap();
    let resolution = connection
        .resolver()
        .build()
        .unwrap()
        .resolve([("db.password", REFERENCE)])
        .await;
    assert!(resolution.is_success(), "{:?}", resolution.outcomes());
    let journal = emu.requests().await;
    assert!(journal.iter().any(|e| e.endpoint == "imds"));
    assert!(!journal.iter().any(|e| e.endpoint == "app_service"));
}

#[tokio::test]
async fn a_non_loopback_emulator_is_a_configuration_error() {
    let env = Env::from_pairs([("KVREF_EMULATOR", "http://10.1.2.3:8080")]);
    let error = Connection::from_env(&env).await.unwrap_err();
    assert!(error.is_configuration());
    let message = error.to_string();
    assert!(
        message.contains("KVREF_EMULATOR=http://10.1.2.3:8080"),
        "{message}"
    );
    assert!(message.contains("refused"), "{message}");
}

#[tokio::test]
async fn without_kvref_emulator_it_is_azure_with_the_whole_chain() {
    let env = Env::from_pairs([("AZURE_CLIENT_ID", "abc")]);
    let connection = Connection::from_env(&env).await.unwrap();
    assert!(!connection.is_local());
    assert_eq!(
        connection.transport().route_for("myvault.vault.azure.net"),
        None
    );
    let members: Vec<&str> = connection.default_credential().members().collect();
    assert!(members.contains(&"AzureCliCredential"), "{members:?}");

    let production = Connection::connect(
        &env,
        ConnectOptions::default().exclude_developer_credentials(),
    )
    .await
    .unwrap();
    let members: Vec<&str> = production.default_credential().members().collect();
    assert!(!members.iter().any(|m| m.contains("Cli")), "{members:?}");
}
