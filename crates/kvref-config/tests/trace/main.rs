//! A type error at a secret-holding key, with every log line of the whole process captured at
//! TRACE: neither the logs nor the error hold the secret. Its own binary, because the capture is
//! a global subscriber.

use std::io::Write;
use std::sync::{Arc, Mutex};

use config::{Config, File, FileFormat};
use kvref_emulator::{Emulator, EmulatorConfig};

/// A `MakeWriter` appending to a shared buffer.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[derive(Debug, serde::Deserialize)]
#[allow(dead_code)]
struct Settings {
    port: u16,
}

#[tokio::test]
async fn no_secret_in_trace_logs_or_errors_when_a_secret_does_not_fit_its_field() {
    let capture = Capture::default();
    let writer = capture.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    let emulator = Emulator::start(EmulatorConfig::sample()).await.unwrap();
    let resolver = kvref::Resolver::builder()
        .emulator(format!("http://{}", emulator.http_addr()))
        .connect(&kvref::Env::default())
        .await
        .unwrap();
    let config = Config::builder()
        .add_source(File::from_str(
            "port = \"@KeyVault(VaultName=myvault;SecretName=DbPassword)\"",
            FileFormat::Toml,
        ))
        .build()
        .unwrap();

    let config = kvref_config::resolve_with(config, &resolver).await.unwrap();
    let error = config.try_deserialize::<Settings>().unwrap_err();
    tracing::error!(%error, ?error, "settings rejected");

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("settings rejected"), "the capture works");
    assert!(logs.contains("<redacted: myvault/DbPassword@"), "{logs}");
    assert!(
        logs.lines().count() > 3,
        "TRACE lines of the resolution are captured too: {logs}"
    );
    assert!(!logs.contains("db-password-from-the-emulator"), "{logs}");
    assert!(!format!("{error} {error:?}").contains("db-password-from-the-emulator"));
}
