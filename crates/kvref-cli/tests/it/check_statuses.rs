//! `kvref check` on settings mixing good references, every failure the emulator can produce and
//! malformed references: the right status, error code and fix per row, in JSON and in the table,
//! and the exit codes.

use crate::support::*;
use kvref_emulator::{Endpoint, Fault};

const MISSING_VERSION: &str = "ffffffffffffffffffffffffffffffff";

fn mixed_toml() -> String {
    format!(
        r#"
name = "my-app"
port = 8080
plain_password = "not-a-reference-plain-1f2e"

[db]
password = "@Microsoft.KeyVault(VaultName=myvault;SecretName=DbPassword)"
old_password = "@Microsoft.KeyVault(SecretUri=https://myvault.vault.azure.net/secrets/DbPassword/{PINNED_VERSION})"
missing = "@Microsoft.KeyVault(VaultName=myvault;SecretName=NoSuchSecret)"
missing_version = "@Microsoft.KeyVault(SecretUri=https://myvault.vault.azure.net/secrets/DbPassword/{MISSING_VERSION})"
disabled = "@Microsoft.KeyVault(SecretUri=https://myvault.vault.azure.net/secrets/Retired/{DISABLED_VERSION})"
locked = "@Microsoft.KeyVault(VaultName=lockedvault;SecretName=Locked)"
unknown_vault = "@Microsoft.KeyVault(VaultName=nosuchvault;SecretName=Anything)"
foreign = "@Microsoft.KeyVault(SecretUri=https://myvault.evil.example/secrets/DbPassword)"

[[hosts]]
token = "@KeyVault(SecretUri=https://myvault.vault.azure.net/secrets/ApiKey/)"
[[hosts]]
broken = "@Microsoft.KeyVault(SecretUri=https://myvault.vault.azure.net/secrets/)"
"#
    )
}

const MIXED_YAML: &str = "
service:
  keys:
    - \"@Microsoft.KeyVault(VaultName=myvault;SecretName=ApiKey)\"
    - \"@Microsoft.KeyVault(VaultName=myvault)\"
";

const MIXED_JSON: &str = r#"{"Logging": {"Level": "Info"}, "ConnectionStrings": {"Reporting": "@Microsoft.KeyVault(VaultName=myvault;SecretName=DbPassword;SecretVersion=0a1b2c3d4e5f60718293a4b5c6d7e8f9)"}}"#;

const MIXED_ENV: &str = "# local overrides\nAPI_KEY=@Microsoft.KeyVault(VaultName=myvault;SecretName=ApiKey)\nPLAIN=hello\n";

/// What one row must say.
struct Expected {
    key: &'static str,
    source_suffix: &'static str,
    status: &'static str,
    code: Option<&'static str>,
    fix_words: &'static [&'static str],
}

fn expectations() -> Vec<Expected> {
    vec![
        expect("db.password", "settings.toml", "Resolved", None, &[]),
        expect("db.old_password", "settings.toml", "Resolved", None, &[]),
        expect(
            "db.missing",
            "settings.toml",
            "SecretNotFound",
            Some("SecretNotFound"),
            &["NoSuchSecret"],
        ),
        expect(
            "db.missing_version",
            "settings.toml",
            "SecretVersionNotFound",
            Some("SecretNotFound"),
            &["version"],
        ),
        expect(
            "db.disabled",
            "settings.toml",
            "SecretDisabled",
            Some("SecretDisabled"),
            &["enable"],
        ),
        expect(
            "db.locked",
            "settings.toml",
            "AccessToKeyVaultDenied",
            Some("ForbiddenByRbac"),
            &[
                "az role assignment create",
                "Key Vault Secrets User",
                "lockedvault",
            ],
        ),
        expect(
            "db.unknown_vault",
            "settings.toml",
            "VaultNotFound",
            None,
            &["nosuchvault"],
        ),
        expect("db.foreign", "settings.toml", "VaultNotAllowed", None, &[]),
        expect("hosts[0].token", "settings.toml", "Resolved", None, &[]),
        expect(
            "hosts[1].broken",
            "settings.toml",
            "InvalidSyntax",
            None,
            &[],
        ),
        expect("service.keys[0]", "settings.yaml", "Resolved", None, &[]),
        expect(
            "service.keys[1]",
            "settings.yaml",
            "InvalidSyntax",
            None,
            &[],
        ),
        expect(
            "ConnectionStrings.Reporting",
            "appsettings.json",
            "Resolved",
            None,
            &[],
        ),
        expect("api_key", ".env", "Resolved", None, &[]),
        expect("db.from_env", "env:APP_DB__FROM_ENV", "Resolved", None, &[]),
    ]
}

