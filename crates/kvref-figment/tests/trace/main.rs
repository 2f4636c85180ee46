//! At TRACE level, nothing this crate or the core logs while resolving and while reporting an
//! extraction error holds a secret. One global subscriber, so a binary of its own.

use figment::Figment;
use figment::providers::{Format, Toml};

// The core's capture: one global TRACE subscriber writing into a buffer.
#[path = "../../../kvref/tests/trace/capture.rs"]
mod capture;

#[tokio::test]
async fn trace_output_of_resolution_and_a_type_error_holds_no_secret() {
    capture::start();

    let emu = kvref_emulator::Emulator::start(kvref_emulator::EmulatorConfig::sample())
        .await
        .unwrap();
    let resolver = kvref::Resolver::builder()
        .emulator(format!("http://{}", emu.http_addr()))
        .connect(&kvref::Env::default())
        .await
        .unwrap();
    let figment = Figment::from(Toml::string(
        r#"
        [db]
        port = "@KeyVault(VaultName=myvault;SecretName=DbPassword)"
        key = "@KeyVault(VaultName=myvault;SecretName=ApiKey)"
        "#,
    ));
    let figment = kvref_figment::resolve_with(figment, &resolver)
        .await
        .unwrap();
    let error = kvref_figment::extract_inner::<u16>(&figment, "db.port").unwrap_err();
    tracing::error!(%error, ?error, "settings could not be extracted");

    let output = capture::text();
    // The capture works: this crate's overlay event and the error are in it.
    assert!(output.contains("kvref-figment: overlay"), "{output}");
    assert!(output.contains("secret_id=https://myvault.vault.azure.net/secrets/DbPassword/"));
    assert!(output.contains("expected u16"), "{output}");
    for secret in ["db-password-from-the-emulator", "api-key-from-the-emulator"] {
        assert!(!output.contains(secret), "a secret leaked into the trace");
    }
}
