//! The emulator and a local-mode resolver over it.

use figment::Figment;
use kvref::{Env, Resolver, UnresolvedPolicy};
use kvref_emulator::{Emulator, EmulatorConfig};

/// The sample's current `DbPassword` value.
pub(crate) const DB_PASSWORD: &str = "db-password-from-the-emulator";
/// The sample's `ApiKey` value.
pub(crate) const API_KEY: &str = "api-key-from-the-emulator";
/// The sample's older `DbPassword` version and its value.
pub(crate) const OLD_VERSION: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";
pub(crate) const OLD_DB_PASSWORD: &str = "old-db-password";

/// The sample emulator.
pub(crate) async fn emulator() -> Emulator {
    Emulator::start(EmulatorConfig::sample())
        .await
        .expect("the emulator starts")
}

/// A local-mode resolver (what `KVREF_EMULATOR` gives an app), without the process env.
pub(crate) async fn resolver(emu: &Emulator) -> Resolver {
    resolver_with(emu, UnresolvedPolicy::Fail).await
}

/// The same with an unresolved policy.
pub(crate) async fn resolver_with(emu: &Emulator, policy: UnresolvedPolicy) -> Resolver {
    Resolver::builder()
        .emulator(format!("http://{}", emu.http_addr()))
        .unresolved(policy)
        .connect(&Env::default())
        .await
        .expect("a local-mode resolver")
}

/// `figment` resolved against a fresh sample emulator.
pub(crate) async fn resolved(figment: Figment) -> Figment {
    let emu = emulator().await;
    let resolver = resolver(&emu).await;
    kvref_figment::resolve_with(figment, &resolver)
        .await
        .expect("the figment resolves")
}
