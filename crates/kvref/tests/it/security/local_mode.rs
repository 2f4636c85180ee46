//! Local mode never meets a real credential: with the emulator on, an identity endpoint or an
//! authority that is not the emulator's, or an Entra secret, certificate or federated token
//! headed for the real Entra ID, stops start-up with the variable's name (never its value); and
//! the emulator's info can set nothing but its own App Service identity.

use kvref::local::LocalEmulator;
use kvref::{Env, Resolver};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::support::cred_emulator::{self, Identities};

/// A value no message may show.
const SENTINEL: &str = "REAL-CREDENTIAL-SENTINEL";

async fn connect(
    emu: &kvref_emulator::Emulator,
    vars: &[(&str, String)],
) -> Result<Resolver, kvref::Error> {
    let env = Env::from_pairs(vars.iter().map(|(k, v)| (*k, v.as_str())));
    let url = format!("http://{}", emu.http_addr());
    Resolver::builder().emulator(url).connect(&env).await
}

#[tokio::test]
async fn each_kind_of_real_credential_is_refused() {
    let emu = cred_emulator::start(Identities::ALL).await;
    let own_arc = cred_emulator::env(&emu, "arc");
    let own_arc_endpoint = own_arc.get("IDENTITY_ENDPOINT").unwrap().to_owned();
    let own_authority = cred_emulator::env(&emu, "workload_identity")
        .get("AZURE_AUTHORITY_HOST")
        .unwrap()
        .to_owned();
    let s = |v: &str| format!("{v}{SENTINEL}");
    let cases: Vec<(&str, Vec<(&str, String)>)> = vec![
        // App Service on a real host.
        (
            "IDENTITY_ENDPOINT",
            vec![
                ("IDENTITY_ENDPOINT", s("http://10.0.0.4/msi/token?")),
                ("IDENTITY_HEADER", s("h")),
            ],
        ),
        // Legacy App Service / Cloud Shell, on loopback but not the emulator's port.
        (
            "MSI_ENDPOINT",
            vec![
                ("MSI_ENDPOINT", s("http://127.0.0.1:1/msi/token?")),
                ("MSI_SECRET", s("s")),
            ],
        ),
        // Service Fabric.
        (
            "IDENTITY_ENDPOINT",
            vec![
                (
                    "IDENTITY_ENDPOINT",
                    s("https://10.0.0.4:2377/metadata/identity/oauth2/token?"),
                ),
                ("IDENTITY_HEADER", s("h")),
                (
                    "IDENTITY_SERVER_THUMBPRINT",
                    "0123456789abcdef0123456789abcdef01234567".into(),
                ),
            ],
        ),
        // Arc: the real agent's port, even on loopback.
        (
            "IMDS_ENDPOINT",
            vec![
                ("IDENTITY_ENDPOINT", own_arc_endpoint.clone()),
                ("IMDS_ENDPOINT", s("http://localhost:40342/?")),
            ],
        ),
        // IMDS through the pod identity variable.
        (
            "AZURE_POD_IDENTITY_AUTHORITY_HOST",
            vec![(
                "AZURE_POD_IDENTITY_AUTHORITY_HOST",
                s("http://169.254.169.254/?"),
            )],
        ),
        // A service principal's secret, with no authority: the real Entra ID.
        (
            "AZURE_CLIENT_SECRET",
            vec![
                ("AZURE_TENANT_ID", cred_emulator::TENANT.into()),
                ("AZURE_CLIENT_ID", cred_emulator::SP_CLIENT_ID.into()),
                ("AZURE_CLIENT_SECRET", s("")),
            ],
        ),
        // A certificate, likewise.
        (
            "AZURE_CLIENT_CERTIFICATE_PATH",
            vec![
                ("AZURE_TENANT_ID", cred_emulator::TENANT.into()),
                ("AZURE_CLIENT_ID", cred_emulator::SP_CLIENT_ID.into()),
                ("AZURE_CLIENT_CERTIFICATE_PATH", s("/tmp/")),
            ],
        ),
        // A federated token with the real authority named.
        (
            "AZURE_AUTHORITY_HOST",
            vec![
                ("AZURE_TENANT_ID", cred_emulator::TENANT.into()),
                ("AZURE_CLIENT_ID", cred_emulator::SP_CLIENT_ID.into()),
                ("AZURE_FEDERATED_TOKEN_FILE", s("/var/run/")),
                (
                    "AZURE_AUTHORITY_HOST",
                    s("https://login.microsoftonline.com/?"),
                ),
            ],
        ),
        // A federated token and no authority.
        (
            "AZURE_FEDERATED_TOKEN_FILE",
            vec![
                ("AZURE_TENANT_ID", cred_emulator::TENANT.into()),
                ("AZURE_CLIENT_ID", cred_emulator::SP_CLIENT_ID.into()),
                ("AZURE_FEDERATED_TOKEN_FILE", s("/var/run/")),
            ],
        ),
    ];
    for (variable, vars) in cases {
        let error = connect(&emu, &vars).await.unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains("local emulator mode refuses to start"),
            "{variable}: {text}"
        );
        assert!(text.contains(variable), "{variable}: {text}");
        assert!(!text.contains(SENTINEL), "{variable}: {text}");
        assert!(
            !format!("{error:?}").contains(SENTINEL),
            "{variable}: {error:?}"
        );
    }

    // The emulator's own variables for each source are what local mode is for.
    for source in [
        "app_service",
        "arc",
        "imds",
        "service_fabric",
        "workload_identity",
    ] {
        let vars: Vec<(&str, String)> = emu
            .env(source)
            .into_iter()
            .map(|(k, v)| (&*k.leak(), v))
            .collect();
        connect(&emu, &vars)
            .await
            .unwrap_or_else(|e| panic!("{source}: {e}"));
    }
    // A secret for the emulator's own Entra ID is fine too.
    let mut sp = cred_emulator::service_principal_env(&emu);
    sp.set("AZURE_AUTHORITY_HOST", own_authority);
    Resolver::builder()
        .emulator(format!("http://{}", emu.http_addr()))
        .connect(&sp)
        .await
        .unwrap();
}

