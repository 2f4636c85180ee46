//! kvref-config against the in-process emulator (real TLS): settings files in every format with
//! environment overrides, provenance, failures and secret-safe errors.

mod failures;
mod layered;
mod live;
mod no_references;
mod policies;

use std::path::{Path, PathBuf};

use kvref_emulator::{Emulator, EmulatorConfig};

/// The sample emulator and a resolver in local mode against it; no process environment is read.
pub(crate) async fn emulator_and_resolver(
    policy: kvref::UnresolvedPolicy,
) -> (Emulator, kvref::Resolver) {
    let emulator = Emulator::start(EmulatorConfig::sample())
        .await
        .expect("the emulator starts");
    let resolver = kvref::Resolver::builder()
        .emulator(format!("http://{}", emulator.http_addr()))
        .unresolved(policy)
        .connect(&kvref::Env::default())
        .await
        .expect("a local-mode resolver");
    (emulator, resolver)
}

/// Writes `text` to `dir/name` and returns the path.
pub(crate) fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("the settings file is written");
    path
}

/// config's `Environment` source over an explicit map: the process environment is not touched.
pub(crate) fn environment(pairs: &[(&str, &str)]) -> config::Environment {
    let map = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    config::Environment::with_prefix("APP")
        .separator("__")
        .source(Some(map))
}