fn expect(
    key: &'static str,
    source_suffix: &'static str,
    status: &'static str,
    code: Option<&'static str>,
    fix_words: &'static [&'static str],
) -> Expected {
    Expected {
        key,
        source_suffix,
        status,
        code,
        fix_words,
    }
}

async fn run_mixed(emu: &kvref_emulator::Emulator, format: &str) -> (std::process::Output, Files) {
    let files = Files::new();
    let toml = files.write("settings.toml", &mixed_toml());
    let yaml = files.write("settings.yaml", MIXED_YAML);
    let json = files.write("appsettings.json", MIXED_JSON);
    let dotenv = files.write(".env", MIXED_ENV);
    let args = [
        "check",
        toml.to_str().unwrap(),
        yaml.to_str().unwrap(),
        json.to_str().unwrap(),
        dotenv.to_str().unwrap(),
        "--env",
        "APP_",
        "--format",
        format,
    ];
    let env = [
        (
            "APP_DB__FROM_ENV",
            "@Microsoft.KeyVault(VaultName=myvault;SecretName=DbPassword)",
        ),
        ("APP_PLAIN", "plain"),
        (
            "OTHER_SECRET",
            "@Microsoft.KeyVault(VaultName=myvault;SecretName=NotScanned)",
        ),
    ];
    let output = kvref(Some(emu), &args, &env).await;
    (output, files)
}

