//! Live settings from a figment: the core's [`kvref::live::Live`] fed with this crate's
//! candidates, and a build that merges the resolved secrets and extracts, redacted, as
//! [`resolve_with`](crate::resolve_with) and [`extract`](crate::extract) do.

use std::fmt;

use figment::Figment;
use kvref::Resolver;
use kvref::live::{Live, LiveError};
use serde::de::DeserializeOwned;

use crate::resolve::{data_of, overlay_resolved};
use crate::walk;

type CoreOptions<T> =
    Box<dyn FnOnce(kvref::live::LiveBuilder<T>) -> kvref::live::LiveBuilder<T> + Send>;

/// Live settings: a [`kvref::live::Live<T>`] extracted from `figment`, that follows secret
/// rotation without a restart. [`start`](LiveBuilder::start) resolves the references of every
/// profile (with [`kvref::Resolver::from_env`] unless [`resolver`](LiveBuilder::resolver) gives
/// one), extracts `T` and starts the refresher. Each rotation merges the new secrets on the same
/// figment and extracts again; a `T` that does not extract, or that
/// [`validate`](LiveBuilder::validate) refuses, is reported (redacted) in [`Live::status`] while
/// the last good snapshot stays.
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
pub fn live<T>(figment: Figment) -> LiveBuilder<T> {
    LiveBuilder {
        figment,
        resolver: None,
        options: Vec::new(),
    }
}

/// Configures live settings from a figment; made by [`live`].
pub struct LiveBuilder<T> {
    figment: Figment,
    resolver: Option<Resolver>,
    options: Vec<CoreOptions<T>>,
}

impl<T> fmt::Debug for LiveBuilder<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not the figment: its Debug shows every value.
        f.debug_struct("LiveBuilder")
            .field("resolver", &self.resolver.is_some())
            .field("options", &self.options.len())
            .finish_non_exhaustive()
    }
}

impl<T: DeserializeOwned + Send + Sync + 'static> LiveBuilder<T> {
    /// Resolves with this resolver (a clone of it) instead of [`kvref::Resolver::from_env`]: a
    /// user-assigned identity, more vault suffixes, another
    /// [`UnresolvedPolicy`](kvref::UnresolvedPolicy), all set on [`kvref::Resolver::builder`].
    /// See [`live`] for an example.
    pub fn resolver(mut self, resolver: &Resolver) -> Self {
        self.resolver = Some(resolver.clone());
        self
    }

    /// A check of the extracted settings that can refuse them, as
    /// [`kvref::live::LiveBuilder::validate`]: at start the refusal is the error, later the last
    /// good snapshot stays and the refusal (redacted) shows in [`Live::status`].
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use figment::{Figment, providers::Serialized};
    /// #[derive(serde::Deserialize)]
    /// struct Settings { pool: u32 }
    /// let figment = Figment::from(Serialized::default("pool", 0));
    /// let error = kvref_figment::live::<Settings>(figment)
    ///     .validate(|s| if s.pool > 0 { Ok(()) } else { Err("pool must be at least 1".into()) })
    ///     .start()
    ///     .await
    ///     .unwrap_err();
    /// assert!(matches!(error, kvref::live::LiveError::Refused(_)));
    /// # });
    /// ```
    pub fn validate(
        self,
        check: impl Fn(&T) -> Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        self.options(|live| live.validate(check))
    }

    /// The core's options, applied before the start: the refresh
    /// [`interval`](kvref::live::LiveBuilder::interval), the
    /// [`jitter`](kvref::live::LiveBuilder::jitter), the
    /// [`backoff`](kvref::live::LiveBuilder::backoff), a
    /// [`cancel_on`](kvref::live::LiveBuilder::cancel_on) token.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use std::time::Duration;
    /// let stop = tokio_util::sync::CancellationToken::new();
    /// let token = stop.clone();
    /// let live = kvref_figment::live::<std::collections::HashMap<String, String>>(figment::Figment::new())
    ///     .options(move |live| live.interval(Duration::from_secs(60)).jitter(0.2).cancel_on(token))
    ///     .start()
    ///     .await?;
    /// stop.cancel(); // the refresher stops, the snapshot stays readable
    /// assert!(matches!(live.refresh_now().await, Err(kvref::live::LiveError::Stopped)));
    /// # Ok::<(), kvref::live::LiveError>(()) }).unwrap();
    /// ```
    pub fn options(
        mut self,
        options: impl FnOnce(kvref::live::LiveBuilder<T>) -> kvref::live::LiveBuilder<T>
        + Send
        + 'static,
    ) -> Self {
        self.options.push(Box::new(options));
        self
    }

    /// Resolves the figment's references, extracts and checks the first `T`, and starts the
    /// refresher on the current tokio runtime. A figment without a reference makes no request
    /// and builds no resolver from the environment; its snapshot never changes.
    pub async fn start(self) -> Result<Live<T>, LiveError> {
        let figment = self.figment;
        let data = data_of(&figment).map_err(|e| LiveError::Build(e.to_string()))?;
        let candidates = walk::candidates(&figment, &data);
        let resolver = match self.resolver {
            Some(resolver) => resolver,
            None if candidates.is_empty() => never_asked().await?,
            None => Resolver::from_env().await?,
        };
        let settings: Vec<(String, String)> = candidates
            .iter()
            .map(|c| (c.key.clone(), c.literal.clone()))
            .collect();
        let build = move |resolved: &kvref::Resolved| {
            let merged = overlay_resolved(figment.clone(), data.clone(), &candidates, resolved)?;
            crate::extract::<T>(&merged)
        };
        let mut live = Live::builder(resolver, settings, build);
        for options in self.options {
            live = options(live);
        }
        live.start().await
    }
}

/// A resolver for a figment without a reference, which the core needs but never asks: built
/// from an empty environment, so it reads no variable and contacts nothing.
async fn never_asked() -> Result<Resolver, kvref::Error> {
    Resolver::builder().connect(&kvref::Env::default()).await
}
