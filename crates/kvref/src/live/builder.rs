//! The options of a [`Live`]: the resolver, its timing, the user's check, a cancellation token;
//! and the start, which reads the settings (now, or from a [`Prepared`] source), resolves once
//! like start-up does, and hands over to the refresher.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::expiry::ExpiryWatch;
use super::make::{Check, Maker};
use super::push::PushState;
use super::refresher::{Refresher, schedule_next};
use super::reread::{Prepare, Read};
use super::schedule::Schedule;
use super::status::{Status, nearest_expiry, versions};
use super::{Handle, Live, LiveError};
use crate::{Resolved, Resolver};

/// The shortest wait the refresher accepts, so that a zero duration cannot make it spin.
const SHORTEST_WAIT: Duration = Duration::from_millis(1);

/// What a settings source hands [`Live::prepared`] at start: the `(key, value)` settings that
/// may be references, and the build of a `T` from their resolved secrets (its error is shown
/// redacted), as [`Live::builder`] takes them.
pub struct Prepared<T> {
    pub(super) settings: Vec<(String, String)>,
    pub(super) maker: Maker<T>,
    pub(super) fingerprint: Option<u64>,
}

impl<T> fmt::Debug for Prepared<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys: Vec<&str> = self.settings.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("Prepared")
            .field("keys", &keys)
            .finish_non_exhaustive()
    }
}

impl<T> Prepared<T> {
    /// The settings and the build, as [`Live::builder`] takes them.
    pub fn new<K, V, E>(
        settings: impl IntoIterator<Item = (K, V)>,
        build: impl Fn(&Resolved) -> Result<T, E> + Send + Sync + 'static,
    ) -> Self
    where
        K: Into<String>,
        V: Into<String>,
        E: fmt::Display,
    {
        Self {
            settings: settings
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            maker: Maker::new(build),
            fingerprint: None,
        }
    }

    /// A digest of everything else the source read (the settings that are not references),
    /// so that [`reread_sources`](LiveBuilder::reread_sources) can tell a local edit from the
    /// same read; without one only a change of the references counts.
    pub fn fingerprint(mut self, fingerprint: u64) -> Self {
        self.fingerprint = Some(fingerprint);
        self
    }
}

/// Where the settings come from: given, or read at start.
enum Source<T> {
    Ready(Prepared<T>),
    Later(Prepare<T>),
}

/// Configures and starts a [`Live`]; made by [`Live::builder`] or [`Live::prepared`].
pub struct LiveBuilder<T> {
    resolver: Option<Resolver>,
    source: Source<T>,
    check: Option<Check<T>>,
    schedule: Schedule,
    expiry: ExpiryWatch,
    reread: bool,
    cancel: Option<CancellationToken>,
}

impl<T> fmt::Debug for LiveBuilder<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Keys only: a value that merely looks like a reference may be anything the user typed.
        let keys: Option<Vec<&str>> = match &self.source {
            Source::Ready(prepared) => {
                Some(prepared.settings.iter().map(|(k, _)| k.as_str()).collect())
            }
            Source::Later(_) => None,
        };
        f.debug_struct("LiveBuilder")
            .field("keys", &keys)
            .field("resolver", &self.resolver.is_some())
            .field("schedule", &self.schedule)
            .field("expiry_lead", &self.expiry.lead)
            .field("cancel", &self.cancel.is_some())
            .finish_non_exhaustive()
    }
}

