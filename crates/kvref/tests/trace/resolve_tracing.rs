//! At TRACE level, the tracing output of a resolution names vaults, secrets, statuses and
//! attempts, and never a secret value or a token.

use kvref_emulator::{Emulator, EmulatorConfig, Endpoint, Fault};

use crate::capture;
use crate::support::emu;

#[tokio::test]
async fn trace_output_holds_no_secret_value_or_token() {
    capture::start();

    let emu = Emulator::start(EmulatorConfig::sample()).await.unwrap();
    let values = [
        "db-password-from-the-emulator",
        "api-key-from-the-emulator",
        "old-db-password",
    ];
    // One retried request too, so that every code path logs.
    emu.add_fault(Fault {
        endpoint: Endpoint::KeyVault,
        status: Some(503),
        times: Some(1),
        ..Fault::default()
    })
    .await;
    let resolver = emu::resolver(&emu, emu::credential(&emu)).build().unwrap();
    let settings = vec![
        ("Db", "@KeyVault(VaultName=myvault;SecretName=DbPassword)".to_owned()),
        ("Api", "@KeyVault(VaultName=myvault;SecretName=ApiKey)".to_owned()),
        ("Old", "@KeyVault(VaultName=myvault;SecretName=DbPassword;SecretVersion=0a1b2c3d4e5f60718293a4b5c6d7e8f9)".to_owned()),
        ("Gone", "@KeyVault(VaultName=myvault;SecretName=Gone)".to_owned()),
    ];
    let resolution = resolver.resolve(settings.clone()).await;
    assert_eq!(resolution.failures().count(), 1);
    let _ = resolution.apply(settings);

    // Every test of this binary logs into one buffer: the leak scan covers all of it.
    let output = capture::text();
    // The capture works and shows what an operator needs. Only this scenario reads `myvault`'s
    // secrets, and only it is answered 503 once.
    assert!(output.contains("kvref.vault.get"), "{output}");
    assert!(output.contains("vault=myvault.vault.azure.net"));
    assert!(output.contains("secret=DbPassword"));
    assert!(output.contains("attempt=2"));
    assert!(output.contains("status=503"));
    for value in values {
        assert!(
            !output.contains(value),
            "a secret value leaked into the trace"
        );
    }
    assert!(!output.contains("eyJ"), "a token leaked into the trace");
}

#[tokio::test]
async fn debug_of_a_resolution_shows_no_value_and_no_malformed_text() {
    let emu = emu::start(&emu::vaults_toml(&["vaulta"], 1)).await;
    let resolver = emu::resolver(&emu, emu::credential(&emu)).build().unwrap();
    let settings = [
        ("good", "@KeyVault(VaultName=vaulta;SecretName=s0)"),
        // A malformed reference with a password pasted into it.
        (
            "typo",
            "@KeyVault(SecretUri=https://user:hunter2-pasted@vaulta.vault.azure.net/secrets/s0)",
        ),
    ];
    let resolution = resolver.resolve(settings).await;
    assert_eq!(
        resolution.outcomes()[0].status(),
        kvref::resolve::ResolveStatus::Resolved
    );
    let debug = format!("{:?}", resolution.outcomes());
    assert!(
        debug.contains("typo") && debug.contains("InvalidSyntax"),
        "{debug}"
    );
    assert!(!debug.contains("value-vaulta-0"), "{debug}");
    assert!(!debug.contains("hunter2"), "{debug}");
}
