//! At RUST_LOG=trace (and RUST_BACKTRACE=1), no command prints a secret value, a token or an identity header, unless
//! `kvref resolve --show-secrets` asks for the values.

use crate::support::*;

const SETTINGS: &str = r#"
[db]
password = "@Microsoft.KeyVault(VaultName=myvault;SecretName=DbPassword)"
old = "@Microsoft.KeyVault(VaultName=myvault;SecretName=DbPassword;SecretVersion=0a1b2c3d4e5f60718293a4b5c6d7e8f9)"
api = "@KeyVault(SecretUri=https://myvault.vault.azure.net/secrets/ApiKey)"
"#;

const FAILING: &str = r#"
disabled = "@Microsoft.KeyVault(VaultName=myvault;SecretName=Retired;SecretVersion=1b2c3d4e5f60718293a4b5c6d7e8f90a)"
locked = "@Microsoft.KeyVault(VaultName=lockedvault;SecretName=Locked)"
"#;

#[tokio::test(flavor = "multi_thread")]
async fn nothing_secret_at_trace_level() {
    let emu = emulator().await;
    let files = Files::new();
    let good = files.write("settings.toml", SETTINGS);
    let good = good.to_str().unwrap();
    let failing = files.write("failing.toml", FAILING);
    let failing = failing.to_str().unwrap();
    let app_service = source_env(&emu, "app_service");
    let identity_header = app_service
        .iter()
        .find(|(k, _)| k == "IDENTITY_HEADER")
        .map(|(_, v)| v.clone())
        .expect("the App Service environment has an IDENTITY_HEADER");

    let mut all = String::new();
    for (args, code) in [
        (vec!["check", good], 0),
        (vec!["check", good, "--format", "json"], 0),
        (vec!["check", failing, "--format", "json"], 1),
        (vec!["check", failing], 1),
        (vec!["resolve", good], 0),
        (vec!["resolve", good, "--format", "json"], 0),
        (vec!["resolve", good, "--format", "toml"], 0),
        (vec!["resolve", good, "--format", "env"], 0),
        (vec!["resolve", failing, "--format", "env"], 1),
    ] {
        // RUST_BACKTRACE=1 too: a backtrace printed with an error must not carry a value either.
        for env in [vec![("RUST_LOG", "trace"), ("RUST_BACKTRACE", "1")], {
            let mut with_source = pairs(&app_service);
            with_source.extend([("RUST_LOG", "trace"), ("RUST_BACKTRACE", "1")]);
            with_source
        }] {
            let output = kvref(Some(&emu), &args, &env).await;
            assert_eq!(
                output.status.code(),
                Some(code),
                "{args:?}: {}",
                stderr(&output)
            );
            all.push_str(&stdout(&output));
            all.push_str(&stderr(&output));
        }
    }
    assert!(all.contains("TRACE"), "trace logging is on");
    assert_no_secret(&all);
    assert!(!all.contains(&identity_header), "identity header in output");
    // Emulator tokens are JWTs; none may be printed (the configuration's federated token is not
    // used by these runs).
    assert!(!all.contains("eyJ"), "a token in output");
    // Redacted values name what they stand for.
    assert!(
        all.contains("<redacted: myvault/DbPassword@0a1b2c3d4e5f60718293a4b5c6d7e8f9>"),
        "{all}"
    );

    let output = kvref(
        Some(&emu),
        &["resolve", good, "--format", "json", "--show-secrets"],
        &[("RUST_LOG", "trace")],
    )
    .await;
    assert_eq!(output.status.code(), Some(0));
    let shown: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(shown["db"]["password"], "cli-db-password-current-7c1e");
    assert_eq!(shown["db"]["old"], "cli-db-password-old-2b9d");
    assert_eq!(shown["db"]["api"], "cli-api-key-5a0f");
    // Only stdout holds them, where they were asked for; the logs still do not.
    assert_no_secret(&stderr(&output));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_emulator_command_at_trace_level_prints_no_secret_value() {
    use std::process::Stdio;
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

    let files = Files::new();
    let config = files.write("emulator.toml", &config_toml(true));
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_kvref"))
        .args(["emulator", "--config", config.to_str().unwrap()])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("RUST_LOG", "trace")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // Drain the emulator's log while it runs: at TRACE level it writes more than a pipe holds, and
    // an undrained pipe would stall the emulator mid-request.
    let mut stderr_pipe = child.stderr.take().unwrap();
    let emulator_log = tokio::spawn(async move {
        let mut log = String::new();
        stderr_pipe.read_to_string(&mut log).await.map(|_| log)
    });
    let mut stdout_lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let ready_line = stdout_lines.next_line().await.unwrap().unwrap();
    let ready: serde_json::Value = serde_json::from_str(&ready_line).unwrap();
    let http = format!("http://{}", ready["http"].as_str().unwrap());

    let settings = files.write("settings.toml", SETTINGS);
    let output = kvref(
        None,
        &["check", settings.to_str().unwrap()],
        &[("KVREF_EMULATOR", http.as_str()), ("RUST_LOG", "trace")],
    )
    .await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));

    child.kill().await.unwrap();
    let emulator_log = emulator_log.await.unwrap().unwrap();
    let mut rest = String::new();
    while let Ok(Some(line)) = stdout_lines.next_line().await {
        rest.push_str(&line);
    }
    assert_no_secret(&(ready_line + &rest + &emulator_log + &stdout(&output) + &stderr(&output)));
}
