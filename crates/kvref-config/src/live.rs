//! Live settings from `config`: the core's [`kvref::live::Live`] fed with this crate's candidate
//! leaves, and a build that overlays the resolved secrets and deserialises, redacted, as
//! [`resolve_with`](crate::resolve_with) does.

use std::fmt;

use config::ConfigBuilder;
use config::builder::DefaultState;
use kvref::Resolver;
use kvref::live::{Live, LiveError};
use serde::de::DeserializeOwned;

use crate::{Error, overlay_resolved, tree};

type Factory = Box<dyn Fn() -> ConfigBuilder<DefaultState> + Send + Sync>;
type CoreOptions<T> =
    Box<dyn FnOnce(kvref::live::LiveBuilder<T>) -> kvref::live::LiveBuilder<T> + Send>;

/// Live settings: a [`kvref::live::Live<T>`] built from the `config` the `factory` makes, that
/// follows secret rotation without a restart. The factory returns the `ConfigBuilder` (sync: an
/// async builder cannot be cloned or rebuilt safely) with the sources; [`start`](LiveBuilder::start)
/// builds it, resolves its references (with [`kvref::Resolver::from_env`] unless
/// [`resolver`](LiveBuilder::resolver) gives one), deserialises `T` and starts the refresher.
/// Each rotation overlays the new secrets on the same `Config` and deserialises again; a `T`
/// that does not deserialise, or that [`validate`](LiveBuilder::validate) refuses, is reported
/// (redacted) in [`Live::status`] while the last good snapshot stays.
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
pub fn live<T>(
    factory: impl Fn() -> ConfigBuilder<DefaultState> + Send + Sync + 'static,
) -> LiveBuilder<T> {
    LiveBuilder {
        factory: Box::new(factory),
        resolver: None,
        options: Vec::new(),
    }
}

/// Configures live settings from `config`; made by [`live`].
pub struct LiveBuilder<T> {
    factory: Factory,
    resolver: Option<Resolver>,
    options: Vec<CoreOptions<T>>,
}

impl<T> fmt::Debug for LiveBuilder<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LiveBuilder")
            .field("resolver", &self.resolver.is_some())
            .field("options", &self.options.len())
            .finish_non_exhaustive()
    }
}

impl<T: DeserializeOwned + Send + Sync + 'static> LiveBuilder<T> {
    /// Resolves with this resolver (a clone of it) instead of [`kvref::Resolver::from_env`]: a
    /// user-assigned identity, a sovereign cloud, another
    /// [`UnresolvedPolicy`](kvref::UnresolvedPolicy), all set on [`kvref::Resolver::builder`].
    /// See [`live`] for an example.
    pub fn resolver(mut self, resolver: &Resolver) -> Self {
        self.resolver = Some(resolver.clone());
        self
    }

    /// A check of the deserialised settings that can refuse them, as
    /// [`kvref::live::LiveBuilder::validate`]: at start the refusal is the error, later the last
    /// good snapshot stays and the refusal (redacted) shows in [`Live::status`].
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// #[derive(serde::Deserialize)]
    /// struct Settings { pool: u32 }
    /// let error = kvref_config::live::<Settings>(|| config::Config::builder().set_override("pool", 0).unwrap())
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
    /// let live = kvref_config::live::<std::collections::HashMap<String, String>>(config::Config::builder)
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

    /// Builds the `Config`, resolves its references, deserialises and checks the first `T`,
    /// and starts the refresher on the current tokio runtime. Settings without a reference make
    /// no request and build no resolver from the environment; their snapshot never changes.
    pub async fn start(self) -> Result<Live<T>, LiveError> {
        let config = (self.factory)()
            .build()
            .map_err(|e| LiveError::Build(Error::config(&e, None).to_string()))?;
        let leaves = tree::references(&config.cache);
        let resolver = match self.resolver {
            Some(resolver) => resolver,
            None if leaves.is_empty() => never_asked().await?,
            None => Resolver::from_env().await?,
        };
        let settings: Vec<(String, String)> = leaves
            .iter()
            .map(|leaf| (leaf.path().to_string(), leaf.value().to_owned()))
            .collect();
        let paths: Vec<_> = leaves.into_iter().map(tree::Leaf::into_path).collect();
        let build = move |resolved: &kvref::Resolved| {
            overlay_resolved(config.clone(), paths.clone(), resolved.clone())?.try_deserialize()
        };
        let mut live = Live::builder(resolver, settings, build);
        for options in self.options {
            live = options(live);
        }
        live.start().await
    }
}

/// A resolver for settings without a reference, which the core needs but never asks: built
/// from an empty environment, so it reads no variable and contacts nothing.
async fn never_asked() -> Result<Resolver, kvref::Error> {
    Resolver::builder().connect(&kvref::Env::default()).await
}
