//! Live settings: a snapshot of settings that follows secret rotation without a restart, a torn
//! read or an outage.
//!
//! [`Live<T>`] holds the settings built from resolved secrets in an [`ArcSwap`]: readers
//! [`load`](Live::load) them without a lock. A background refresher resolves again at an
//! interval (5 minutes by default, ± 10 % jitter): only references that name no version and
//! those that failed are fetched again, a pinned version never is. It compares the versions Key
//! Vault served, never the values; when one moved it rebuilds `T`, runs the user's check, and
//! swaps the whole snapshot at once, so secrets rotated together are seen together. When Key
//! Vault fails, a build fails or the check refuses, the last good snapshot stays, the error shows
//! in [`Live::status`] and the log, and the refresher backs off (30 seconds doubling up to 10
//! minutes) until a cycle succeeds. It stops when the last `Live` is dropped or its
//! [`cancel_on`](LiveBuilder::cancel_on) token is cancelled.
//!
//! This module knows nothing of `config` or `figment`: it takes the `(key, value)` settings that
//! may be references and a function that builds `T` from their [`Resolved`] secrets; the
//! `kvref-config` and `kvref-figment` crates wrap it for their trees.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! # let emulator = kvref_emulator::Emulator::start(kvref_emulator::EmulatorConfig::sample()).await.unwrap();
//! # let env = kvref::Env::from_pairs([("KVREF_EMULATOR", format!("http://{}", emulator.http_addr()))]);
//! use kvref::live::Live;
//! use kvref::secrecy::{ExposeSecret, SecretString};
//!
//! struct Settings {
//!     db_password: SecretString,
//! }
//!
//! let resolver = kvref::Resolver::builder().connect(&env).await?; // Resolver::from_env() in an app
//! let settings = [("db.password", "@KeyVault(VaultName=myvault;SecretName=DbPassword)")];
//! let live = Live::builder(resolver, settings, |resolved: &kvref::Resolved| {
//!     let (_, _, secret) = resolved.secrets().next().ok_or("db.password did not resolve")?;
//!     Ok::<_, &str>(Settings { db_password: secret.clone() })
//! })
//! .start()
//! .await?;
//! assert_eq!(live.load().db_password.expose_secret(), "db-password-from-the-emulator");
//!
//! // The secret rotates; the next cycle (here one asked for at once) swaps the new one in.
//! emulator.set_secret("myvault", "DbPassword", "rotated-password").await;
//! let changes = live.refresh_now().await?;
//! assert_eq!(changes.changed[0].key, "db.password");
//! assert_eq!(live.load().db_password.expose_secret(), "rotated-password");
//! # Ok::<(), kvref::live::LiveError>(()) }).unwrap();
//! ```
//!
//! Event Grid can push rotations too ([`Live::push`], [`crate::events::Webhook`]): the secrets
//! an event names are refreshed at once, without waiting for the timer.
//!
//! Secrets' expiry (`exp`) is followed: [`Live::status`] shows the nearest one (which setting,
//! secret and version, and when), the refresher tries a cycle shortly before it so that a
//! version rotated in time replaces the old one before it expires, and it warns through
//! `tracing` as an expiry nears and once it has passed. Event Grid's `SecretNearExpiry` and
//! `SecretExpired` events, pushed, show in the status too, without a request to Key Vault.

mod builder;
mod error;
mod expiry;
mod make;
mod push;
mod refresher;
mod reread;
mod schedule;
mod status;

use std::fmt;
use std::sync::Arc;

use arc_swap::{ArcSwap, Guard};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::DropGuard;

pub use self::builder::{LiveBuilder, Prepared};
pub use self::error::LiveError;
pub use self::status::{Change, Changes, ExpiryNotice, SecretVersion, Status};

use self::refresher::Reply;
use crate::{Resolved, Resolver};

/// Settings that follow secret rotation: the current snapshot of a `T`, kept fresh by a
/// background refresher. Cheap to clone (an `Arc`): put it in axum's `State` or actix's
/// `web::Data`. The refresher stops when the last clone is dropped. Its `Debug` holds no value.
pub struct Live<T> {
    handle: Arc<Handle<T>>,
}

/// What the clones of one `Live` share. The refresher holds none of it but the snapshot, so
/// that dropping the last `Live` drops the guard that stops it.
struct Handle<T> {
    current: Arc<ArcSwap<T>>,
    generation: watch::Receiver<u64>,
    status: watch::Receiver<Status>,
    asks: mpsc::Sender<Reply>,
    push: Arc<push::PushState>,
    _stop: DropGuard,
}

