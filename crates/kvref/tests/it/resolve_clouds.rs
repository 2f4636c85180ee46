//! Vaults in the China and US Government clouds: `SecretUri` works out of the box, `VaultName`
//! follows the configured default suffix, and each token is asked for the cloud's own audience.

use crate::support::emu;
use kvref::resolve::ResolveStatus;
use secrecy::ExposeSecret;

const TOML: &str = r#"
tenant_id = "72f988bf-86f1-41af-91ab-2d7cd011db47"

[system_identity]
client_id = "3f1b2a4c-5d6e-4f70-8a9b-0c1d2e3f4a5b"
object_id = "9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d"

[[vaults]]
name = "cnvault"
cloud = "china"

[[vaults.secrets]]
name = "Db"

[[vaults.secrets.versions]]
value = "china-value"

[[vaults]]
name = "govvault"
cloud = "usgov"

[[vaults.secrets]]
name = "Db"

[[vaults.secrets.versions]]
value = "usgov-value"

[[role_assignments]]
principal = "system"
vault = "cnvault"
role = "Key Vault Secrets User"

[[role_assignments]]
principal = "system"
vault = "govvault"
role = "Key Vault Secrets User"
"#;

#[tokio::test]
async fn sovereign_clouds_resolve_with_their_own_audience() {
    let emu = emu::start(TOML).await;
    let credential = emu::credential(&emu);
    let resolver = emu::resolver(&emu, credential.clone())
        .default_vault_suffix(".vault.azure.cn")
        .build()
        .unwrap();
    let resolution = resolver
        .resolve(vec![
            ("Cn", "@KeyVault(VaultName=cnvault;SecretName=Db)"),
            (
                "Gov",
                "@KeyVault(SecretUri=https://govvault.vault.usgovcloudapi.net/secrets/Db)",
            ),
            // The default suffix moved: a bare VaultName no longer means the public cloud.
            ("Public", "@KeyVault(VaultName=govvault;SecretName=Db)"),
        ])
        .await;
    let outcome = |key: &str| {
        resolution
            .outcomes()
            .iter()
            .find(|o| o.key() == key)
            .unwrap()
    };
    assert_eq!(
        outcome("Cn").value().unwrap().expose_secret(),
        "china-value"
    );
    assert_eq!(
        outcome("Cn").reference().unwrap().vault_host(),
        "cnvault.vault.azure.cn"
    );
    assert_eq!(
        outcome("Gov").value().unwrap().expose_secret(),
        "usgov-value"
    );
    assert_eq!(outcome("Public").status(), ResolveStatus::VaultNotFound);
    // One token per audience: vault.azure.cn and vault.usgovcloudapi.net.
    assert_eq!(credential.calls(), 2);
    assert_eq!(emu::token_requests(&emu).await, 2);
}

#[tokio::test]
async fn invalid_configuration_is_reported() {
    let emu = emu::start(TOML).await;
    for builder in [
        emu::resolver(&emu, emu::credential(&emu)).allow_vault_suffix(".net"),
        emu::resolver(&emu, emu::credential(&emu)).default_vault_suffix("bad suffix"),
        emu::resolver(&emu, emu::credential(&emu)).concurrency_per_vault(0),
        kvref::resolve::Resolver::builder(),
    ] {
        let error = builder.build().unwrap_err();
        assert!(
            error.is_configuration() && !error.is_unresolved(),
            "{error}"
        );
        assert!(
            error
                .to_string()
                .starts_with("invalid kvref configuration: "),
            "{error}"
        );
    }
}
