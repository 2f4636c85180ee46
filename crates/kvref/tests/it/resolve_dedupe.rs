//! 1,000 references over 4 vaults with 300 duplicates: exactly one GET per distinct secret, one
//! challenge per vault and one token request per identity and audience, counted in the
//! emulator's journal.

use std::collections::HashMap;

use crate::support::emu;
use kvref::resolve::ResolveStatus;
use secrecy::ExposeSecret;

const VAULTS: [&str; 4] = ["vaulta", "vaultb", "vaultc", "vaultd"];
const PER_VAULT: usize = 175; // 4 × 175 = 700 distinct secrets

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_references_fetch_each_distinct_secret_once() {
    let emu = emu::start(&emu::vaults_toml(&VAULTS, PER_VAULT)).await;
    let credential = emu::credential(&emu);
    let resolver = emu::resolver(&emu, credential.clone()).build().unwrap();

    let mut settings = Vec::new();
    let mut expected = HashMap::new();
    for (v, vault) in VAULTS.iter().enumerate() {
        for i in 0..PER_VAULT {
            let key = format!("K{v}_{i}");
            settings.push((
                key.clone(),
                format!(
                    "@Microsoft.KeyVault(SecretUri=https://{vault}.vault.azure.net/secrets/s{i}/)"
                ),
            ));
            expected.insert(key, format!("value-{vault}-{i}"));
        }
    }
    // 300 duplicates, written in every other form: VaultName, no trailing slash, other case.
    for d in 0..300 {
        let vault = VAULTS[d % 4];
        let i = d % PER_VAULT;
        let key = format!("D{d}");
        let value = match d % 3 {
            0 => format!("@KeyVault(VaultName={vault};SecretName=s{i})"),
            1 => format!(
                "@Microsoft.KeyVault(SecretUri=https://{}.vault.azure.net/secrets/S{i})",
                vault.to_uppercase()
            ),
            _ => format!(
                "  @microsoft.keyvault( secreturi = https://{vault}.vault.azure.net/secrets/s{i} )  "
            ),
        };
        settings.push((key.clone(), value));
        expected.insert(key, format!("value-{vault}-{i}"));
    }
    settings.push(("Plain".into(), "not a reference".into()));
    assert_eq!(settings.len(), 1001);

    let reports = std::sync::Mutex::new(Vec::new());
    let resolution = resolver
        .resolve_with_progress(settings.clone(), |p| reports.lock().unwrap().push(p))
        .await;
    assert_eq!(resolution.outcomes().len(), 1000);
    // Progress counts distinct secrets: 0 of 700 first, then one report per settled secret.
    let reports = reports.into_inner().unwrap();
    let distinct = VAULTS.len() * PER_VAULT;
    assert_eq!(reports.len(), distinct + 1);
    for (n, report) in reports.iter().enumerate() {
        assert_eq!((report.settled, report.total), (n, distinct));
    }
    for outcome in resolution.outcomes() {
        assert_eq!(
            outcome.status(),
            ResolveStatus::Resolved,
            "{}: {:?}",
            outcome.key(),
            outcome.message()
        );
        assert_eq!(
            outcome.value().unwrap().expose_secret(),
            expected[outcome.key()]
        );
        assert_eq!(outcome.resolved_version().map(str::len), Some(32));
    }

    let requests = emu::vault_requests(&emu).await;
    let authorized: Vec<_> = requests.iter().filter(|r| r.authorization).collect();
    let challenges: Vec<_> = requests.iter().filter(|r| !r.authorization).collect();
    assert_eq!(
        authorized.len(),
        VAULTS.len() * PER_VAULT,
        "one GET per distinct secret"
    );
    assert!(
        authorized
            .iter()
            .all(|r| r.status == 200 && r.method == "GET")
    );
    assert_eq!(challenges.len(), VAULTS.len(), "one challenge per vault");
    for vault in VAULTS {
        let host = format!("{vault}.vault.azure.net");
        assert_eq!(
            challenges
                .iter()
                .filter(|r| r.host.starts_with(&host))
                .count(),
            1,
            "{vault}"
        );
        assert!(challenges.iter().all(|r| r.status == 401));
    }
    assert!(
        requests
            .iter()
            .all(|r| r.query.contains("api-version=2025-07-01"))
    );
    assert_eq!(
        emu::token_requests(&emu).await,
        1,
        "one token for the identity and audience"
    );

    let applied = resolution.apply(settings).unwrap();
    assert_eq!(applied.len(), 1001);
    assert_eq!(applied.iter().filter(|(_, v)| v.is_secret()).count(), 1000);
}
