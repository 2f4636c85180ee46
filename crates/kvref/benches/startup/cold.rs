//! Cold start: process start to first request for `kvref check` with one reference, against the
//! emulator. Needs the release `kvref` binary next to this bench's (`cargo build --release -p
//! kvref-cli`); without it the figure is skipped.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use kvref_emulator::{Emulator, Endpoint};

use crate::cases::median;

/// The `kvref` binary of the same build, if built.
fn kvref_binary() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    // target/release/deps/startup-HASH -> target/release/kvref
    let binary = exe.parent()?.parent()?.join("kvref");
    binary.is_file().then_some(binary)
}

/// Medians over `runs`: to the first request (the identity endpoint), to the first Key Vault
/// request, and to the process's exit.
pub(crate) struct ColdStart {
    pub(crate) first_request: Duration,
    pub(crate) first_vault_request: Duration,
    pub(crate) exit: Duration,
}

pub(crate) async fn measure(emu: &Emulator, reference: &str, runs: usize) -> Option<ColdStart> {
    let binary = kvref_binary()?;
    let dir = tempfile::tempdir().ok()?;
    let settings = dir.path().join("settings.toml");
    std::fs::write(&settings, format!("db = \"{reference}\"\n")).ok()?;
    let mut first = Vec::new();
    let mut first_vault = Vec::new();
    let mut exits = Vec::new();
    for _ in 0..runs {
        emu.clear_requests().await;
        let started = Instant::now();
        let mut child = tokio::process::Command::new(&binary)
            .arg("check")
            .arg(&settings)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("KVREF_EMULATOR", format!("http://{}", emu.http_addr()))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .ok()?;
        let (mut seen_first, mut seen_vault) = (None, None);
        while seen_vault.is_none() {
            let journal = emu.requests().await;
            if seen_first.is_none() && !journal.is_empty() {
                seen_first = Some(started.elapsed());
            }
            if journal.iter().any(|e| e.endpoint == Endpoint::KeyVault) {
                seen_vault = Some(started.elapsed());
            }
            if child.try_wait().ok()?.is_some() && seen_vault.is_none() {
                return None;
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        child.wait().await.ok()?;
        exits.push(started.elapsed());
        first.push(seen_first.unwrap_or_default());
        first_vault.push(seen_vault.unwrap_or_default());
    }
    Some(ColdStart {
        first_request: median(first),
        first_vault_request: median(first_vault),
        exit: median(exits),
    })
}