impl<T: Send + Sync + 'static> LiveBuilder<T> {
    pub(super) fn new(resolver: Option<Resolver>, prepared: Prepared<T>) -> Self {
        Self::from_source(resolver, Source::Ready(prepared))
    }

    pub(super) fn later(
        prepare: impl Fn() -> Result<Prepared<T>, LiveError> + Send + Sync + 'static,
    ) -> Self {
        Self::from_source(None, Source::Later(Arc::new(prepare)))
    }

    fn from_source(resolver: Option<Resolver>, source: Source<T>) -> Self {
        Self {
            resolver,
            source,
            check: None,
            schedule: Schedule::default(),
            expiry: ExpiryWatch::default(),
            reread: false,
            cancel: None,
        }
    }

    /// A check of the built settings that can refuse them: at start-up the refusal is the
    /// error of [`start`](Self::start); later the refresher keeps the last good snapshot and
    /// reports the refusal (redacted) in [`Live::status`].
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # #[derive(Debug)] struct NoCredential;
    /// # #[async_trait::async_trait]
    /// # impl kvref::credential::TokenCredential for NoCredential {
    /// #     fn name(&self) -> &str { "NoCredential" }
    /// #     async fn get_token(&self, _: &kvref::credential::TokenRequest)
    /// #         -> Result<kvref::credential::AccessToken, kvref::credential::CredentialError> { unreachable!() }
    /// # }
    /// # let resolver = kvref::Resolver::builder().credential(std::sync::Arc::new(NoCredential)).build().unwrap();
    /// let settings = [("pool", "0")];
    /// let error = kvref::live::Live::builder(resolver, settings, move |_: &kvref::Resolved| {
    ///     settings[0].1.parse::<u32>()
    /// })
    /// .validate(|pool| if *pool > 0 { Ok(()) } else { Err("pool must be at least 1".into()) })
    /// .start()
    /// .await
    /// .unwrap_err();
    /// assert!(matches!(error, kvref::live::LiveError::Refused(_)));
    /// # });
    /// ```
    pub fn validate(
        mut self,
        check: impl Fn(&T) -> Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        self.check = Some(Arc::new(check));
        self
    }

    /// Resolves with this resolver (a clone of it): a user-assigned identity, a sovereign
    /// cloud, another [`UnresolvedPolicy`](crate::UnresolvedPolicy), all set on
    /// [`Resolver::builder`]. Without it, [`start`](Self::start) connects with
    /// [`Resolver::from_env`], or, when no setting may be a reference, builds a resolver that
    /// reads no variable and contacts nothing.
    pub fn resolver(mut self, resolver: &Resolver) -> Self {
        self.resolver = Some(resolver.clone());
        self
    }

    /// Applies `options` to this builder: for a builder that an integration made (such as
    /// `kvref_config::live`), configured by code that takes it as a value.
    pub fn options(self, options: impl FnOnce(Self) -> Self) -> Self {
        options(self)
    }

    /// How long the refresher waits after a good cycle (default 5 minutes), before jitter.
    pub fn interval(mut self, interval: Duration) -> Self {
        self.schedule.interval = interval.max(SHORTEST_WAIT);
        self
    }

    /// Spreads every wait by up to ± this fraction of itself at random, so that a fleet started
    /// together does not refresh together (default 0.1, ± 10 %; 0 disables it; at most 1).
    pub fn jitter(mut self, fraction: f64) -> Self {
        self.schedule.jitter = if fraction.is_finite() {
            fraction.clamp(0.0, 1.0)
        } else {
            0.0
        };
        self
    }

    /// The waits after failed cycles: `min` after the first, doubling after each further
    /// failure up to `max` (default 30 seconds up to 10 minutes), before jitter.
    pub fn backoff(mut self, min: Duration, max: Duration) -> Self {
        self.schedule.backoff_min = min.max(SHORTEST_WAIT);
        self.schedule.backoff_max = max.max(self.schedule.backoff_min);
        self
    }

    /// How long before the nearest expiry (`exp`) of a secret in use the refresher tries a
    /// cycle, whatever the interval or back-off says (default 5 minutes): a version rotated in
    /// time is then picked up before the old one expires. Once per version and expiry; the
    /// expiry shows in [`Status::nearest_expiry`](super::Status::nearest_expiry).
    pub fn expiry_lead(mut self, lead: Duration) -> Self {
        self.expiry.lead = lead;
        self
    }

    /// How long before a secret's expiry the refresher starts to warn about it through
    /// `tracing` (default 30 days, as Key Vault's `SecretNearExpiry` event): one warning per
    /// version as it nears expiry, one more once it has expired. Names and times only.
    pub fn expiry_warning(mut self, window: Duration) -> Self {
        self.expiry.warning = window;
        self
    }

    /// Reads the sources again on every full cycle (off by default): the producer of
    /// [`Live::prepared`] is called again, and a read that differs (other references, or another
    /// [`fingerprint`](Prepared::fingerprint)) is resolved in full and swapped in, so a local
    /// edit of a settings file shows up at the next cycle. A read that fails keeps the last good
    /// snapshot, as a failed cycle does. Settings given to [`Live::builder`] are not re-read.
    pub fn reread_sources(mut self, reread: bool) -> Self {
        self.reread = reread;
        self
    }

    /// Stops the refresher when `token` is cancelled (it also stops when the last [`Live`] is
    /// dropped). The snapshot stays readable after that, but is no longer refreshed.
    pub fn cancel_on(mut self, token: CancellationToken) -> Self {
        self.cancel = Some(token);
        self
    }

    /// Resolves the settings (failing as start-up does: by the resolver's
    /// [`UnresolvedPolicy`](crate::UnresolvedPolicy)), builds and checks the first snapshot, and
    /// spawns the refresher on the current tokio runtime.
    pub async fn start(mut self) -> Result<Live<T>, LiveError> {
        let (prepared, reread) = match self.source {
            Source::Ready(prepared) => (prepared, None),
            Source::Later(prepare) => (prepare()?, self.reread.then_some(prepare)),
        };
        let read = Read {
            settings: prepared.settings.clone(),
            fingerprint: prepared.fingerprint,
        };
        let Prepared {
            settings,
            mut maker,
            ..
        } = prepared;
        let check = self.check;
        if let Some(check) = &check {
            maker.check(check.clone());
        }
        let resolver = match self.resolver {
            Some(resolver) => resolver,
            None if settings.is_empty() => never_asked().await?,
            None => Resolver::from_env().await?,
        };
        let first = resolver.resolve(settings).await;
        let value = maker.make(first.clone())?;
        let current = Arc::new(ArcSwap::from_pointee(value));
        let (generation, generation_rx) = watch::channel(0);
        let in_use = versions(&first);
        self.expiry.warn(&in_use);
        let own = tokio::time::Instant::now() + self.schedule.wait(0);
        let next = schedule_next(&mut self.expiry, &in_use, own);
        let (status, status_rx) = watch::channel(Status {
            generation: 0,
            last_success: Some(jiff::Timestamp::now()),
            last_error: None,
            failing_since: None,
            consecutive_failures: 0,
            next_attempt: Some(next),
            nearest_expiry: nearest_expiry(&in_use),
            versions: in_use,
            expiry_notices: Vec::new(),
        });
        let (asks, asks_rx) = mpsc::channel(1);
        let push = Arc::new(PushState::default());
        push.follow(&first);
        let stop = self.cancel.map(|t| t.child_token()).unwrap_or_default();
        let refresher = Refresher {
            resolver,
            last_good: first,
            maker,
            schedule: self.schedule,
            current: current.clone(),
            generation,
            status,
            push: push.clone(),
            expiry: self.expiry,
            reread: reread.map(|prepare| (prepare, read, check)),
        };
        tokio::spawn(refresher.run(next, stop.clone(), asks_rx));
        Ok(Live {
            handle: Arc::new(Handle {
                current,
                generation: generation_rx,
                status: status_rx,
                asks,
                push,
                _stop: stop.drop_guard(),
            }),
        })
    }
}

/// A resolver for settings without a reference, which the refresher needs but never asks:
/// built from an empty environment, so it reads no variable and contacts nothing.
async fn never_asked() -> Result<Resolver, crate::Error> {
    Resolver::builder().connect(&crate::Env::default()).await
}