impl<T> Clone for Live<T> {
    fn clone(&self) -> Self {
        Self {
            handle: self.handle.clone(),
        }
    }
}

impl<T> fmt::Debug for Live<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = self.handle.status.borrow();
        f.debug_struct("Live")
            .field("generation", &status.generation)
            .field("consecutive_failures", &status.consecutive_failures)
            .finish_non_exhaustive()
    }
}

impl<T: Send + Sync + 'static> Live<T> {
    /// A builder for live settings: `settings` are the `(key, value)` pairs that may be
    /// references (an integration passes the leaves of its tree that pass
    /// [`may_be_reference`](crate::reference::may_be_reference); [`Outcome::index`](crate::Outcome::index)
    /// maps them back), `build` makes a `T` from their resolved secrets. Its error is shown
    /// redacted. See the [module](self) for an example.
    pub fn builder<K, V, E>(
        resolver: Resolver,
        settings: impl IntoIterator<Item = (K, V)>,
        build: impl Fn(&Resolved) -> Result<T, E> + Send + Sync + 'static,
    ) -> LiveBuilder<T>
    where
        K: Into<String>,
        V: Into<String>,
        E: fmt::Display,
    {
        LiveBuilder::new(Some(resolver), Prepared::new(settings, build))
    }

    /// A builder whose settings are read when it [`start`](LiveBuilder::start)s: `prepare`
    /// returns them with their build (or the error that ends the start, such as a settings file
    /// that does not parse). It resolves with [`Resolver::from_env`] unless
    /// [`resolver`](LiveBuilder::resolver) gives one; when no setting may be a reference it
    /// builds no resolver from the environment and contacts nothing. This is how the
    /// `kvref-config` and `kvref-figment` integrations make theirs. With
    /// [`reread_sources`](LiveBuilder::reread_sources), `prepare` is called again on every
    /// cycle.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use kvref::live::{Live, Prepared};
    /// let live = Live::prepared(|| {
    ///     let settings = [("pool", "8")]; // read from the app's files, for instance
    ///     Ok(Prepared::new(settings, move |_: &kvref::Resolved| settings[0].1.parse::<u32>()))
    /// })
    /// .start()
    /// .await?;
    /// assert_eq!(**live.load(), 8);
    /// # Ok::<(), kvref::live::LiveError>(()) }).unwrap();
    /// ```
    pub fn prepared(
        prepare: impl Fn() -> Result<Prepared<T>, LiveError> + Send + Sync + 'static,
    ) -> LiveBuilder<T> {
        LiveBuilder::later(prepare)
    }
}

impl<T> Live<T> {
    /// The current snapshot, lock-free, for a short read: do not hold it across an `.await`
    /// (use [`snapshot`](Self::snapshot) there).
    pub fn load(&self) -> Guard<Arc<T>> {
        self.handle.current.load()
    }

    /// The current snapshot as an `Arc`, to hold as long as needed (across `.await` too); a
    /// later swap does not change it.
    pub fn snapshot(&self) -> Arc<T> {
        self.handle.current.load_full()
    }

    /// A receiver of the snapshot's generation (0 for the first), which changes each time a new
    /// snapshot is swapped in. Once the refresher has stopped, `changed()` returns an error.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.handle.generation.clone()
    }

    /// A receiver of the [`Status`], which changes after every cycle, good or failed: for
    /// health reports that push. Once the refresher has stopped, `changed()` returns an error.
    pub fn status_updates(&self) -> watch::Receiver<Status> {
        self.handle.status.clone()
    }

    /// How the refresher is doing: the last success, the last error and since when cycles
    /// fail, the next attempt, and the secret versions in use.
    pub fn status(&self) -> Status {
        self.handle.status.borrow().clone()
    }

    /// Runs one refresh cycle now (after the one under way, if any) and says what changed:
    /// keys and versions, never values. On failure the last good snapshot stays, and the error
    /// is also in [`status`](Self::status). The timer starts again from this cycle.
    pub async fn refresh_now(&self) -> Result<Changes, LiveError> {
        let (reply, answer) = oneshot::channel();
        self.handle
            .asks
            .send(reply)
            .await
            .map_err(|_| LiveError::Stopped)?;
        answer.await.map_err(|_| LiveError::Stopped)?
    }
}
