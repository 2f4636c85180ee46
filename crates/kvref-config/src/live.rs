//! Live settings from `config`: the core's [`kvref::live::Live`], prepared at start with this
//! crate's candidate leaves and a build that overlays the resolved secrets and deserialises,
//! redacted, as [`resolve_with`](crate::resolve_with) does. Everything else (the resolver, the
//! check, the timing) is the core's builder.

use config::ConfigBuilder;
use config::builder::DefaultState;
use kvref::live::{Live, LiveError, Prepared};
use serde::de::DeserializeOwned;

use crate::{Error, overlay_resolved, tree};

/// The builder [`live`] returns: the core's [`kvref::live::LiveBuilder`], with
/// [`resolver`](kvref::live::LiveBuilder::resolver),
/// [`validate`](kvref::live::LiveBuilder::validate) and
/// [`options`](kvref::live::LiveBuilder::options) (the interval, jitter, back-off, expiry
/// lead and cancellation token).
pub type LiveBuilder<T> = kvref::live::LiveBuilder<T>;

/// Live settings: a [`kvref::live::Live<T>`] built from the `config` the `factory` makes, that
/// follows secret rotation without a restart. The factory returns the `ConfigBuilder` (sync: an
/// async builder cannot be cloned or rebuilt safely) with the sources; [`start`](LiveBuilder::start)
/// builds it, resolves its references (with [`kvref::Resolver::from_env`] unless
/// [`resolver`](LiveBuilder::resolver) gives one), deserialises `T` and starts the refresher.
/// Each rotation overlays the new secrets on the same `Config` and deserialises again; a `T`
/// that does not deserialise, or that [`validate`](LiveBuilder::validate) refuses, is reported
/// (redacted) in [`Live::status`] while the last good snapshot stays. Settings without a
/// reference make no request and build no resolver from the environment; their snapshot never
/// changes. With [`reread_sources`](kvref::live::LiveBuilder::reread_sources) the factory is
/// called again on every cycle, so an edit of a settings file shows up at the next cycle.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// # let emulator = kvref_emulator::Emulator::start(kvref_emulator::EmulatorConfig::sample()).await.unwrap();
/// # let resolver = kvref::Resolver::builder().emulator(format!("http://{}", emulator.http_addr())).connect(&kvref::Env::default()).await.unwrap();
/// use config::{Config, File, FileFormat};
/// use kvref::secrecy::{ExposeSecret, SecretString};
///
/// #[derive(serde::Deserialize)]
/// struct Settings {
///     db_password: SecretString,
/// }
///
/// let live = kvref_config::live::<Settings>(|| {
///     Config::builder().add_source(File::from_str(
///         r#"db_password = "@KeyVault(VaultName=myvault;SecretName=DbPassword)""#,
///         FileFormat::Toml,
///     ))
/// })
/// #   .resolver(&resolver) // Resolver::from_env() without it
///     .start()
///     .await?;
/// assert_eq!(live.load().db_password.expose_secret(), "db-password-from-the-emulator");
///
/// emulator.set_secret("myvault", "DbPassword", "rotated").await;
/// live.refresh_now().await?; // the refresher does this every 5 minutes
/// assert_eq!(live.load().db_password.expose_secret(), "rotated");
/// # Ok::<(), kvref::live::LiveError>(()) }).unwrap();
/// ```
///
/// The core builder's options, a user check that refuses and a cancellation token:
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use std::time::Duration;
/// #[derive(serde::Deserialize)]
/// struct Settings { pool: u32 }
/// let pool = |n: u32| move || config::Config::builder().set_override("pool", n).unwrap();
/// let error = kvref_config::live::<Settings>(pool(0))
///     .validate(|s| if s.pool > 0 { Ok(()) } else { Err("pool must be at least 1".into()) })
///     .start()
///     .await
///     .unwrap_err();
/// assert!(matches!(error, kvref::live::LiveError::Refused(_)));
///
/// let stop = tokio_util::sync::CancellationToken::new();
/// let token = stop.clone();
/// let live = kvref_config::live::<Settings>(pool(8))
///     .options(move |live| live.interval(Duration::from_secs(60)).jitter(0.2).cancel_on(token))
///     .start()
///     .await?;
/// stop.cancel(); // the refresher stops, the snapshot stays readable
/// assert!(matches!(live.refresh_now().await, Err(kvref::live::LiveError::Stopped)));
/// assert_eq!(live.load().pool, 8);
/// # Ok::<(), kvref::live::LiveError>(()) }).unwrap();
/// ```
pub fn live<T: DeserializeOwned + Send + Sync + 'static>(
    factory: impl Fn() -> ConfigBuilder<DefaultState> + Send + Sync + 'static,
) -> LiveBuilder<T> {
    Live::prepared(move || {
        let config = factory()
            .build()
            .map_err(|e| LiveError::Build(Error::config(&e, None).to_string()))?;
        let leaves = tree::references(&config.cache);
        let settings: Vec<(String, String)> = leaves
            .iter()
            .map(|leaf| (leaf.path().to_string(), leaf.value().to_owned()))
            .collect();
        let paths: Vec<_> = leaves.into_iter().map(tree::Leaf::into_path).collect();
        // What was read, digested (in memory only), so that a re-read can tell an edit.
        let fingerprint = digest(&config.cache);
        let build = move |resolved: &kvref::Resolved| {
            overlay_resolved(config.clone(), paths.clone(), resolved.clone())?.try_deserialize()
        };
        Ok(Prepared::new(settings, build).fingerprint(fingerprint))
    })
}

/// A digest of a value tree, to compare two reads of the sources: tables in key order (they
/// are hash maps, whose order differs between reads), every leaf with its kind.
fn digest(value: &config::Value) -> u64 {
    use std::hash::{Hash, Hasher};
    fn feed(value: &config::Value, hasher: &mut impl Hasher) {
        match &value.kind {
            config::ValueKind::Table(table) => {
                let mut keys: Vec<&String> = table.keys().collect();
                keys.sort();
                for key in keys {
                    key.hash(hasher);
                    feed(&table[key], hasher);
                }
            }
            config::ValueKind::Array(array) => array.iter().for_each(|v| feed(v, hasher)),
            leaf => format!("{leaf:?}").hash(hasher),
        }
    }
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    feed(value, &mut hasher);
    hasher.finish()
}
