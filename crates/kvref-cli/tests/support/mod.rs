//! Runs the real `kvref` binary against an in-process emulator, with a clean environment.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use kvref_emulator::{Emulator, EmulatorConfig};

pub(crate) const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
pub(crate) const SYSTEM_CLIENT_ID: &str = "3f1b2a4c-5d6e-4f70-8a9b-0c1d2e3f4a5b";
pub(crate) const UAMI_CLIENT_ID: &str = "6beb3ab0-6e28-4a92-8e5a-ce0d5abf3a8c";
pub(crate) const UAMI_OBJECT_ID: &str = "b1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f";
pub(crate) const UAMI_RESOURCE_ID: &str = "/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/kvref-rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/app-uami";
pub(crate) const PINNED_VERSION: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";
pub(crate) const DISABLED_VERSION: &str = "1b2c3d4e5f60718293a4b5c6d7e8f90a";

/// A reference to `myvault`'s `DbPassword`, readable by every identity of the configuration below.
pub(crate) const DB_PASSWORD_REF: &str =
    "@Microsoft.KeyVault(VaultName=myvault;SecretName=DbPassword)";

/// Every secret value of the configuration below: none may ever appear in output unless asked.
pub(crate) const SECRET_VALUES: [&str; 5] = [
    "cli-db-password-current-7c1e",
    "cli-db-password-old-2b9d",
    "cli-api-key-5a0f",
    "cli-disabled-value-9e3c",
    "cli-locked-value-4d21",
];

/// The emulator configuration of the CLI tests: the system identity, `app-uami` and the `ci`
/// service principal may read `myvault`; nobody has a role on `lockedvault` (every read is 403).
pub(crate) fn config_toml(with_system_identity: bool) -> String {
    let (system, system_role) = if with_system_identity {
        (
            format!(
                "[system_identity]\nclient_id = \"{SYSTEM_CLIENT_ID}\"\nobject_id = \"9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d\"\n"
            ),
            "[[role_assignments]]\nprincipal = \"system\"\nvault = \"myvault\"\nrole = \"Key Vault Secrets User\"\n",
        )
    } else {
        (String::new(), "")
    };
    format!(
        r#"
tenant_id = "{TENANT}"
token_lifetime_secs = 86400
{system}
[[user_assigned_identities]]
name = "app-uami"
client_id = "{UAMI_CLIENT_ID}"
object_id = "{UAMI_OBJECT_ID}"
resource_id = "{UAMI_RESOURCE_ID}"

[[service_principals]]
name = "ci"
client_id = "0e1f2a3b-4c5d-4e6f-9a0b-1c2d3e4f5a6b"
object_id = "5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d"
client_secret = "cli-test-client-secret-not-real"
federated_token = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJjbGktdGVzdCJ9."

[[vaults]]
name = "myvault"

[[vaults.secrets]]
name = "DbPassword"

[[vaults.secrets.versions]]
version = "{PINNED_VERSION}"
value = "cli-db-password-old-2b9d"

[[vaults.secrets.versions]]
value = "cli-db-password-current-7c1e"

[[vaults.secrets]]
name = "ApiKey"

[[vaults.secrets.versions]]
value = "cli-api-key-5a0f"

[[vaults.secrets]]
name = "Retired"

[[vaults.secrets.versions]]
version = "{DISABLED_VERSION}"
value = "cli-disabled-value-9e3c"
enabled = false

[[vaults]]
name = "lockedvault"

[[vaults.secrets]]
name = "Locked"

[[vaults.secrets.versions]]
value = "cli-locked-value-4d21"

{system_role}
[[role_assignments]]
principal = "app-uami"
vault = "myvault"
role = "Key Vault Secrets User"

[[role_assignments]]
principal = "ci"
vault = "myvault"
role = "Key Vault Secrets User"
"#
    )
}

pub(crate) async fn emulator() -> Emulator {
    start(true).await
}

pub(crate) async fn start(with_system_identity: bool) -> Emulator {
    let config = EmulatorConfig::from_toml_str(&config_toml(with_system_identity)).unwrap();
    Emulator::start(config).await.unwrap()
}

/// A temporary folder with settings files in it.
pub(crate) struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    pub(crate) fn new() -> Files {
        Files {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub(crate) fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Writes `settings.toml` and returns its path as an argument for `kvref`.
    pub(crate) fn settings_toml(&self, text: &str) -> String {
        let path = self.write("settings.toml", text);
        path.to_str().unwrap().to_owned()
    }

    /// Writes a `settings.toml` whose only setting, `password`, is [`DB_PASSWORD_REF`].
    pub(crate) fn password_settings(&self) -> String {
        self.settings_toml(&format!("password = \"{DB_PASSWORD_REF}\"\n"))
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// Runs `kvref ARGS` with only PATH, HOME, `KVREF_EMULATOR` pointing at `emu` (when given) and
/// `env`.
pub(crate) async fn kvref(emu: Option<&Emulator>, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_kvref"));
    command.args(args).env_clear();
    for name in ["PATH", "HOME"] {
        if let Some(value) = std::env::var_os(name) {
            command.env(name, value);
        }
    }
    if let Some(emu) = emu {
        command.env("KVREF_EMULATOR", format!("http://{}", emu.http_addr()));
    }
    for (name, value) in env {
        command.env(name, value);
    }
    command.kill_on_drop(true).output().await.unwrap()
}

/// Runs `kvref check SETTINGS --format json EXTRA_ARGS` (see [`kvref`]).
pub(crate) async fn check_json(
    emu: &Emulator,
    settings: &str,
    extra_args: &[&str],
    env: &[(&str, &str)],
) -> Output {
    let mut args = vec!["check", settings, "--format", "json"];
    args.extend_from_slice(extra_args);
    kvref(Some(emu), &args, env).await
}

pub(crate) fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub(crate) fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The `kvref check --format json` report, or a panic showing what came out instead.
pub(crate) fn report(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON report ({e}); exit {:?}\nstdout:\n{}\nstderr:\n{}",
            output.status.code(),
            stdout(output),
            stderr(output)
        )
    })
}

/// The report's rows by setting key.
pub(crate) fn rows(report: &serde_json::Value) -> BTreeMap<String, serde_json::Value> {
    report["references"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| (row["key"].as_str().unwrap().to_owned(), row.clone()))
        .collect()
}

/// The environment the emulator gives for an identity source.
pub(crate) fn source_env(emu: &Emulator, source: &str) -> Vec<(String, String)> {
    emu.env(source).into_iter().collect()
}

pub(crate) fn pairs(vars: &[(String, String)]) -> Vec<(&str, &str)> {
    vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

pub(crate) fn assert_no_secret(text: &str) {
    for value in SECRET_VALUES {
        assert!(
            !text.contains(value),
            "secret value {value} in output:\n{text}"
        );
    }
}

/// Starts `kvref emulator ARGS` in `dir` with only PATH set, and returns it with its ready line.
pub(crate) async fn spawn_emulator(
    args: &[&str],
    dir: &Path,
) -> (tokio::process::Child, serde_json::Value) {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_kvref"))
        .arg("emulator")
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = lines.next_line().await.unwrap().expect("a ready line");
    (child, serde_json::from_str(&line).unwrap())
}
