//! A 403 (identity without a role), a 404, a disabled secret, a missing version and an unknown
//! vault are all reported together, each with its status, the service's code and its fix; the
//! policies for unresolved references; and nothing printed ever holds a secret value.

use crate::support::emu;
use kvref::{ResolveStatus, UnresolvedPolicy};
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
    let error = resolution.clone().into_result().unwrap_err();
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
        let resolved = resolver.resolve(settings()).await.into_result().unwrap();
        let index_of = |key: &str| settings().iter().position(|(k, _)| k == key).unwrap();
        let secret_of = |key: &str| {
            resolved
                .secrets()
                .find(|(i, _, _)| *i == index_of(key))
                .map(|(_, _, s)| s.expose_secret().to_owned())
        };
        assert_eq!(secret_of("Db").as_deref(), Some(VALUES[0]));
        // A plain setting is no outcome at all: the caller keeps it as it is.
        assert!(
            resolved
                .outcomes()
                .iter()
                .all(|o| o.index() != index_of("Plain"))
        );
        let failed: Vec<usize> = resolved
            .outcomes()
            .iter()
            .filter(|o| !o.status().is_resolved())
            .map(|o| o.index())
            .collect();
        assert_eq!(failed.len(), 6);
        let (kept, dropped): (Vec<usize>, Vec<usize>) = (
            resolved.kept_literal().collect(),
            resolved.dropped().collect(),
        );
        match policy {
            UnresolvedPolicy::KeepLiteral => {
                assert_eq!((kept, dropped), (failed, vec![]));
                assert!(secret_of("Missing").is_none());
            }
            _ => {
                assert_eq!((kept, dropped), (vec![], failed));
                assert!(secret_of("Missing").is_none() && secret_of("Typo").is_none());
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
    let resolved = resolver
        .resolve([("Nested", "@KeyVault(VaultName=myvault;SecretName=Nested)")])
        .await
        .into_result()
        .unwrap();
    let (_, _, value) = resolved.secrets().next().unwrap();
    assert_eq!(value.expose_secret(), reference_looking);
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
