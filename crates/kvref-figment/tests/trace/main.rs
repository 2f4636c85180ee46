//! At TRACE level, nothing this crate or the core logs while resolving and while reporting an
//! extraction error holds a secret. One global subscriber, so a binary of its own.

use std::io::Write;
use std::sync::{Arc, Mutex};

use figment::Figment;
use figment::providers::{Format, Toml};
use tracing_subscriber::EnvFilter;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test]
async fn trace_output_of_resolution_and_a_type_error_holds_no_secret() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new("trace"))
        .with_writer(captured.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::set_global_default(subscriber).unwrap();

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

    let output = String::from_utf8_lossy(&captured.0.lock().unwrap()).into_owned();
    // The capture works: this crate's overlay event and the error are in it.
    assert!(output.contains("kvref-figment: overlay"), "{output}");
    assert!(output.contains("secret_id=https://myvault.vault.azure.net/secrets/DbPassword/"));
    assert!(output.contains("expected u16"), "{output}");
    for secret in ["db-password-from-the-emulator", "api-key-from-the-emulator"] {
        assert!(!output.contains(secret), "a secret leaked into the trace");
    }
}
