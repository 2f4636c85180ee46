//! Local development mode against a real emulator: its info, vault routing over real TLS with
//! the emulator's CA, and the credential environment.

use kvref::Env;
use kvref::local::{LocalEmulator, VAULT_DOMAINS};
use kvref_emulator::{Emulator, EmulatorConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn emulator() -> Emulator {
    Emulator::start(EmulatorConfig::sample()).await.unwrap()
}

fn url(emu: &Emulator) -> String {
    format!("http://{}", emu.http_addr())
}

#[tokio::test]
async fn reads_the_emulator_info() {
    let emu = emulator().await;
    let env = Env::from_pairs([("KVREF_EMULATOR", format!("{}/", url(&emu)))]);
    let local = LocalEmulator::from_env(&env).await.unwrap().unwrap();
    assert_eq!(local.url(), url(&emu));
    assert_eq!(local.https_addr(), emu.https_addr());
    assert_eq!(local.ca_cert_pem(), emu.ca_cert_pem());
    assert_eq!(local.tenant_id(), Some(emu.tenant_id()));
    // localhost spells the same machine.
    let by_name = format!("http://localhost:{}", emu.http_addr().port());
    let local = LocalEmulator::connect(&by_name).await.unwrap();
    assert_eq!(local.https_addr(), emu.https_addr());
}

#[tokio::test]
async fn vault_hosts_of_every_cloud_reach_the_emulator_over_tls() {
    let emu = emulator().await;
    let local = LocalEmulator::connect(&url(&emu)).await.unwrap();
    let transport = local.transport().unwrap();
    for domain in VAULT_DOMAINS {
        let host = format!("myvault{domain}");
        assert_eq!(transport.route_for(&host), Some(emu.https_addr()), "{host}");
    }
    // A real request: TLS checks myvault.vault.azure.net against the emulator's CA, and Key
    // Vault's first answer to a request without a token is the 401 challenge.
    emu.clear_requests().await;
    let response = transport
        .client()
        .get(format!(
            "{}/secrets/DbPassword?api-version=7.5",
            emu.vault_url("myvault")
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let journal = emu.requests().await;
    assert_eq!(journal.len(), 1);
    assert_eq!(
        journal[0].host.split(':').next(),
        Some("myvault.vault.azure.net")
    );
    // Other hosts are not routed.
    assert_eq!(transport.route_for("login.microsoftonline.com"), None);
    assert_eq!(
        transport.route_for("myvault.vault.azure.net.evil.example"),
        None
    );
}

#[tokio::test]
async fn credential_env_adds_the_app_service_identity_unless_a_source_is_named() {
    let emu = emulator().await;
    let local = LocalEmulator::connect(&url(&emu)).await.unwrap();
    let app_service = emu.env("app_service");

    // Nothing named: the emulator's App Service identity, selectors kept.
    let env = local
        .credential_env(&Env::from_pairs([
            ("AZURE_CLIENT_ID", "abc"),
            ("HOME", "/home/dev"),
        ]))
        .unwrap();
    for (name, value) in &app_service {
        assert_eq!(env.get(name), Some(value.as_str()), "{name}");
    }
    assert_eq!(env.get("AZURE_CLIENT_ID"), Some("abc"));
    assert_eq!(env.get("HOME"), Some("/home/dev"));

    // Each managed identity source's own environment is left exactly as it is.
    for source in [
        "imds",
        "arc",
        "legacy_app_service",
        "cloud_shell",
        "service_fabric",
    ] {
        let source_env = Env::from_pairs(emu.env(source));
        assert_eq!(
            local.credential_env(&source_env).unwrap(),
            source_env,
            "{source}"
        );
    }
    // Workload identity keeps its variables, and the chain's managed identity member gets the
    // emulator's App Service identity rather than a real IMDS.
    let workload = Env::from_pairs(emu.env("workload_identity"));
    let env = local.credential_env(&workload).unwrap();
    for (name, value) in emu.env("workload_identity").iter().chain(&app_service) {
        assert_eq!(env.get(name), Some(value.as_str()), "{name}");
    }
    // A service principal without the emulator's authority would go to the real Entra ID.
    let sp = Env::from_pairs([
        ("AZURE_TENANT_ID", "t"),
        ("AZURE_CLIENT_ID", "c"),
        ("AZURE_CLIENT_SECRET", "s"),
    ]);
    let refused = local.credential_env(&sp).unwrap_err();
    assert!(
        refused.to_string().contains("AZURE_CLIENT_SECRET"),
        "{refused}"
    );
}

#[tokio::test]
async fn something_that_is_not_an_emulator_is_told_apart() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut buffer = [0u8; 1024];
        let _ = socket.read(&mut buffer).await;
        socket
            .write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            .await
            .unwrap();
    });
    let error = LocalEmulator::connect(&format!("http://{address}"))
        .await
        .unwrap_err();
    assert!(!error.is_unreachable() && !error.is_refused(), "{error}");
    let text = error.to_string();
    assert!(
        text.contains("did not describe a kvref emulator") && text.contains("404"),
        "{text}"
    );
    server.await.unwrap();
}
