//! The `kvref-emulator` binary: the ready line, a curl-style walk (challenge, App Service token,
//! secret), clean exit on SIGTERM, and a non-zero exit naming the line for a bad configuration.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use crate::support::json_body;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_kvref-emulator");

fn sample_path() -> String {
    format!(
        "{}/../../examples/emulator.toml",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// Kills the child if the test fails before it is stopped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn ready_line_then_challenge_token_secret() {
    let logs = tempfile::NamedTempFile::new().unwrap();
    let mut child = Command::new(BIN)
        .args(["--config", &sample_path()])
        .env("RUST_LOG", "trace")
        .stdout(Stdio::piped())
        .stderr(Stdio::from(logs.reopen().unwrap()))
        .spawn()
        .expect("spawn kvref-emulator");
    let stdout = child.stdout.take().expect("stdout");
    let mut running = Running(child);
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("ready line");
    let ready: Value = serde_json::from_str(&line).expect("ready line is JSON");
    let mut keys: Vec<&str> = ready
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, ["ca_cert", "env", "http", "https", "tenant_id"]);
    let env_keys: Vec<&str> = ready["env"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for source in kvref_emulator::SOURCES {
        assert!(env_keys.contains(&source), "{source}");
    }
    let https: std::net::SocketAddr = ready["https"].as_str().unwrap().parse().unwrap();

    // Like curl --cacert CA --resolve myvault.vault.azure.net:PORT:127.0.0.1
    let ca = std::fs::read(ready["ca_cert"].as_str().unwrap()).expect("CA file");
    let client = reqwest::Client::builder()
        .tls_certs_merge([reqwest::Certificate::from_pem(&ca).unwrap()])
        .resolve("myvault.vault.azure.net", https)
        .no_proxy()
        .build()
        .unwrap();
    let url = format!(
        "https://myvault.vault.azure.net:{}/secrets/DbPassword/?api-version=7.5",
        https.port()
    );
    let challenge = client.get(&url).send().await.unwrap();
    assert_eq!(challenge.status(), 401);
    assert!(
        challenge.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("resource=\"https://vault.azure.net\"")
    );

    let app = &ready["env"]["app_service"];
    let token: Value = json_body(
        client
            .get(format!(
                "{}?resource=https://vault.azure.net&api-version=2019-08-01",
                app["IDENTITY_ENDPOINT"].as_str().unwrap()
            ))
            .header(
                "X-IDENTITY-HEADER",
                app["IDENTITY_HEADER"].as_str().unwrap(),
            ),
    )
    .await;
    let access_token = token["access_token"].as_str().unwrap();
    let secret: Value = json_body(client.get(&url).bearer_auth(access_token)).await;
    assert_eq!(secret["value"], "db-password-from-the-emulator");

    // SIGTERM: a clean exit.
    let pid = running.0.id().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    let status = running.0.wait().expect("exit status");
    assert!(status.success(), "{status:?}");

    // Even at TRACE, the logs hold no token, secret value or identity header.
    let logs = std::fs::read_to_string(logs.path()).unwrap();
    assert!(logs.contains("listening"), "logs were captured");
    for needle in [
        access_token,
        "db-password-from-the-emulator",
        app["IDENTITY_HEADER"].as_str().unwrap(),
    ] {
        assert!(!logs.contains(needle), "logs leak {needle:.12}…");
    }
}

#[test]
fn bad_configuration_exits_non_zero_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "tenant_id = \"t\"\n[[vaults]]\nname = \"myvault\"\n[[vaults]]\nname = \"myvault\"\n",
    )
    .unwrap();
    let output = Command::new(BIN)
        .args(["--config", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(output.stdout.is_empty(), "no ready line");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("line 5") && stderr.contains("duplicate vault"),
        "{stderr}"
    );

    std::fs::write(&path, "tenant_id = \"t\"\nvalts = []\n").unwrap();
    let output = Command::new(BIN)
        .args(["--config", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("line 2") && stderr.contains("valts"),
        "{stderr}"
    );

    let output = Command::new(BIN)
        .args(["--config", "/nonexistent/emulator.toml"])
        .output()
        .unwrap();
    assert!(!output.status.success());
}

/// Runs curl (as an operator would) and returns (status, headers, body).
fn curl(args: &[&str]) -> (u16, String, Value) {
    let headers = tempfile::NamedTempFile::new().unwrap();
    let output = Command::new("curl")
        .args(["-sS", "--max-time", "10", "-D"])
        .arg(headers.path())
        .args(args)
        .output()
        .expect("curl is installed");
    assert!(
        output.status.success(),
        "curl failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let head = std::fs::read_to_string(headers.path()).unwrap();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    (status, head, body)
}

#[test]
fn curl_walks_the_challenge_then_gets_a_token_and_reads_a_secret() {
    let mut child = Command::new(BIN)
        .args(["--config", &sample_path()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn kvref-emulator");
    let stdout = child.stdout.take().expect("stdout");
    let _running = Running(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let ready: Value = serde_json::from_str(&line).unwrap();
    let port = ready["https"].as_str().unwrap().rsplit(':').next().unwrap();
    let ca = ready["ca_cert"].as_str().unwrap();
    // As the issue has it: --resolve with the port from the ready line.
    let resolve = format!("myvault.vault.azure.net:{port}:127.0.0.1");
    let url = format!("https://myvault.vault.azure.net:{port}/secrets/DbPassword/?api-version=7.5");

    let (status, head, body) = curl(&["--cacert", ca, "--resolve", &resolve, &url]);
    assert_eq!(status, 401);
    let challenge = head
        .lines()
        .find_map(|l| {
            l.strip_prefix("www-authenticate: ")
                .or_else(|| l.strip_prefix("WWW-Authenticate: "))
        })
        .expect("a WWW-Authenticate header");
    assert_eq!(
        challenge.trim_end(),
        format!(
            "Bearer authorization=\"https://login.microsoftonline.com/{}\", resource=\"https://vault.azure.net\"",
            ready["tenant_id"].as_str().unwrap()
        )
    );
    assert_eq!(body["error"]["code"], "Unauthorized");

    let app = &ready["env"]["app_service"];
    let token_url = format!(
        "{}?resource=https%3A%2F%2Fvault.azure.net&api-version=2019-08-01",
        app["IDENTITY_ENDPOINT"].as_str().unwrap()
    );
    let identity_header = format!(
        "X-IDENTITY-HEADER: {}",
        app["IDENTITY_HEADER"].as_str().unwrap()
    );
    let (status, _, token) = curl(&["-H", &identity_header, &token_url]);
    assert_eq!(status, 200);
    let bearer = format!(
        "Authorization: Bearer {}",
        token["access_token"].as_str().unwrap()
    );

    let (status, _, secret) = curl(&["--cacert", ca, "--resolve", &resolve, "-H", &bearer, &url]);
    assert_eq!(status, 200);
    assert_eq!(secret["value"], "db-password-from-the-emulator");
}
