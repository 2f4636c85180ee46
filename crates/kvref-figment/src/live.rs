//! Live settings from a figment: the core's [`kvref::live::Live`], prepared at start with this
//! crate's candidates and a build that merges the resolved secrets and extracts, redacted, as
//! [`resolve_with`](crate::resolve_with) and [`extract`](crate::extract) do. Everything else
//! (the resolver, the check, the timing) is the core's builder.

use figment::Figment;
use kvref::live::{Live, LiveError, Prepared};
use serde::de::DeserializeOwned;

use crate::resolve::{data_of, overlay_resolved};
use crate::walk;

/// The builder [`live`] returns: the core's [`kvref::live::LiveBuilder`], with
/// [`resolver`](kvref::live::LiveBuilder::resolver),
/// [`validate`](kvref::live::LiveBuilder::validate) and
/// [`options`](kvref::live::LiveBuilder::options) (the interval, jitter, back-off, expiry
/// lead and cancellation token).
pub type LiveBuilder<T> = kvref::live::LiveBuilder<T>;

/// Live settings: a [`kvref::live::Live<T>`] extracted from `figment`, that follows secret
/// rotation without a restart. [`start`](LiveBuilder::start) resolves the references of every
/// profile (with [`kvref::Resolver::from_env`] unless [`resolver`](LiveBuilder::resolver) gives
/// one), extracts `T` and starts the refresher. Each rotation merges the new secrets on the same
/// figment and extracts again; a `T` that does not extract, or that
/// [`validate`](LiveBuilder::validate) refuses, is reported (redacted) in [`Live::status`] while
/// the last good snapshot stays. A figment without a reference makes no request and builds no
/// resolver from the environment; its snapshot never changes. With
/// [`reread_sources`](kvref::live::LiveBuilder::reread_sources), use [`live_from`] so that the
/// figment is made, and its files read, again on every cycle.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// # let emulator = kvref_emulator::Emulator::start(kvref_emulator::EmulatorConfig::sample()).await.unwrap();
/// # let resolver = kvref::Resolver::builder().emulator(format!("http://{}", emulator.http_addr())).connect(&kvref::Env::default()).await.unwrap();
/// use figment::{Figment, providers::{Format, Toml}};
/// use kvref::secrecy::{ExposeSecret, SecretString};
///
/// #[derive(serde::Deserialize)]
/// struct Settings {
///     db_password: SecretString,
/// }
///
/// let figment = Figment::from(Toml::string(
///     r#"db_password = "@KeyVault(VaultName=myvault;SecretName=DbPassword)""#,
/// ));
/// let live = kvref_figment::live::<Settings>(figment)
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
/// use figment::{Figment, providers::Serialized};
/// #[derive(serde::Deserialize)]
/// struct Settings { pool: u32 }
/// let error = kvref_figment::live::<Settings>(Figment::from(Serialized::default("pool", 0)))
///     .validate(|s| if s.pool > 0 { Ok(()) } else { Err("pool must be at least 1".into()) })
///     .start()
///     .await
///     .unwrap_err();
/// assert!(matches!(error, kvref::live::LiveError::Refused(_)));
///
/// let stop = tokio_util::sync::CancellationToken::new();
/// let token = stop.clone();
/// let live = kvref_figment::live::<Settings>(Figment::from(Serialized::default("pool", 8)))
///     .options(move |live| live.interval(Duration::from_secs(60)).jitter(0.2).cancel_on(token))
///     .start()
///     .await?;
/// stop.cancel(); // the refresher stops, the snapshot stays readable
/// assert!(matches!(live.refresh_now().await, Err(kvref::live::LiveError::Stopped)));
/// assert_eq!(live.load().pool, 8);
/// # Ok::<(), kvref::live::LiveError>(()) }).unwrap();
/// ```
pub fn live<T: DeserializeOwned + Send + Sync + 'static>(figment: Figment) -> LiveBuilder<T> {
    live_from(move || figment.clone())
}

/// [`live`] from a function that makes the figment: with
/// [`reread_sources`](kvref::live::LiveBuilder::reread_sources) it is called again on every
/// cycle, so that its providers read their files again (a `Figment` reads its providers when
/// they are merged, so re-reading the same `Figment` value reads nothing new).
pub fn live_from<T: DeserializeOwned + Send + Sync + 'static>(
    make: impl Fn() -> Figment + Send + Sync + 'static,
) -> LiveBuilder<T> {
    Live::prepared(move || {
        let figment = make();
        let data = data_of(&figment).map_err(|e| LiveError::Build(e.to_string()))?;
        let candidates = walk::candidates(&figment, &data);
        let settings: Vec<(String, String)> = candidates
            .iter()
            .map(|c| (c.key.clone(), c.literal.clone()))
            .collect();
        // What was read, digested (in memory only), so that a re-read can tell an edit.
        let fingerprint = digest(&format!("{data:?}"));
        let build = move |resolved: &kvref::Resolved| {
            let merged = overlay_resolved(figment.clone(), data.clone(), &candidates, resolved)?;
            crate::extract::<T>(&merged)
        };
        Ok(Prepared::new(settings, build).fingerprint(fingerprint))
    })
}

/// A digest of `text`, to compare two reads of the sources.
fn digest(text: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut hasher);
    hasher.finish()
}