/// An HTTP server posing as the emulator; `info` makes its info from the port it listens on.
async fn fake_emulator(info: impl FnOnce(u16) -> serde_json::Value) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let body = info(addr.port()).to_string();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let body = body.clone();
            tokio::spawn(async move {
                let mut buffer = [0u8; 4096];
                let _ = stream.read(&mut buffer).await;
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(answer.as_bytes()).await;
            });
        }
    });
    format!("http://{addr}")
}

/// Builds an info's `env.app_service` from the fake's port.
type AppServiceEnv = fn(u16) -> serde_json::Value;

#[tokio::test]
async fn the_emulators_info_cannot_set_credentials_or_send_them_away() {
    let emu = cred_emulator::start(Identities::ALL).await;
    let cases: [(AppServiceEnv, &str); 3] = [
        (
            |port| serde_json::json!({"IDENTITY_ENDPOINT": format!("http://127.0.0.1:{port}/msi/token"), "IDENTITY_HEADER": "h", "AZURE_CLIENT_SECRET": "x", "AZURE_AUTHORITY_HOST": "https://192.0.2.1/"}),
            "may set only IDENTITY_ENDPOINT and IDENTITY_HEADER",
        ),
        (
            |_| serde_json::json!({"IDENTITY_ENDPOINT": "http://192.0.2.1/msi/token", "IDENTITY_HEADER": "h"}),
            "own address",
        ),
        (
            |_| serde_json::json!({"IDENTITY_ENDPOINT": "https://login.example.net/msi/token", "IDENTITY_HEADER": "h"}),
            "own address",
        ),
    ];
    for (app_service, says) in cases {
        let url = fake_emulator(|port| {
            serde_json::json!({
                "https": emu.https_addr().to_string(),
                "ca_cert_pem": emu.ca_cert_pem(),
                "tenant_id": cred_emulator::TENANT,
                "env": {"app_service": app_service(port)},
            })
        })
        .await;
        let error = LocalEmulator::connect(&url).await.unwrap_err();
        assert!(error.to_string().contains(says), "{error}");
    }
}
