//! A 403 (identity without a role), a 404, a disabled secret, a missing version and an unknown
//! vault are all reported together, each with its status, the service's code and its fix; the
//! policies for unresolved references; and nothing printed ever holds a secret value.

use crate::support::emu;
use kvref::resolve::{ResolveStatus, SettingValue, UnresolvedPolicy};
use kvref_emulator::{Emulator, EmulatorConfig};
use secrecy::ExposeSecret;

const VALUES: [&str; 5] = [
    "db-password-from-the-emulator",
    "old-db-password",
    "api-key-from-the-emulator",
    "retired-token-value",
    "reporting-key-from-the-emulator",
];

fn settings() -> Vec<(String, String)> {
    [
        ("Db", "@Microsoft.KeyVault(SecretUri=https://myvault.vault.azure.net/secrets/DbPassword/)"),
        ("DbOld", "@Microsoft.KeyVault(VaultName=myvault;SecretName=DbPassword;SecretVersion=0a1b2c3d4e5f60718293a4b5c6d7e8f9)"),
        ("Denied", "@Microsoft.KeyVault(SecretUri=https://othervault.vault.azure.net/secrets/ReportingKey)"),
        ("Missing", "@Microsoft.KeyVault(SecretUri=https://myvault.vault.azure.net/secrets/NoSuchSecret)"),
        ("Disabled", "@KeyVault(VaultName=myvault;SecretName=RetiredToken)"),
        ("NoVersion", "@KeyVault(VaultName=myvault;SecretName=DbPassword;SecretVersion=ffffffffffffffffffffffffffffffff)"),
        ("UnknownVault", "@KeyVault(VaultName=nosuchvault;SecretName=DbPassword)"),
        ("Typo", "@KeyVault(VaultName=myvault;SecretNam=DbPassword)"),
        ("Plain", "plain value"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

async fn sample() -> Emulator {
    Emulator::start(EmulatorConfig::sample()).await.unwrap()
}

#[tokio::test]
async fn every_failure_is_reported_with_status_code_and_fix() {
    let emu = sample().await;
    let resolver = emu::resolver(&emu, emu::credential(&emu)).build().unwrap();
    let resolution = resolver.resolve(settings()).await;
    let outcome = |key: &str| {
        resolution
            .outcomes()
            .iter()
            .find(|o| o.key() == key)
            .unwrap()
    };

    assert_eq!(outcome("Db").status(), ResolveStatus::Resolved);
    assert_eq!(outcome("Db").value().unwrap().expose_secret(), VALUES[0]);
    assert_eq!(outcome("DbOld").value().unwrap().expose_secret(), VALUES[1]);
    assert_eq!(
        outcome("DbOld").resolved_version(),
        Some("0a1b2c3d4e5f60718293a4b5c6d7e8f9")
    );

    let expectations = [
        (
            "Denied",
            ResolveStatus::AccessToKeyVaultDenied,
            Some("ForbiddenByRbac"),
            "az role assignment create --role \"Key Vault Secrets User\" --assignee 9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d --scope $(az keyvault show --name othervault --query id -o tsv)",
        ),
        (
            "Missing",
            ResolveStatus::SecretNotFound,
            Some("SecretNotFound"),
            "check the vault URL and the secret name",
        ),
        (
            "Disabled",
            ResolveStatus::SecretDisabled,
            Some("SecretDisabled"),
            "az keyvault secret set-attributes --vault-name myvault --name RetiredToken --version <version> --enabled true",
        ),
        (
            "NoVersion",
            ResolveStatus::SecretVersionNotFound,
            Some("SecretNotFound"),
            "az keyvault secret list-versions --vault-name myvault --name DbPassword",
        ),
        (
            "UnknownVault",
            ResolveStatus::VaultNotFound,
            Some("VaultNotFound"),
            "check the vault name `nosuchvault`",
        ),
        (
            "Typo",
            ResolveStatus::InvalidSyntax,
            None,
            "@Microsoft.KeyVault(VaultName=<vault>;SecretName=<name>",
        ),
    ];
    for (key, status, code, fix) in expectations {
        let o = outcome(key);
        assert_eq!(o.status(), status, "{key}: {:?}", o.message());
        assert_eq!(o.error_code(), code, "{key}");
        assert!(o.fix().unwrap().contains(fix), "{key}: {:?}", o.fix());
        assert!(o.message().is_some(), "{key}");
        assert!(o.value().is_none());
    }
    assert!(resolution.outcomes().iter().all(|o| o.key() != "Plain"));
    assert!(!resolution.is_success());
    assert_eq!(resolution.failures().count(), 6);

    // The default policy fails, listing every failure at once, never a value.
    let error = resolution.apply(settings()).unwrap_err();
    assert!(error.is_unresolved() && error.is_access_denied() && error.is_not_found());
    let report = error.to_string();
    assert!(
        report.starts_with("6 Key Vault references could not be resolved:"),
        "{report}"
    );
    for (key, status, code, fix) in expectations {
        let line = report
            .lines()
            .find(|l| l.contains(&format!("setting `{key}`")))
            .unwrap_or_else(|| panic!("{key} in {report}"));
        assert!(line.contains(status.as_str()), "{line}");
        if let Some(code) = code {
            assert!(line.contains(code), "{line}");
        }
        assert!(report.contains(fix), "{fix}");
        assert_eq!(error.status_of(key), Some(status));
    }
    assert!(
        report.contains("(vault othervault.vault.azure.net, secret ReportingKey)"),
        "{report}"
    );
    for value in VALUES {
        assert!(!report.contains(value));
        assert!(!format!("{error:?}").contains(value));
        assert!(!format!("{resolution:?}").contains(value));
    }
}

#[tokio::test]
async fn unresolved_policies() {
    let emu = sample().await;
    for policy in [UnresolvedPolicy::KeepLiteral, UnresolvedPolicy::Drop] {
        let resolver = emu::resolver(&emu, emu::credential(&emu))
            .unresolved(policy)
            .build()
            .unwrap();
        let resolution = resolver.resolve(settings()).await;
        let applied = resolution.apply(settings()).unwrap();
        let get = |key: &str| applied.iter().find(|(k, _)| k == key).map(|(_, v)| v);
        assert!(
            matches!(get("Db"), Some(SettingValue::Secret(s)) if s.expose_secret() == VALUES[0])
        );
        assert!(matches!(get("Plain"), Some(SettingValue::Plain(p)) if p == "plain value"));
        match policy {
            UnresolvedPolicy::KeepLiteral => {
                assert_eq!(applied.len(), 9);
                let literal = settings()
                    .into_iter()
                    .find(|(k, _)| k == "Missing")
                    .unwrap()
                    .1;
                assert!(matches!(get("Missing"), Some(SettingValue::Plain(p)) if *p == literal));
            }
            _ => {
                assert_eq!(applied.len(), 3);
                assert!(get("Missing").is_none() && get("Typo").is_none());
            }
        }
    }
}

#[tokio::test]
async fn values_are_substituted_once_and_never_rescanned() {
    let emu = sample().await;
    let reference_looking =
        "@Microsoft.KeyVault(SecretUri=https://myvault.vault.azure.net/secrets/ApiKey)";
    emu.set_secret("myvault", "Nested", reference_looking).await;
    let resolver = emu::resolver(&emu, emu::credential(&emu)).build().unwrap();
    let settings = vec![(
        "Nested".to_string(),
        "@KeyVault(VaultName=myvault;SecretName=Nested)".to_string(),
    )];
    let applied = resolver
        .resolve(settings.clone())
        .await
        .apply(settings)
        .unwrap();
    assert_eq!(applied[0].1.expose(), reference_looking);
    let gets = emu::vault_requests(&emu)
        .await
        .into_iter()
        .filter(|r| r.authorization)
        .count();
    assert_eq!(gets, 1, "the secret's value was not resolved again");
}

#[tokio::test]
async fn api_version_is_configurable() {
    let emu = sample().await;
    let resolver = emu::resolver(&emu, emu::credential(&emu))
        .api_version("7.5")
        .build()
        .unwrap();
    let resolution = resolver
        .resolve(vec![(
            "Db",
            "@KeyVault(VaultName=myvault;SecretName=DbPassword)",
        )])
        .await;
    assert!(resolution.is_success());
    let requests = emu::vault_requests(&emu).await;
    assert!(!requests.is_empty());
    assert!(
        requests.iter().all(|r| r.query == "api-version=7.5"),
        "{requests:?}"
    );
}

#[tokio::test]
async fn an_unknown_vault_costs_one_request_however_many_references_name_it() {
    let emu = sample().await;
    let resolver = emu::resolver(&emu, emu::credential(&emu)).build().unwrap();
    let settings: Vec<(String, String)> = (0..50)
        .map(|i| {
            (
                format!("K{i}"),
                format!("@KeyVault(VaultName=nosuchvault;SecretName=s{i})"),
            )
        })
        .collect();
    let resolution = resolver.resolve(settings).await;
    assert!(
        resolution
            .outcomes()
            .iter()
            .all(|o| o.status() == ResolveStatus::VaultNotFound)
    );
    assert_eq!(emu::vault_requests(&emu).await.len(), 1);
    // A later resolution tries again: the vault may exist by then.
    resolver
        .resolve(vec![("K", "@KeyVault(VaultName=nosuchvault;SecretName=s)")])
        .await;
    assert_eq!(emu::vault_requests(&emu).await.len(), 2);
}