#[tokio::test(flavor = "multi_thread")]
async fn json_report_has_the_right_status_code_and_fix_per_row() {
    let emu = emulator().await;
    let (output, _files) = run_mixed(&emu, "json").await;
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let report = report(&output);
    let rows = rows(&report);
    let expected = expectations();
    // Rows come in the order the settings were found: file by file as given, then the
    // environment.
    let ranks: Vec<usize> = report["references"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            let source = row["source"].as_str().unwrap();
            if source.starts_with("env:") {
                4
            } else {
                ["settings.toml", "settings.yaml", "appsettings.json", ".env"]
                    .iter()
                    .position(|name| source.ends_with(name))
                    .unwrap_or_else(|| panic!("unexpected source {source}"))
            }
        })
        .collect();
    assert!(ranks.is_sorted(), "rows out of input order: {ranks:?}");
    assert_eq!(ranks.first(), Some(&0), "{ranks:?}");
    assert_eq!(ranks.last(), Some(&4), "{ranks:?}");
    assert_eq!(
        rows.keys().collect::<Vec<_>>().len(),
        expected.len(),
        "rows: {:?}",
        rows.keys().collect::<Vec<_>>()
    );
    for Expected {
        key,
        source_suffix: source,
        status,
        code,
        fix_words,
    } in &expected
    {
        let row = rows.get(*key).unwrap_or_else(|| panic!("no row for {key}"));
        assert!(
            row["source"].as_str().unwrap().ends_with(source),
            "{key}: {row}"
        );
        assert_eq!(row["status"], *status, "{key}: {row}");
        if let Some(code) = code {
            assert_eq!(row["error_code"], *code, "{key}: {row}");
        }
        if *status == "Resolved" {
            assert!(
                row["resolved_version"]
                    .as_str()
                    .is_some_and(|v| v.len() == 32),
                "{key}: {row}"
            );
            assert!(row["fix"].is_null(), "{key}: {row}");
            assert!(row["error_code"].is_null(), "{key}: {row}");
        } else {
            let fix = row["fix"]
                .as_str()
                .unwrap_or_else(|| panic!("{key} has no fix: {row}"));
            for word in *fix_words {
                assert!(fix.contains(word), "{key}: fix lacks {word:?}: {fix}");
            }
            assert!(
                row["message"].as_str().is_some_and(|m| !m.is_empty()),
                "{key}: {row}"
            );
        }
    }
    // Canonical references, vault and secret split out; the version asked is shown.
    let pinned = &rows["db.old_password"];
    assert_eq!(pinned["vault"], "myvault");
    assert_eq!(pinned["secret"], "DbPassword");
    assert_eq!(pinned["version"], PINNED_VERSION);
    assert_eq!(pinned["resolved_version"], PINNED_VERSION);
    assert_eq!(
        rows["hosts[0].token"]["reference"],
        "@Microsoft.KeyVault(SecretUri=https://myvault.vault.azure.net/secrets/ApiKey)"
    );
    assert!(rows["db.password"]["version"].is_null());
    // A malformed reference has no canonical form and no vault or secret.
    for key in ["hosts[1].broken", "service.keys[1]"] {
        assert!(rows[key]["reference"].is_null(), "{}", rows[key]);
        assert!(rows[key]["vault"].is_null(), "{}", rows[key]);
    }
    assert_eq!(report["summary"]["total"], expected.len());
    assert_eq!(report["summary"]["resolved"], 7);
    assert_eq!(report["summary"]["failed"], expected.len() - 7);
    assert_no_secret(&(stdout(&output) + &stderr(&output)));
    assert!(!stdout(&output).contains("not-a-reference-plain-1f2e"));
    assert!(
        !stdout(&output).contains("NotScanned"),
        "variables without the prefix are not scanned"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn table_shows_the_same_rows() {
    let emu = emulator().await;
    let (output, _files) = run_mixed(&emu, "table").await;
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let table = stdout(&output);
    let lines: Vec<&str> = table.lines().collect();
    let header = lines[0];
    for column in [
        "KEY", "SOURCE", "VAULT", "SECRET", "VERSION", "STATUS", "RESOLVED", "CODE", "FIX",
    ] {
        assert!(header.contains(column), "{header}");
    }
    let status_at = header.find("STATUS").unwrap();
    let code_at = header.find("CODE").unwrap();
    let fix_at = header.find("FIX").unwrap();
    for Expected {
        key,
        status,
        code,
        fix_words,
        ..
    } in expectations()
    {
        let line = lines
            .iter()
            .find(|l| l.split_whitespace().next() == Some(key))
            .unwrap_or_else(|| panic!("no row for {key}:\n{table}"));
        assert_eq!(
            line[status_at..].split_whitespace().next(),
            Some(status),
            "{line}"
        );
        if let Some(code) = code {
            assert_eq!(
                line[code_at..].split_whitespace().next(),
                Some(code),
                "{line}"
            );
        }
        for word in fix_words {
            assert!(line[fix_at..].contains(word), "{key}: {line}");
        }
    }
    assert!(
        table.contains(&format!(
            "{} references: 7 resolved, {} failed",
            expectations().len(),
            expectations().len() - 7
        )),
        "{table}"
    );
    assert_no_secret(&(table + &stderr(&output)));
}

#[tokio::test(flavor = "multi_thread")]
async fn all_resolved_exits_zero() {
    let emu = emulator().await;
    let files = Files::new();
    let settings = files.settings_toml(&format!("db = \"{DB_PASSWORD_REF}\"\nplain = 1\n"));
    for format in ["table", "json"] {
        let output = kvref(Some(&emu), &["check", &settings, "--format", format], &[]).await;
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}{}",
            stdout(&output),
            stderr(&output)
        );
    }
    // No reference at all is a success too.
    let empty = files.write("empty.json", "{\"a\": \"b\"}");
    let output = check_json(&emu, empty.to_str().unwrap(), &[], &[]).await;
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(report(&output)["summary"]["total"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn usage_errors_exit_two() {
    let emu = emulator().await;
    let files = Files::new();
    let ini = files.write("settings.ini", "a=b\n");
    let bad_toml = files.write("bad.toml", "password = \"plain-in-broken-file-8d7c\nx =");
    let missing = files.path().join("missing.toml");
    let good = files.write("good.toml", "a = \"b\"\n");
    for (args, says) in [
        (vec!["check"], "FILE"),
        (
            vec!["check", good.to_str().unwrap(), "--format", "xml"],
            "xml",
        ),
        (
            vec![
                "check",
                good.to_str().unwrap(),
                "--client-id",
                "a",
                "--object-id",
                "b",
            ],
            "cannot be used with",
        ),
        (
            vec!["check", ini.to_str().unwrap()],
            "unknown settings format",
        ),
        (vec!["check", bad_toml.to_str().unwrap()], "not valid TOML"),
        (vec!["check", missing.to_str().unwrap()], "cannot read"),
        (vec!["resolve"], "FILE"),
        (vec!["nonsense"], "nonsense"),
    ] {
        let output = kvref(Some(&emu), &args, &[]).await;
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains(says),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(!stderr(&output).contains("plain-in-broken-file-8d7c"));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn throttled_past_the_budget() {
    let emu = emulator().await;
    emu.add_fault(Fault {
        endpoint: Endpoint::KeyVault,
        status: Some(429),
        // Key Vault asks for a wait longer than the whole budget: kvref gives up at once with
        // the throttling answer instead of waiting in vain.
        headers: [("Retry-After".to_owned(), "30".to_owned())].into(),
        // Key Vault's own throttling body.
        body: Some(serde_json::json!({"error": {"code": "Throttled", "message":
            "Request was not processed because too many requests were received. Reason: \
             Too many requests. Retry after 30 seconds."}})),
        times: None,
        ..Fault::default()
    })
    .await;
    let files = Files::new();
    let settings = files.settings_toml(&format!("db = \"{DB_PASSWORD_REF}\"\n"));
    let output = check_json(&emu, &settings, &["--timeout", "1"], &[]).await;
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let rows = rows(&report(&output));
    let row = &rows["db"];
    assert_eq!(row["status"], "Throttled", "{row}");
    assert_eq!(row["error_code"], "Throttled", "{row}");
    assert!(row["fix"].as_str().is_some_and(|f| !f.is_empty()), "{row}");
    let keyvault_429 = emu
        .requests()
        .await
        .into_iter()
        .filter(|e| e.endpoint == Endpoint::KeyVault && e.status == 429)
        .count();
    assert!(
        keyvault_429 >= 1,
        "Key Vault was asked: {keyvault_429} throttled requests"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn identity_unavailable_when_the_app_has_no_identity() {
    let emu = start(false).await;
    let files = Files::new();
    let settings = files.settings_toml(&format!(
        "db = \"{DB_PASSWORD_REF}\"\napi = \"@Microsoft.KeyVault(VaultName=myvault;SecretName=ApiKey)\"\n"
    ));
    let output = check_json(&emu, &settings, &[], &[]).await;
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let report = report(&output);
    for (key, row) in rows(&report) {
        assert_eq!(row["status"], "MSINotEnabled", "{key}: {row}");
        let fix = row["fix"].as_str().unwrap_or_default();
        assert!(fix.contains("identity"), "{key}: {fix}");
    }
    assert_eq!(report["summary"]["failed"], 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn identity_unavailable_for_an_unknown_user_assigned_identity() {
    let emu = emulator().await;
    let files = Files::new();
    let settings = files.settings_toml(&format!("db = \"{DB_PASSWORD_REF}\"\n"));
    let output = check_json(
        &emu,
        &settings,
        &["--client-id", "00000000-0000-0000-0000-00000000dead"],
        &[],
    )
    .await;
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let rows = rows(&report(&output));
    assert_eq!(rows["db"]["status"], "MSINotEnabled", "{}", rows["db"]);
    assert!(rows["db"]["fix"].as_str().is_some_and(|f| !f.is_empty()));
}
