//! `kvref resolve` in every format, and `kvref emulator` serving a `kvref check`.

use crate::support::*;

const SETTINGS_TOML: &str = r#"
name = "my-app"
port = 8080
[db]
password = "@Microsoft.KeyVault(VaultName=myvault;SecretName=DbPassword)"
hosts = ["a", "@Microsoft.KeyVault(VaultName=myvault;SecretName=ApiKey)"]
"#;

#[tokio::test(flavor = "multi_thread")]
async fn resolve_keeps_the_shape_and_redacts() {
    let emu = emulator().await;
    let version = emu
        .set_secret("myvault", "ApiKey", "cli-api-key-5a0f")
        .await;
    let files = Files::new();
    let toml_path = files.write("settings.toml", SETTINGS_TOML);
    let toml_path = toml_path.to_str().unwrap();

    // Default format follows the input: TOML in, TOML out.
    let output = kvref(Some(&emu), &["resolve", toml_path], &[]).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let back: toml::Table = toml::from_str(&stdout(&output)).unwrap();
    assert_eq!(back["name"].as_str(), Some("my-app"));
    assert_eq!(back["port"].as_integer(), Some(8080));
    let password = back["db"]["password"].as_str().unwrap();
    assert!(
        password.starts_with("<redacted: myvault/DbPassword@") && password.len() > 40,
        "{password}"
    );
    assert_eq!(back["db"]["hosts"][0].as_str(), Some("a"));
    assert_eq!(
        back["db"]["hosts"][1].as_str(),
        Some(format!("<redacted: myvault/ApiKey@{version}>").as_str())
    );

    let output = kvref(Some(&emu), &["resolve", toml_path, "--format", "env"], &[]).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let env_text = stdout(&output);
    assert!(
        env_text.contains(&format!(
            "DB__HOSTS__1=\"<redacted: myvault/ApiKey@{version}>\"\n"
        )),
        "{env_text}"
    );
    assert!(
        env_text.contains("NAME=my-app\n") && env_text.contains("PORT=8080\n"),
        "{env_text}"
    );

    let output = kvref(
        Some(&emu),
        &["resolve", toml_path, "--format", "json", "--show-secrets"],
        &[],
    )
    .await;
    let shown: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(shown["db"]["hosts"][1], "cli-api-key-5a0f");
    assert_eq!(shown["db"]["password"], "cli-db-password-current-7c1e");

    // A .env file keeps its names.
    let dotenv = files.write(
        "app.env",
        "DB_PASSWORD=@Microsoft.KeyVault(VaultName=myvault;SecretName=DbPassword)\nMODE=dev\n",
    );
    let output = kvref(
        Some(&emu),
        &["resolve", dotenv.to_str().unwrap(), "--show-secrets"],
        &[],
    )
    .await;
    assert_eq!(
        stdout(&output),
        "DB_PASSWORD=cli-db-password-current-7c1e\nMODE=dev\n"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn colliding_dotted_keys_each_get_their_own_secret() {
    let emu = emulator().await;
    emu.set_secret("myvault", "FlatKey", "cli-flat-secret-91d2")
        .await;
    emu.set_secret("myvault", "NestedKey", "cli-nested-secret-3b7e")
        .await;
    let files = Files::new();
    let path = files.write(
        "collide.json",
        r#"{"a.b": "@Microsoft.KeyVault(VaultName=myvault;SecretName=FlatKey)", "a": {"b": "@Microsoft.KeyVault(VaultName=myvault;SecretName=NestedKey)"}}"#,
    );
    let path = path.to_str().unwrap();

    let output = kvref(Some(&emu), &["resolve", path, "--show-secrets"], &[]).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let shown: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(shown["a.b"], "cli-flat-secret-91d2");
    assert_eq!(shown["a"]["b"], "cli-nested-secret-3b7e");

    let output = kvref(Some(&emu), &["check", path, "--format", "json"], &[]).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let rows = report["references"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{report}");
    let mut secrets: Vec<&str> = rows
        .iter()
        .map(|r| {
            assert_eq!(r["key"], "a.b");
            assert_eq!(r["status"], "Resolved");
            r["secret"].as_str().unwrap()
        })
        .collect();
    secrets.sort();
    assert_eq!(secrets, ["FlatKey", "NestedKey"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn resolve_with_a_failure_lists_it_and_exits_one() {
    let emu = emulator().await;
    let files = Files::new();
    let path = files.write(
        "settings.yaml",
        "ok: \"@Microsoft.KeyVault(VaultName=myvault;SecretName=DbPassword)\"\nlocked: \"@Microsoft.KeyVault(VaultName=lockedvault;SecretName=Locked)\"\n",
    );
    let output = kvref(
        Some(&emu),
        &["resolve", path.to_str().unwrap(), "--show-secrets"],
        &[],
    )
    .await;
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout(&output).is_empty(),
        "nothing half-resolved on stdout"
    );
    let err = stderr(&output);
    assert!(
        err.contains("setting `locked` (vault lockedvault.vault.azure.net, secret Locked): AccessToKeyVaultDenied"),
        "{err}"
    );
    assert!(err.contains("az role assignment create"), "{err}");
    assert_no_secret(&err);
}

#[tokio::test(flavor = "multi_thread")]
async fn emulator_subcommand_serves_a_check() {
    let files = Files::new();
    let config = files.write("emulator.toml", &config_toml(true));
    // Ports chosen on the command line are the ones it listens on.
    let free_port = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    };
    let (https_port, http_port) = (free_port().to_string(), free_port().to_string());
    let (mut child, ready) = spawn_emulator(
        &[
            "--config",
            config.to_str().unwrap(),
            "--https-port",
            &https_port,
            "--http-port",
            &http_port,
        ],
        files.path(),
    )
    .await;
    let http = format!("http://{}", ready["http"].as_str().unwrap());
    assert!(
        ready["https"].as_str().is_some() && ready["ca_cert"].as_str().is_some(),
        "{ready}"
    );

    let settings = files.settings_toml(&format!("db = \"{DB_PASSWORD_REF}\"\n"));
    let output = kvref(
        None,
        &["check", &settings, "--format", "json"],
        &[("KVREF_EMULATOR", http.as_str())],
    )
    .await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(rows(&report(&output))["db"]["status"], "Resolved");

    child.kill().await.unwrap();

    // A configuration that does not parse is a usage error naming the file.
    let bad = files.write("bad.toml", "tenant_id = 3\n");
    let output = kvref(None, &["emulator", "--config", bad.to_str().unwrap()], &[]).await;
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("bad.toml"), "{}", stderr(&output));
}
